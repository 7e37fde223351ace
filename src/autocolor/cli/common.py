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
    from autocolor.imagefile import SUPPORTED_SUFFIXES

    return frozenset(s.lower() for s in SUPPORTED_SUFFIXES)


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
) -> tuple[list[InputFile], list[tuple[str, str]]]:
    """Expand the command's INPUT arguments into image files.

    A file argument (or ``-``) is taken as is, whatever its suffix (reading it reports the
    problem if it is not an image); a missing path too, so that it fails with a clear message
    of its own. A folder contributes its files with a supported suffix, sorted, skipping
    hidden names, the ``exclude`` folders (an output folder inside an input folder) and, with
    ``skip_stem_suffix``, earlier outputs such as ``photo_color.jpg``.

    Returns:
        The inputs without duplicates, and ``(path, reason)`` for folders that could not be read.
    """
    suffixes = _supported_suffixes()
    found: list[InputFile] = []
    problems: list[tuple[str, str]] = []
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
            dirs[:] = sorted(
                d for d in dirs if not d.startswith(".") and not any(_is_within(here / d, e) for e in exclude)
            )
            if not recursive:
                dirs[:] = []
            for name in sorted(files):
                path = here / name
                if name.startswith(".") or path.suffix.lower() not in suffixes:
                    continue
                if skip_stem_suffix and path.stem.endswith(skip_stem_suffix):
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


def print_summary(results: Iterable[ItemResult], *, quiet: bool) -> None:
    """Every failure as ``input: reason`` (always), then ``N ok, N skipped, N failed``.

    A single input gets at most one line (its error, or why it was skipped); ``--quiet``
    keeps only the failure lines.
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
    line = f"autocolor: {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed"
    if counts["skipped"]:
        line += " (skipped: output exists; --overwrite to redo)"
    click.secho(line, err=True, fg="red" if counts["failed"] else None)
