"""SIGINT / SIGTERM during a batch: finish the files in flight, report, exit 128 + signal.

A scheduler stopping a job (SIGTERM) or a user pressing Ctrl-C (SIGINT) should not cost the
work in flight nor leave temporary files: the first signal only asks the batch to start no
further file (``should_stop``); the files already admitted are finished and written, the
summary is printed with the files not started, and the command exits with 130 (SIGINT) or 143
(SIGTERM), as shells report a process ended by that signal. A second signal aborts at once
(``KeyboardInterrupt``; a write in progress then removes its temporary file).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.batch.plan import Job
    from autocolor.batch.results import ItemResult

#: The signals that ask a batch to stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    """Context manager that turns SIGINT/SIGTERM into a stop request; callable as ``should_stop``.

    Outside the main thread (where Python cannot set handlers), or with ``enabled=False`` (a
    runner that cannot stop between files, e.g. Ray), it does nothing: signals act as usual.
    """

    def __init__(self, *, quiet: bool = False, enabled: bool = True) -> None:
        self.signum: int | None = None
        self._quiet = quiet
        self._enabled = enabled
        self._saved: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        """``"SIGINT"`` / ``"SIGTERM"`` once stopped, else ``""``."""
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """128 + the signal number (130 for SIGINT, 143 for SIGTERM); 0 when not stopped."""
        return 128 + self.signum if self.signum is not None else 0

    @property
    def reason(self) -> str:
        """The reason given for the files not started."""
        return f"not started: interrupted by {self.name}"

    def report(self, left: Sequence[ItemResult]) -> None:
        """The closing line: which signal, how many files were not started, how to finish."""
        click.echo(
            f"autocolor: interrupted by {self.name}: {len(left)} file(s) not started; "
            "run the same command again to do them",
            err=True,
        )

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # the second signal: stop now
        self.signum = signum
        if not self._quiet:
            click.echo(
                f"autocolor: {signal.Signals(signum).name}: finishing the files in progress, "
                "then stopping (again to abort now)",
                err=True,
            )

    def __enter__(self) -> StopOnSignal:
        if self._enabled and threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()


def not_started(jobs: Iterable[Job], stop: StopOnSignal) -> list[ItemResult]:
    """``skipped`` results for the jobs a stopped batch never started (none if not stopped)."""
    from autocolor.batch.results import ItemResult

    if not stop():
        return []
    left = []
    for job in jobs:
        if job.result is None:
            job.result = ItemResult(job.item.path, job.output, "skipped", stop.reason)
            left.append(job.result)
    return left
