"""Claims on output files, so that several processes can share one output folder.

Before a batch starts work on a file it takes the claim on the file's output: an exclusive,
non-blocking ``flock`` on ``.<name>.lock`` beside it. Two ``autocolor colorize`` runs over the
same folder into the same output folder then split the files between them: each output is
written once, by the run that holds its claim; the other run reports it as skipped. The kernel
drops a claim when its process dies (even by ``kill -9``), so a claim can never go stale, and
a half-written temporary file (``.<name>.<pid>.XXXXXXXX.tmp``, see
:func:`autocolor.imagefile.atomic_write`) is removed by :func:`sweep` once its claim is free and
its writer process is gone (writers that take no claim, e.g. ``autocolor sample``, are still
alive while their temporary file exists); so are unused lock files.

Without ``flock`` (not POSIX, or a file system without locks) claims are a no-op: the atomic
rename still guarantees that no reader ever sees a half-written output.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.batch.plan import Job
    from autocolor.batch.results import ItemResult

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["Claim", "ClaimedElsewhere", "claim", "claim_job", "lock_path", "sweep", "sweep_outputs"]

#: Reason of a file skipped because another process has it (the other run reports it).
BUSY = "being colorized by another autocolor process"
#: Reason of a file skipped because another process wrote its output while this run was going.
DONE_ELSEWHERE = "written by another autocolor process during this run"

_LEFTOVER = re.compile(r"^\.(?P<name>.+?)(?:\.lock|\.(?P<pid>\d+)\.[A-Za-z0-9_]{8}\.tmp)$")


class ClaimedElsewhere(Exception):
    """Another live process holds the claim on this output."""


def lock_path(output: Path) -> Path:
    """``dir/.name.lock`` for ``dir/name`` (hidden: never taken for an input image)."""
    return output.with_name(f".{output.name}.lock")


class Claim:
    """A held claim on one output; :meth:`release` (or ``with``) gives it back."""

    def __init__(self, output: Path, fd: int | None) -> None:
        self.output = output
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        # Unlink while still holding the lock: a process that opened the old file waits for
        # nothing (non-blocking) and one that comes later creates a fresh lock file.
        try:
            os.unlink(lock_path(self.output))
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim(output: str | os.PathLike[str]) -> Claim:
    """Take the claim on ``output`` without waiting.

    Raises:
        ClaimedElsewhere: another running process holds it.
        OSError: the lock file cannot be created (e.g. a read-only folder): the output could
            not be written either.
    """
    path = Path(output)
    if fcntl is None:
        return Claim(path, None)
    for _attempt in range(100):
        fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ClaimedElsewhere(str(path)) from None
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                return Claim(path, None)  # no locks on this file system: rely on atomic renames
            raise
        # The holder before us may have unlinked the file after we opened it: a lock on an
        # unlinked file claims nothing, so check that the name still leads to our file.
        try:
            if os.fstat(fd).st_ino == os.stat(lock_path(path)).st_ino:
                return Claim(path, fd)
        except FileNotFoundError:
            pass
        os.close(fd)
    raise ClaimedElsewhere(str(path))  # pragma: no cover - 100 lost races in a row


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


def sweep(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete what dead processes left in ``directory``: temporary files and lock files of
    outputs whose claim is free. Returns the paths removed; never raises."""
    folder = Path(directory)
    try:
        names = [n for n in os.listdir(folder) if n.startswith(".")]
    except OSError:
        return []
    by_output: dict[str, list[str]] = {}
    for name in names:
        match = _LEFTOVER.match(name)
        if match and not (match.group("pid") and _alive(int(match.group("pid")))):
            by_output.setdefault(match.group("name"), []).append(name)
    removed: list[Path] = []
    for output, leftovers in by_output.items():
        try:
            held = claim(folder / output)
        except (ClaimedElsewhere, OSError):
            continue  # being written right now, or not ours to touch
        with held:
            for name in leftovers:
                if name.endswith(".tmp"):
                    try:
                        os.unlink(folder / name)
                        removed.append(folder / name)
                    except OSError:
                        pass
        removed.extend(folder / n for n in leftovers if n.endswith(".lock"))  # released above
    return removed


def claim_job(job: Job, since: float) -> tuple[Claim | None, ItemResult | None]:
    """Take the claim on ``job``'s output before work on it starts.

    Returns ``(claim, None)`` to go ahead (release the claim once the job is reported;
    ``claim`` is None for stdout), or ``(None, result)`` for a job to report instead of
    running: skipped because another process is on it or wrote its output after ``since``
    (a ``time.time()`` taken when this run started), or failed because its folder cannot be
    made.
    """
    from autocolor.batch.item import ensure_parent
    from autocolor.batch.plan import STDIO
    from autocolor.batch.results import ItemResult, failure_reason
    from autocolor.errors import OutputError

    if job.output == STDIO:
        return None, None
    try:
        ensure_parent(job.output)  # mirrored trees: the lock file lives beside the output
        held = claim(job.output)
    except ClaimedElsewhere:
        return None, ItemResult(job.item.path, job.output, "skipped", BUSY)
    except OutputError as err:
        return None, ItemResult(job.item.path, job.output, "failed", failure_reason(err, job.item.path))
    except OSError:
        return None, None  # e.g. a read-only folder: the write fails and says so itself
    try:
        written_meanwhile = os.stat(job.output).st_mtime >= since
    except OSError:
        written_meanwhile = False
    if written_meanwhile:
        held.release()
        return None, ItemResult(job.item.path, job.output, "skipped", DONE_ELSEWHERE)
    return held, None


def sweep_outputs(outputs: Iterable[str]) -> list[Path]:
    """:func:`sweep` every existing folder that ``outputs`` go to (each once)."""
    removed: list[Path] = []
    for folder in sorted({os.path.dirname(os.path.abspath(o)) for o in outputs if o != "-"}):
        removed += sweep(folder)
    return removed
