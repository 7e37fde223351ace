"""Planning a batch: input files -> :class:`Job` (input, output path, or a decision made up front).

Everything here is decided before the model loads and touches no pixels: the output path of
every input (beside it, mirrored under an output folder, or stdout), and which inputs are not
run at all (the output exists and ``overwrite`` is off; the output would be an input; two
inputs claim the same output). Executors (the in-process runner, shards, Ray) all start from
the same list of jobs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autocolor.batch.results import ItemResult, failure_reason
from autocolor.errors import OutputError

if TYPE_CHECKING:  # pragma: no cover - autocolor.hints imports torch
    from autocolor.hints import Hint

#: ``"-"``: stdin as an input, stdout as an output.
STDIO = "-"
#: Default tag of outputs written beside their input: ``photo.jpg`` -> ``photo_color.jpg``.
OUTPUT_TAG = "_color"


@dataclass(frozen=True)
class InputFile:
    """One input image: ``path`` as given or found (``"-"`` = stdin), and for files found in a
    folder argument that folder (``root``), so outputs can mirror the tree."""

    path: str
    root: Path | None = None

    @property
    def relative(self) -> Path:
        """Path below its folder argument, or just the file name for a file argument."""
        if self.root is None:
            return Path(Path(self.path).name or "stdin")
        return Path(self.path).relative_to(self.root)


@dataclass
class Job:
    """One planned file of a batch.

    Attributes:
        item: the input.
        output: the output path, or ``"-"`` for stdout.
        result: set when decided before running (skipped / refused) or once run; ``None`` means
            still to do.
        hints: colour hints for this photo (points in its pixels), empty for none.
        max_pixels: refuse the input when its header claims more pixels (None: the machine's
            default, :func:`autocolor.imageformats.default_max_pixels`).
    """

    item: InputFile
    output: str
    result: ItemResult | None = None
    hints: tuple[Hint, ...] = ()
    max_pixels: int | None = None


def plan_output(item: InputFile, output: str | None, *, folder: bool, format: str | None, tag: str) -> str:
    """The output path of ``item``.

    No ``output``: ``<stem><tag><ext>`` beside the input (stdout for stdin). ``output`` a
    folder: the input's path below its folder argument (or its name), mirrored under it, with
    the suffix of ``format`` when given. Otherwise ``output`` itself (a file or ``"-"``).

    Raises:
        UsageError: stdin cannot go to a folder; ``format`` is unknown.
    """
    from autocolor.errors import UsageError
    from autocolor.outputnames import output_suffix

    if output is None:
        if item.path == STDIO:
            return STDIO
        source = Path(item.path)
        return str(source.with_name(f"{source.stem}{tag}{output_suffix(source, format)}"))
    if not folder:
        return output
    if item.path == STDIO:
        raise UsageError("stdin input needs -o FILE or -o - (stdout), not a folder")
    relative = item.relative
    return str(Path(output) / relative.with_suffix(output_suffix(relative, format)))


def plan_jobs(
    items: list[InputFile],
    output: str | None,
    *,
    folder: bool,
    format: str | None,
    overwrite: bool,
    tag: str = OUTPUT_TAG,
) -> list[Job]:
    """A :class:`Job` per input, in input order; skips and refusals are decided here.

    A job gets ``result`` set (and is then not run) when its output exists and ``overwrite``
    is off (``"skipped"``), when its output is an input of the batch (``"failed"``: an input
    is never overwritten, even with ``overwrite``), or when an earlier job already claimed the
    same output (``"failed"``).
    """
    from autocolor.imagefile import same_file

    jobs: list[Job] = []
    claimed: dict[str, str] = {}
    inputs = {os.path.realpath(item.path) for item in items if item.path != STDIO}
    for item in items:
        target = plan_output(item, output, folder=folder, format=format, tag=tag)
        job = Job(item, target)
        jobs.append(job)
        if target == STDIO:
            continue
        key = os.path.realpath(target)
        if key in inputs or (item.path != STDIO and same_file(item.path, target)):
            which = "the input file" if same_file(item.path, target) else "another input"
            refusal = OutputError(target, f"is {which}; refusing to overwrite an input")
            job.result = ItemResult(item.path, target, "failed", failure_reason(refusal, item.path))
        elif key in claimed:
            reason = f"output {target} is also the output of {claimed[key]}"
            job.result = ItemResult(item.path, target, "failed", reason)
        elif Path(target).exists() and not overwrite:
            job.result = ItemResult(item.path, target, "skipped", f"{target} exists (use --overwrite)")
        claimed.setdefault(key, item.path)
    return jobs
