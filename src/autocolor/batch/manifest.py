"""The run manifest: one JSON line per input as it finishes, durable, resumable, mergeable.

A line (all keys always present; ``null`` where unknown)::

    {"input": "scans/1931/a.tif", "key": "1931/a.tif", "output": "colored/1931/a.tif",
     "status": "ok", "error": null, "model": "cic.lite", "weights_sha256": "3664d1...",
     "seconds": 0.8312, "width": 3024, "height": 4032,
     "finished": "2026-12-03T17:02:11.284Z", "host": "node17"}

``status`` is ``"ok"`` (written now), ``"skipped"`` (the output already existed; nothing was
written) or ``"failed"`` (``error`` says why). ``key`` is the input's partition key
(:func:`autocolor.batch.shard.input_key`): manifests from different machines or mount points
are matched on it. ``seconds`` is wall time for that file; ``weights_sha256`` the pinned hash of
the weights used (:func:`weights_sha256`).

Durability: each line is one ``write`` on a file opened with ``O_APPEND``, then ``fsync``, so a
job killed at any moment loses at most the line in flight. A torn last line (a kill mid-write)
is sealed with a newline when the manifest is opened again and is skipped, and counted, when
read. Several processes may append to one manifest (whole lines do not interleave on a local
file system), but one manifest per shard is the simple, safe layout on network file systems.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from autocolor.errors import OutputError, UsageError

__all__ = [
    "FIELDS",
    "ManifestRead",
    "ManifestSink",
    "ManifestWriter",
    "Resume",
    "ResultLike",
    "manifest_record",
    "drop_done",
    "job_keys",
    "read_manifest",
    "record_key",
    "weights_sha256",
]

#: Keys of every manifest line, in the order they are written.
FIELDS = (
    "input", "key", "output", "status", "error", "model", "weights_sha256",
    "seconds", "width", "height", "finished", "host",
)  # fmt: skip
#: Statuses that mean "nothing left to do for this input".
DONE_STATUSES = frozenset({"ok", "skipped"})


class ResultLike(Protocol):
    """What a manifest line is made from: the per-file result of any executor."""

    input: str
    output: str | None
    status: str
    error: str | None
    seconds: float
    width: int | None
    height: int | None
    model: str | None


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def manifest_record(result: ResultLike, *, key: str, weights_sha256: str | None) -> dict[str, Any]:
    """The manifest line (as a dict, :data:`FIELDS` order) of one finished input."""
    return {
        "input": result.input,
        "key": key,
        "output": result.output,
        "status": result.status,
        "error": result.error,
        "model": result.model,
        "weights_sha256": weights_sha256,
        "seconds": round(float(result.seconds), 4),
        "width": result.width,
        "height": result.height,
        "finished": _utc_now(),
        "host": socket.gethostname(),
    }


class ManifestWriter:
    """Appends manifest lines, each flushed and fsynced before :meth:`write` returns.

    Use as a context manager. Opening creates the file (and its folder) if needed and seals a
    torn last line left by a killed run, so the next line starts on a line of its own.

    Raises:
        OutputError: the manifest cannot be created or written.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(self.path, f"cannot open manifest: {exc.strerror or exc}") from exc
        try:
            if not _ends_with_newline(self.path):
                self._append(b"\n")
        except BaseException:
            self.close()
            raise

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as a JSON line and make it durable (flush + fsync)."""
        line = json.dumps(dict(record), ensure_ascii=False, allow_nan=False) + "\n"
        self._append(line.encode("utf-8", "surrogateescape"))

    def _append(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"manifest {self.path} is closed")
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked (signals, huge lines)
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            raise OutputError(self.path, f"cannot write manifest: {exc.strerror or exc}") from exc

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _ends_with_newline(path: Path) -> bool:
    """True for an empty file or one whose last byte is a newline."""
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        if file.tell() == 0:
            return True
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


@dataclass
class ManifestRead:
    """The records of one or more manifests, in file order, and the lines that were not records.

    ``bad_lines`` holds ``(file, line number)`` of lines that are not a JSON object with
    ``input`` and ``status``: normally the one torn line of a killed run.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[tuple[str, int]] = field(default_factory=list)

    def extend(self, other: ManifestRead) -> None:
        self.records.extend(other.records)
        self.bad_lines.extend(other.bad_lines)


def read_manifest(path: str | os.PathLike[str]) -> ManifestRead:
    """Parse a manifest, tolerating torn or garbled lines (counted in ``bad_lines``).

    Raises:
        UsageError: the file cannot be read.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"manifest {path}: cannot read ({exc.strerror or exc})") from exc
    read = ManifestRead()
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        record = _parse_line(raw)
        if record is None:
            read.bad_lines.append((str(path), number))
        else:
            read.records.append(record)
    return read


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw.decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("input"), str):
        return None
    if not isinstance(record.get("status"), str):
        return None
    record.setdefault("key", record["input"])
    return record


def record_key(record: Mapping[str, Any]) -> str:
    """The key a record is matched on (its ``key``, else its ``input`` for hand-made lines)."""
    return str(record.get("key") or record["input"])


class Resume:
    """What an earlier run, recorded in a manifest, already did: decides what a rerun skips.

    An input is *done* when its last record says ``ok`` or ``skipped`` for the same output
    path and the same model, and that output still exists; anything else (failed, never
    finished, output deleted, another model or output) is run again.
    """

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self._last: dict[str, Mapping[str, Any]] = {}
        for record in records:
            self._last[record_key(record)] = record

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Resume:
        """The state recorded in ``path``; an absent file means nothing is done yet."""
        if not Path(path).exists():
            return cls(())
        return cls(read_manifest(path).records)

    def __len__(self) -> int:
        return len(self._last)

    def done(self, key: str, output: str, model: str | None) -> bool:
        """Whether the input ``key`` was finished into ``output`` by ``model`` and the output is there."""
        record = self._last.get(key)
        if record is None or record.get("status") not in DONE_STATUSES:
            return False
        written = record.get("output")
        if not isinstance(written, str) or os.path.normpath(written) != os.path.normpath(output):
            return False
        if model is not None and record.get("model") not in (None, model):
            return False
        return os.path.exists(output)

    def failed_before(self, key: str) -> bool:
        """Whether the last record of ``key`` is a failure (it is retried)."""
        record = self._last.get(key)
        return record is not None and record.get("status") == "failed"


def weights_sha256(model: str, *, pretrained: bool = True) -> str | None:
    """The sha256 of the weights ``model`` runs with, as pinned (or recorded on first import).

    It is the hash weights.toml pins for the original file (bundled models included), or for
    models whose authors published none, the hash recorded when they were first imported. A
    model whose weights are several files (GCP) gets the sha256 of the lines
    ``"<part> <sha256>\\n"`` of its parts in manifest order. ``None`` for random weights
    (``pretrained=False``), for an unpinned model not imported yet, or for a model that has no
    weights entry at all.
    """
    if not pretrained:
        return None
    from autocolor.errors import UnknownModelError
    from autocolor.weights import cache
    from autocolor.weights.manifest import spec

    try:
        entry = spec(model)
    except UnknownModelError:
        return None
    if entry.parts:
        hashes = [weights_sha256(part) for part in entry.parts]
        if any(h is None for h in hashes):
            return None
        joined = "".join(f"{part} {h}\n" for part, h in zip(entry.parts, hashes, strict=True))
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()
    return entry.sha256 or cache.recorded_sha256(entry.name)



class ManifestSink:
    """Writes the manifest line of each finished job: ``sink(result)`` as an ``on_result`` hook.

    Args:
        writer: an open :class:`ManifestWriter`.
        keys: input path -> partition key, for the planned jobs (other inputs, such as
            unreadable folders, get the key of their path alone).
        weights_sha256: the hash written on every line, unless a call gives its own (a Ray
            actor reports the hash of the weights it loaded).
    """

    def __init__(self, writer: ManifestWriter, keys: Mapping[str, str], weights_sha256: str | None) -> None:
        self.writer = writer
        self.keys = dict(keys)
        self.weights_sha256 = weights_sha256
        self.written = 0

    def __call__(self, result: ResultLike, weights_sha256: str | None = None) -> None:
        from autocolor.batch.shard import input_key

        key = self.keys.get(result.input) or input_key(result.input, None)
        sha = weights_sha256 if weights_sha256 is not None else self.weights_sha256
        self.writer.write(manifest_record(result, key=key, weights_sha256=sha))
        self.written += 1


def job_keys(jobs: Iterable[Any]) -> dict[str, str]:
    """Input path -> partition key of planned jobs (:class:`autocolor.batch.plan.Job`)."""
    from autocolor.batch.shard import input_key

    return {job.item.path: input_key(job.item.path, job.item.root) for job in jobs}


def drop_done(jobs: Sequence[Any], manifest: str | os.PathLike[str], model: str | None) -> tuple[list[Any], int]:
    """The jobs a rerun still has to report, and how many the manifest says are done.

    A job is dropped when ``manifest`` records it as done into the same output by the same
    model and that output still exists (:meth:`Resume.done`); failed and unfinished inputs
    stay (and are retried). Jobs refused when planned (an output that is an input) stay too.
    """
    resume = Resume.from_file(manifest)
    if not len(resume):
        return list(jobs), 0
    keys = job_keys(jobs)
    kept = [
        job
        for job in jobs
        if not (
            (job.result is None or job.result.status == "skipped")
            and resume.done(keys[job.item.path], job.output, model)
        )
    ]
    return kept, len(jobs) - len(kept)
