"""What the subcommands print: error lines, ``--debug``, the progress bar and the end-of-batch report.

Options are :mod:`autocolor.cli.options`, input discovery and output checks
:mod:`autocolor.cli.inputs`; running a batch is :mod:`autocolor.batch`. Nothing here imports
torch or the image stack at import time, so ``autocolor CMD --help`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import click

# The per-file vocabulary lives in the batch layer (executors share it); re-exported here
# so the subcommands take what they report from one place.
from autocolor.batch.item import ensure_parent  # noqa: F401
from autocolor.batch.plan import STDIO, InputFile, plan_output  # noqa: F401
from autocolor.batch.results import ItemResult, failure_reason, one_line  # noqa: F401


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


# --------------------------------------------------------------------------- results


def terminal_progress(fields: Sequence[tuple[str, str]], *, eta_after: int) -> Any:
    """A transient rich progress bar on stderr, or ``None`` when stderr is not a terminal.

    Columns: the task's description, the bar, done/total, then ``fields`` (rich text templates
    with their style, e.g. ``("{task.fields[fps]} frames/s", "")``), the time remaining placed
    after the first ``eta_after`` of them. Rich is imported only here, when a bar is wanted.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    texts: list[Any] = [TextColumn(template, style=style) for template, style in fields]
    texts.insert(eta_after, TimeRemainingColumn())
    return RichProgress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *texts, console=console, transient=True
    )


class Progress:
    """A rich progress bar on stderr, or nothing (``--quiet``, ``--json``, not a terminal)."""

    def __init__(self, total: int, *, enabled: bool, description: str = "colorizing") -> None:
        self._bar: Any = None
        self._task: Any = None
        if not enabled or total == 0:
            return
        self._bar = terminal_progress([("{task.fields[name]}", "dim")], eta_after=0)
        if self._bar is not None:
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
