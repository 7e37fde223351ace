"""Stable partition of a batch into N shards, and explicit input lists (``--files-from``).

A shard is chosen by hashing each input's *key*: its POSIX path relative to the folder it was
found in (``scans/1931/a.tif`` under ``scans/`` has key ``1931/a.tif``), or, for a file given
by itself, its normalised path as written. The hash is sha256, not Python's salted ``hash()``,
so every job of a SLURM array / Kubernetes indexed Job / ``xargs -P`` computes the same
partition on any machine, whatever order the file system lists the folder in and without
knowing which files the other shards saw. Shards are numbered 1..N (``--shard 1/8`` ..
``--shard 8/8``); together they cover every input exactly once. Their sizes are balanced in
expectation (a multinomial split), not exactly.

Nothing here touches pixels, torch or the CLI: keys and paths in, keys and paths out.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO, Protocol, TypeVar

from autocolor.errors import UsageError

__all__ = [
    "Shard",
    "input_key",
    "parse_shard",
    "read_file_list",
    "resolve_listed",
    "shard_index",
]

T = TypeVar("T")


class _Input(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def root(self) -> Path | None: ...


InputLike = TypeVar("InputLike", bound=_Input)
_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
#: ``-`` reads the list from stdin.
STDIN = "-"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise UsageError(f"--shard {self.index}/{self.count}: need 1 <= K <= N (shards are numbered from 1)")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, key: str) -> bool:
        """Whether the input with ``key`` belongs to this shard."""
        return shard_index(key, self.count) == self.index

    def select(self, items: Iterable[T], keys: Iterable[str]) -> list[T]:
        """The items (paired with their keys, in order) that belong to this shard."""
        return [item for item, key in zip(items, keys, strict=True) if self.holds(key)]

    def select_inputs(self, items: Sequence[InputLike]) -> list[InputLike]:
        """The inputs (anything with ``path`` and ``root``, e.g. ``InputFile``) of this shard."""
        return [item for item in items if self.holds(input_key(item.path, item.root))]


def parse_shard(text: str) -> Shard:
    """``"K/N"`` -> :class:`Shard`; a malformed value is a :class:`UsageError`."""
    match = _SHARD_RE.match(text)
    if match is None:
        raise UsageError(f"--shard {text!r}: expected K/N, e.g. 3/8 (shard 3 of 8, numbered from 1)")
    return Shard(int(match.group(1)), int(match.group(2)))


def shard_index(key: str, count: int) -> int:
    """The 1-based shard of ``key`` among ``count``: sha256 of its UTF-8 bytes, modulo ``count``.

    Undecodable bytes of a file name (kept by Python as surrogate escapes) hash as the raw bytes.
    """
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def input_key(path: str, root: str | os.PathLike[str] | None) -> str:
    """The partition key of an input: POSIX path below ``root``, else the normalised path itself.

    ``root`` is the folder the file was found in or listed against (``None`` for a file given
    by itself). The key is independent of how ``root`` was spelled (``scans``, ``./scans/``,
    ``/mnt/a/scans``), so shards run from different working directories or mount points agree.
    """
    if root is not None:
        relative = PurePath(os.path.relpath(path, root))
        return relative.as_posix()
    return PurePath(os.path.normpath(path)).as_posix()


def read_file_list(source: str | os.PathLike[str], stdin: BinaryIO | None = None) -> list[str]:
    """The entries of a ``--files-from`` list, in order (``"-"``: read stdin).

    One path per line (``\\n`` or ``\\r\\n``), or NUL-separated when the list contains a NUL
    byte (``find -print0``), so any file name works. Empty entries are skipped; nothing else is
    stripped (names may start or end with spaces). Bytes that are not UTF-8 are kept as
    surrogate escapes, as ``os.listdir`` does.

    Raises:
        UsageError: the list cannot be read.
    """
    try:
        if str(source) == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read()
        else:
            data = Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"--files-from {source}: cannot read ({exc.strerror or exc})") from exc
    text = data.decode("utf-8", "surrogateescape")
    entries = text.split("\0") if "\0" in text else text.splitlines()
    return [entry for entry in entries if entry]


def resolve_listed(entries: Sequence[str], base: str | None) -> list[tuple[str, str | None]]:
    """``(path to open, root)`` for each ``--files-from`` entry.

    With ``base`` (the command's one folder argument) a relative entry names ``base/entry``
    and its root is ``base``, so its output mirrors ``entry`` under ``-o``; without it, a
    relative entry is relative to the current directory, which is then its root. An absolute
    entry keeps its path, with ``base`` as root when it lies inside ``base`` and no root
    otherwise (its output is then named after the file alone). An entry that climbs out of
    its root (``../x.png``) is also taken without a root.
    """
    resolved: list[tuple[str, str | None]] = []
    for entry in entries:
        if os.path.isabs(entry):
            inside = base is not None and _within(entry, base)
            resolved.append((entry, base if inside else None))
            continue
        path = os.path.join(base, entry) if base is not None else entry
        normal = posixpath.normpath(PurePath(entry).as_posix())
        climbs = normal == ".." or normal.startswith("../")
        resolved.append((path, None if climbs else (base if base is not None else os.curdir)))
    return resolved


def _within(path: str, folder: str) -> bool:
    try:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    except ValueError:  # another drive on Windows
        return False
    return relative != os.pardir and not relative.startswith(os.pardir + os.sep)
