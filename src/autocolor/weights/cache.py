"""The weights cache on disk: where files live, hashing, atomic writes, small JSON records.

Layout of :func:`cache_dir`::

    <cache>/<name>.safetensors          converted, verified weights
    <cache>/<name>.safetensors.json     sidecar: source sha256, converted sha256, timestamp
    <cache>/downloads/<name>.part       an interrupted download, resumed with HTTP Range
    <cache>/downloads/<name>.lock       held while one process fetches <name>
    <cache>/recorded_sha256.json        hashes recorded on first use where none is published
    <cache>/bundled_verified.json       bundled files already hashed, keyed by mtime + size

Every file is written to a temporary name beside its target and moved into place with
``os.replace``, so a crash never leaves a half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_writer",
    "bundled_hash_known",
    "cache_dir",
    "cached_path",
    "download_path",
    "file_sha256",
    "model_lock",
    "read_json",
    "record_sha256",
    "recorded_sha256",
    "remember_bundled_hash",
    "sidecar_path",
    "utc_now",
    "write_json",
]

_CHUNK = 1 << 20  # 1 MiB: large enough for hashing speed, small enough for memory


def cache_dir() -> Path:
    """``$AUTOCOLOR_HOME``, else ``$XDG_CACHE_HOME/autocolor``, else ``~/.cache/autocolor``.

    Read on every call (not at import) so that tests and long-lived processes can change it.
    The directory is created by the writers, not here.
    """
    home = os.environ.get("AUTOCOLOR_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "autocolor"
    return Path.home() / ".cache" / "autocolor"


def cached_path(name: str) -> Path:
    """Where the converted safetensors file of model ``name`` lives."""
    return cache_dir() / f"{name}.safetensors"


def sidecar_path(name: str) -> Path:
    """JSON record beside :func:`cached_path` (what it was converted from, and its hash)."""
    return cache_dir() / f"{name}.safetensors.json"


def download_path(name: str) -> Path:
    """Partial download of the original file; kept across runs so downloads can resume."""
    return cache_dir() / "downloads" / f"{name}.part"


@contextmanager
def model_lock(name: str) -> Iterator[None]:
    """Exclusive inter-process lock for fetching ``name`` (POSIX ``flock``; no-op elsewhere).

    Several processes may ask for the same weights at once (e.g. every rank of a torchrun
    job): one downloads, the others wait and then find the file in the cache.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, the hash check still guards
        yield
        return
    lock = cache_dir() / "downloads" / f"{name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def file_sha256(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Lower-case hex sha256 of a file, streamed in 1 MiB chunks; ``progress(n)`` per chunk."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


@contextmanager
def atomic_writer(target: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """Yield ``(file, temp_path)`` opened for binary writing; on success move it to ``target``.

    The temporary file sits in the target's directory (same file system, so ``os.replace`` is
    atomic) and is removed if the body raises. Callers that write through another API (e.g.
    ``safetensors.torch.save_file``) may ignore the handle and write to ``temp_path``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh, tmp
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(target: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON atomically."""
    with atomic_writer(target) as (fh, _):
        fh.write(json.dumps(data, indent=2, sort_keys=True).encode("utf-8") + b"\n")


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` if it is missing or unreadable (never raises)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def utc_now() -> str:
    """ISO 8601 UTC timestamp with seconds, for sidecars and records."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- hashes recorded on first use (models whose authors published no sha256) ---------------


def _records_path() -> Path:
    return cache_dir() / "recorded_sha256.json"


def recorded_sha256(name: str) -> str | None:
    """The sha256 recorded for ``name`` on its first verified import, if any."""
    entry = (read_json(_records_path()) or {}).get(name)
    return entry.get("sha256") if isinstance(entry, dict) else None


def record_sha256(name: str, sha256: str, size: int, origin: str) -> None:
    """Remember the hash of the first verified original file of ``name``."""
    records = read_json(_records_path()) or {}
    records[name] = {"sha256": sha256, "bytes": size, "origin": origin, "recorded": utc_now()}
    write_json(_records_path(), records)


# -- bundled files: verification remembered by (path, size, mtime) to keep start-up fast ---


def _bundled_records_path() -> Path:
    return cache_dir() / "bundled_verified.json"


def bundled_hash_known(path: Path, sha256: str) -> bool:
    """True if ``path`` was hashed to ``sha256`` before and has the same size and mtime since."""
    entry = (read_json(_bundled_records_path()) or {}).get(str(path))
    if not isinstance(entry, dict):
        return False
    try:
        st = path.stat()
    except OSError:
        return False
    return (
        entry.get("sha256") == sha256
        and entry.get("bytes") == st.st_size
        and entry.get("mtime_ns") == st.st_mtime_ns
    )


def remember_bundled_hash(path: Path, sha256: str) -> None:
    """Record that ``path`` (at its current size and mtime) hashes to ``sha256``.

    Best effort: an unwritable cache only costs a re-hash at the next start.
    """
    try:
        st = path.stat()
        records = read_json(_bundled_records_path()) or {}
        records[str(path)] = {"sha256": sha256, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        write_json(_bundled_records_path(), records)
    except OSError:
        pass
