"""Getting the original file: resumable https downloads (stdlib urllib) and the Hugging Face Hub.

Nothing here checks hashes: the caller verifies size and sha256 of whatever comes back,
so a mirror is trusted exactly as much as the pin in weights.toml.
"""

from __future__ import annotations

import http.client
import os
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from autocolor import __version__
from autocolor.errors import ChecksumMismatchError, WeightsError
from autocolor.weights.manifest import Source

__all__ = ["DownloadError", "download_url", "hf_download", "hub_offline"]

_CHUNK = 1 << 16
_USER_AGENT = f"autocolor/{__version__} (+weights fetch; urllib)"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadError(WeightsError):
    """One source failed (HTTP error, connection lost, not in the offline cache)."""


def hub_offline() -> bool:
    """True when ``$HF_HUB_OFFLINE`` asks for no network (read at call time, not import time)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def download_url(
    url: str,
    dest: Path,
    *,
    expected_bytes: int | None = None,
    progress: bool = True,
    label: str = "",
    timeout: float = 30.0,
    max_attempts: int = 4,
) -> None:
    """Download ``url`` into ``dest``, resuming from what ``dest`` already holds.

    A partial ``dest`` is continued with ``Range: bytes=<size>-``; a server that ignores the
    range (answers 200) makes the download restart from zero. A connection lost mid-file is
    retried up to ``max_attempts`` times, each time resuming; if it still fails, ``dest`` is
    kept so that the next run resumes. ``expected_bytes`` (the pinned size) stops a server
    that sends more than the pinned size and rejects a declared size that differs.

    Raises:
        DownloadError: HTTP error or connection failure (a partial ``dest`` is kept).
        ChecksumMismatchError: the server offers or sends a size other than the pin
            (``dest`` is deleted).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _progress_bar(progress, label or dest.name, expected_bytes) as advance:
        last_error = ""
        for _attempt in range(max_attempts):
            try:
                if _download_once(url, dest, expected_bytes, timeout, advance):
                    return
                last_error = "connection closed before the end of the file"
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            except urllib.error.URLError as exc:
                raise DownloadError(f"{url}: cannot connect ({exc.reason})") from None
            except (http.client.HTTPException, ConnectionError, TimeoutError, ssl.SSLError) as exc:
                last_error = f"connection lost ({type(exc).__name__})"  # retried, resuming
            except OSError as exc:  # e.g. the disk is full: retrying will not help
                raise DownloadError(f"{url}: {exc}") from None
            except ChecksumMismatchError as exc:
                dest.unlink(missing_ok=True)  # bytes of a different file: useless for resuming
                raise ChecksumMismatchError(f"{label or dest.stem}: {exc}") from None
        have = dest.stat().st_size if dest.exists() else 0
        of = f" of {expected_bytes:,}" if expected_bytes else ""
        raise DownloadError(
            f"{url}: {last_error} after {max_attempts} attempts ({have:,}{of} bytes kept; run again to resume)"
        )


def _download_once(
    url: str, dest: Path, expected: int | None, timeout: float, advance: _Advance
) -> bool:
    """One request; True when ``dest`` is complete, False when the body ended early."""
    offset = dest.stat().st_size if dest.exists() else 0
    if expected is not None and offset > expected:
        dest.unlink()  # a stale part longer than the pinned file can only be wrong
        offset = 0
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Range not satisfiable: the part is either already complete or garbage.
            if expected is not None and offset == expected:
                advance(offset, reset=True)
                return True
            dest.unlink()
            return False
        raise
    with response:
        start = 0
        total = _header_int(response, "Content-Length")
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset:
                start = offset
                total = int(match.group(3)) if match.group(3) != "*" else None
            else:  # a range we did not ask for: do not splice it in, start over
                dest.unlink(missing_ok=True)
                return False
        # else 200: the whole file follows (a server that ignores Range lands here too)
        if expected is not None and total is not None and total != expected:
            raise ChecksumMismatchError(
                f"size mismatch: expected {expected:,} bytes, the server offers {total:,} (from {url})"
            )
        advance(start, reset=True)
        with open(dest, "ab" if start else "wb") as fh:
            received = _copy(response, fh, start, expected, url, advance)
    if total is not None:
        return received >= total
    return expected is None or received >= expected


def _copy(
    response: IO[bytes], fh: IO[bytes], start: int, expected: int | None, url: str, advance: _Advance
) -> int:
    received = start
    while chunk := response.read(_CHUNK):
        received += len(chunk)
        if expected is not None and received > expected:
            raise ChecksumMismatchError(
                f"size mismatch: expected {expected:,} bytes, the server sent more (from {url})"
            )
        fh.write(chunk)
        advance(len(chunk))
    return received


def _header_int(response: http.client.HTTPResponse, name: str) -> int | None:
    value = response.headers.get(name)
    return int(value) if value and value.isdigit() else None


class _Advance:
    """Callable ``advance(n, reset=False)``: add ``n`` bytes, or set the position to ``n``."""

    def __init__(self, bar: object | None, task: object | None) -> None:
        self._bar, self._task = bar, task

    def __call__(self, n: int, reset: bool = False) -> None:
        if self._bar is None:
            return
        if reset:
            self._bar.update(self._task, completed=n)  # type: ignore[attr-defined]
        else:
            self._bar.update(self._task, advance=n)  # type: ignore[attr-defined]


@contextmanager
def _progress_bar(enabled: bool, label: str, total: int | None) -> Iterator[_Advance]:
    """Rich download bar on stderr; a no-op advance when ``enabled`` is false."""
    if not enabled:
        yield _Advance(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn())
    with Progress(
        *columns, TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True)
    ) as bar:
        yield _Advance(bar, bar.add_task(label, total=total))


def hf_download(source: Source, *, offline: bool = False) -> Path:
    """Path of ``source``'s file in the Hugging Face cache, downloading it if allowed.

    Respects ``$HF_HUB_CACHE`` and ``$HF_HUB_OFFLINE`` as set *now* (huggingface_hub reads them
    at import time only); ``offline`` uses only files already in that cache.

    Raises:
        DownloadError: not available (missing repo, file or revision, network, offline miss).
    """
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - huggingface-hub is a dependency
        raise DownloadError(f"{source.describe()}: huggingface-hub is not installed") from None
    offline = offline or hub_offline()
    try:
        path = hf_hub_download(
            repo_id=str(source.hf_repo),
            filename=str(source.hf_file),
            revision=source.revision,
            cache_dir=os.environ.get("HF_HUB_CACHE") or None,
            local_files_only=offline,
            library_name="autocolor",
            library_version=__version__,
        )
    except LocalEntryNotFoundError:
        why = "not in the local Hugging Face cache (offline)" if offline else "not reachable"
        raise DownloadError(f"{source.describe()}: {why}") from None
    except Exception as exc:  # noqa: BLE001 - the Hub raises many types; each is one failed mirror
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DownloadError(f"{source.describe()}: {first}") from None
    return Path(path)
