"""Helpers shared by the subcommands: common options, error lines, input discovery, output
naming, progress and the end-of-batch report.

Nothing here imports torch or the image stack at import time, so ``autocolor CMD --help``
stays fast; the heavy modules are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

# The per-file vocabulary lives in the batch layer (executors share it); re-exported here
# so the subcommands import everything from one place.
from autocolor.batch.item import ensure_parent  # noqa: F401
from autocolor.batch.plan import STDIO, InputFile, plan_output  # noqa: F401
from autocolor.batch.results import ItemResult, failure_reason, one_line  # noqa: F401
from autocolor.errors import OutputError, UsageError

F = TypeVar("F", bound=Callable[..., Any])
#: Env var with the same effect as the hidden ``--random-weights`` flag (tests only).
RANDOM_WEIGHTS_ENV = "AUTOCOLOR_RANDOM_WEIGHTS"


# --------------------------------------------------------------------------- messages


def report_error(message: object) -> None:
    """Print ``autocolor: error: <message>`` in red on stderr."""
    click.secho(f"autocolor: error: {one_line(message)}", fg="red", err=True)


def debug_enabled() -> bool:
    """Whether ``autocolor --debug`` (or ``AUTOCOLOR_DEBUG``) asked for tracebacks."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return bool(os.environ.get("AUTOCOLOR_DEBUG")) or bool(
        root is not None and getattr(root.command, "debug", False)
    )


def quiet_decoders() -> None:
    """Unless ``--debug``: no libtiff lines on stderr for damaged TIFFs (each file that fails
    still gets its one error line). Called by the commands that read many images."""
    if not debug_enabled():
        from autocolor.imageformats import silence_libtiff

        silence_libtiff()


# --------------------------------------------------------------------------- options


def model_options(f: F) -> F:
    """``--model``, ``--device``, ``--seed``, ``--offline`` and the hidden ``--random-weights``."""
    decorators = [
        click.option(
            "-m",
            "--model",
            metavar="NAME",
            default=None,
            help="Model to use (`autocolor fetch-weights --list` shows them); default: the bundled model.",
        ),
        click.option(
            "--device",
            default="auto",
            show_default=True,
            metavar="auto|cpu|cuda[:N]",
            help="Where to run; auto = the first CUDA GPU if any, else the CPU.",
        ),
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            default=None,
            help="Seed for sampling decoders; the same seed gives the same colours.",
        ),
        click.option("--offline", is_flag=True, help="Never download weights; use bundled or cached ones."),
        # Random weights make meaningless colours: this exists so tests can run the whole
        # pipeline with tiny models that have no published weights. Hidden from --help.
        click.option("--random-weights", is_flag=True, hidden=True, envvar=RANDOM_WEIGHTS_ENV),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def gcp_options(f: F) -> F:
    """``--class``, ``--direction`` and ``--strength``: options of GCP models only."""
    decorators = [
        click.option("--class", "class_ref", metavar="ID|NAME", default=None,
                     help="GCP only: the ImageNet class to colour as (default: predicted)."),  # fmt: skip
        click.option("--direction", type=click.IntRange(min=0), default=None,
                     help="GCP only: which latent direction of the deformator to move along."),  # fmt: skip
        click.option("--strength", type=float, default=None, help="GCP only: how far to move along it."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def _parse_pixels(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    text = value.replace("_", "").replace(",", "").strip().upper()
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    if not digits.isdigit() or int(digits) * scale <= 0:
        raise click.BadParameter(f"{value!r} is not a positive pixel count (e.g. 50000000 or 50M)")
    return int(digits) * scale


def max_pixels_option(f: F) -> F:
    """``--max-pixels N``: refuse images whose header claims more pixels (decompression bombs)."""
    return click.option(
        "--max-pixels",
        metavar="N",
        default=None,
        callback=_parse_pixels,
        envvar="AUTOCOLOR_MAX_PIXELS",
        help="Refuse images whose header claims more than N pixels (width x height; 50M = 50 million), "
        "before decoding them. Default: sized to this machine's memory.",
    )(f)


def output_options(f: F) -> F:
    """``--overwrite``, ``--json``, ``--recursive/--no-recursive`` and ``--quiet``."""
    decorators = [
        click.option("--overwrite", is_flag=True, help="Replace existing outputs (never an input)."),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print one JSON line per image on stdout (input, output, status, error, seconds, ...).",
        ),
        click.option(
            "--recursive/--no-recursive",
            default=True,
            show_default=True,
            help="Descend into sub-folders of folder inputs.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary (failures still print)."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


# --------------------------------------------------------------------------- inputs


def _supported_suffixes() -> frozenset[str]:
    from autocolor.imageformats import readable_suffixes

    return readable_suffixes()


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def discover_inputs(
    arguments: Sequence[str],
    *,
    recursive: bool = True,
    exclude: Sequence[Path] = (),
    skip_stem_suffix: str | None = None,
    passed_over: list[tuple[str, str]] | None = None,
) -> tuple[list[InputFile], list[tuple[str, str]]]:
    """Expand the command's INPUT arguments into image files.

    A file argument (or ``-``) is taken as is, whatever its suffix (reading it reports the
    problem if it is not an image); a missing path too, so that it fails with a clear message
    of its own. A folder contributes its files in a format Pillow decodes (by suffix), sorted,
    skipping hidden names, the ``exclude`` folders (an output folder inside an input folder) and,
    with ``skip_stem_suffix``, earlier outputs such as ``photo_color.jpg``.

    Args:
        passed_over: if given, receives ``(path, reason)`` for every file (and hidden folder)
            of a folder argument that is not taken, so the caller can report it; nothing in a
            folder is passed over in silence.

    Returns:
        The inputs without duplicates, and ``(path, reason)`` for folders that could not be read.
    """
    from autocolor.imageformats import why_not_taken
    from autocolor.video import VIDEO_SUFFIXES

    found: list[InputFile] = []
    problems: list[tuple[str, str]] = []
    left: list[tuple[str, str]] = passed_over if passed_over is not None else []
    seen: set[str] = set()

    def add(item: InputFile) -> None:
        key = item.path if item.path == STDIO else os.path.realpath(item.path)
        if key not in seen:
            seen.add(key)
            found.append(item)

    for argument in arguments:
        if argument == STDIO or not os.path.isdir(argument):
            add(InputFile(argument))
            continue
        root = Path(argument)

        def on_error(error: OSError, _root: Path = root) -> None:
            problems.append((str(error.filename or _root), f"cannot read folder: {error.strerror or error}"))

        for folder, dirs, files in os.walk(root, onerror=on_error):
            here = Path(folder)
            mine = [d for d in dirs if not any(_is_within(here / d, e) for e in exclude)]
            left.extend((str(here / d), "hidden folder, not searched") for d in sorted(mine) if d.startswith("."))
            dirs[:] = sorted(d for d in mine if not d.startswith("."))
            if not recursive:
                left.extend((str(here / d), "sub-folder, not searched (--no-recursive)") for d in dirs)
                dirs[:] = []
            for name in sorted(files):
                path = here / name
                reason = why_not_taken(name)
                if reason is not None and path.suffix.lower() in VIDEO_SUFFIXES and not name.startswith("."):
                    reason = "a video: give video files one at a time (autocolor colorize FILE -o OUT)"
                if reason is None and skip_stem_suffix and path.stem.endswith(skip_stem_suffix):
                    reason = f"looks like an earlier output (*{skip_stem_suffix}.*)"
                if reason is not None:
                    left.append((str(path), reason))
                    continue
                add(InputFile(str(path), root))
    return found, problems


# --------------------------------------------------------------------------- outputs


def output_is_folder(output: str | None, inputs: Sequence[InputFile], arguments: Sequence[str]) -> bool:
    """Decide whether ``-o`` names a folder; raise :class:`UsageError` where it cannot work.

    ``-o`` is a folder when it is an existing folder, ends with a slash, or there are several
    inputs or a folder input (then it must not be an existing file or look like an image file).
    """
    if output is None:
        return False
    several = len(inputs) > 1 or any(a != STDIO and os.path.isdir(a) for a in arguments)
    if output == STDIO:
        if several:
            raise UsageError("-o - (stdout) takes exactly one input image")
        return False
    path = Path(output)
    if path.is_dir() or output.endswith(("/", os.sep)):
        return True
    if not several:
        return False
    if path.exists():
        raise UsageError(f"-o {output}: several inputs need -o to be a folder, and this is a file")
    if path.suffix.lower() in _supported_suffixes():
        raise UsageError(f"-o {output}: several inputs need -o to be a folder, not an image file name")
    return True


def check_output_folder(folder: str) -> None:
    """Fail early, with one clear line, when an existing output folder cannot be written."""
    path = Path(folder)
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(folder, "output folder is not writable")


def refuse_terminal_stdout() -> None:
    """Image bytes on a terminal are garbage: ask for -o instead."""
    if sys.stdout.isatty():
        raise UsageError("refusing to write image data to a terminal; use -o FILE or a pipe")


# --------------------------------------------------------------------------- results


class Progress:
    """A rich progress bar on stderr, or nothing (``--quiet``, ``--json``, not a terminal)."""

    def __init__(self, total: int, *, enabled: bool, description: str = "colorizing") -> None:
        self._bar: Any = None
        self._task: Any = None
        if not enabled or total == 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[name]}", style="dim"),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task(description, total=total, name="")

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def working_on(self, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, name=name)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, steps)


def passed_over_results(passed_over: Iterable[tuple[str, str]]) -> list[ItemResult]:
    """``skipped`` results (no output) for the files a folder walk did not take."""
    return [ItemResult(path, None, "skipped", reason) for path, reason in passed_over]


def print_summary(results: Iterable[ItemResult], *, quiet: bool) -> None:
    """Every failure as ``input: reason`` (always), then ``N ok, N skipped, N failed``.

    Files that were not taken at all (not an image format, hidden, an earlier output: their
    result has no output) are listed one per line with the reason; skips because the output
    exists are only counted. A single input gets at most one line (its error, or why it was
    skipped); ``--quiet`` keeps only the failure lines.
    """
    results = list(results)
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "skipped", "failed")}
    for result in results:
        if result.status == "failed":
            report_error(f"{result.input}: {result.error}")
    if quiet or (len(results) == 1 and results[0].status != "skipped"):
        return
    if len(results) == 1:
        click.echo(f"autocolor: skipped {results[0].input}: {results[0].error}", err=True)
        return
    skipped = [r for r in results if r.status == "skipped"]
    not_taken = [r for r in skipped if r.output is None]
    for result in not_taken:
        click.echo(f"autocolor: skipped {result.input}: {result.error}", err=True)
    line = f"autocolor: {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed"
    not_started = sum(str(r.error).startswith("not started") for r in skipped)
    elsewhere = sum("another autocolor process" in str(r.error) for r in skipped)
    exist = len(skipped) - len(not_taken) - not_started - elsewhere
    notes = [f"{exist} output(s) exist; --overwrite to redo"] if exist else []
    notes += [f"{elsewhere} done by another autocolor process"] if elsewhere else []
    notes += [f"{not_started} not started"] if not_started else []
    notes += [f"{len(not_taken)} file(s) not taken, listed above"] if not_taken else []
    if notes:
        line += f" ({'; '.join(notes)})"
    click.secho(line, err=True, fg="red" if counts["failed"] else None)
