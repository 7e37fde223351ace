"""Where a batch's inputs live: local paths, or URIs of any file system pyarrow understands.

``s3://bucket/scans/``, ``gs://...``, ``abfs://...``, ``hdfs://...`` and ``file:///...`` are
listed through ``pyarrow.fs`` (installed with Ray Data, the ``autocolor[ray]`` extra); a local
folder is listed the same way by :func:`list_inputs`, so the Python entry point of the Ray
executor needs nothing from the CLI. Nothing here reads pixels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from autocolor.batch.plan import InputFile
from autocolor.errors import UsageError

__all__ = ["image_suffixes", "is_uri", "list_inputs", "list_uri_inputs", "local_path"]


def image_suffixes() -> frozenset[str]:
    """Lower-case suffixes (``.png``, ...) a folder walk takes."""
    from autocolor.imagefile import SUPPORTED_SUFFIXES

    return frozenset(s.lower() for s in SUPPORTED_SUFFIXES)


def is_uri(path: str) -> bool:
    """Whether ``path`` is a URI (``scheme://...``) rather than a local path."""
    head, sep, _ = path.partition("://")
    return bool(sep) and head.isascii() and head.replace("+", "").isalnum() and len(head) > 1


def list_uri_inputs(uri: str, suffixes: frozenset[str], *, recursive: bool = True) -> list[InputFile]:
    """The image files at ``uri`` (a file, or a folder listed through ``pyarrow.fs``).

    Hidden names (starting with ``.``) and other suffixes are left out, as in a local walk.
    Each file keeps a URI as its path and the folder URI as its root, so outputs mirror the
    tree below it.

    Raises:
        UsageError: the URI's file system is unknown or the location cannot be listed.
    """
    try:
        from pyarrow import fs as pafs
    except ImportError as exc:
        raise UsageError(f"{uri}: URIs need pyarrow (pip install \"autocolor[ray]\")") from exc
    try:
        filesystem, base = pafs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(base)
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise UsageError(f"{uri}: cannot open ({exc})") from exc
    if info.type == pafs.FileType.NotFound:
        raise UsageError(f"{uri}: no such file or folder")
    if info.type == pafs.FileType.File:
        return [InputFile(uri)]
    prefix = uri.rstrip("/")
    selector = pafs.FileSelector(base, recursive=recursive)
    found: list[InputFile] = []
    for entry in sorted(filesystem.get_file_info(selector), key=lambda e: e.path):
        relative = os.path.relpath(entry.path, base).replace(os.sep, "/")
        if entry.type != pafs.FileType.File or any(part.startswith(".") for part in relative.split("/")):
            continue
        if Path(relative).suffix.lower() in suffixes:
            found.append(InputFile(f"{prefix}/{relative}", Path(prefix)))
    return found


def local_path(path: str) -> str | None:
    """A ``file://`` URI's local path; ``None`` for other URIs; the path itself otherwise."""
    if path.startswith("file://"):
        return path[len("file://") :]
    return None if is_uri(path) else path


def list_inputs(
    sources: Sequence[str], *, recursive: bool = True, exclude: Sequence[str] = ()
) -> list[InputFile]:
    """Every image file of ``sources`` (files, folders, URIs), in order, without duplicates.

    A folder (local or URI) contributes its image files below it, sorted, hidden names left
    out, and for a local folder anything inside an ``exclude`` folder (an output folder inside
    the input) left out too; a file is taken as given, whatever its suffix.

    Raises:
        UsageError: a source does not exist or cannot be listed.
    """
    suffixes = image_suffixes()
    skip = [os.path.abspath(e) for e in exclude]
    found: list[InputFile] = []
    seen: set[str] = set()
    for source in sources:
        local = local_path(source)
        if local is None:
            items = list_uri_inputs(source, suffixes, recursive=recursive)
        elif os.path.isdir(local):
            items = _walk(local, suffixes, recursive=recursive, skip=skip)
        elif os.path.exists(local):
            items = [InputFile(local)]
        else:
            raise UsageError(f"{source}: no such file or folder")
        for item in items:
            if item.path not in seen:
                seen.add(item.path)
                found.append(item)
    return found


def _walk(folder: str, suffixes: frozenset[str], *, recursive: bool, skip: Sequence[str]) -> list[InputFile]:
    root = Path(folder)
    found: list[InputFile] = []

    def fail(error: OSError) -> None:
        raise UsageError(f"{error.filename or folder}: cannot read folder ({error.strerror or error})")

    for here, dirs, files in os.walk(root, onerror=fail):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and os.path.abspath(os.path.join(here, d)) not in skip
        ) if recursive else []
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in suffixes:
                found.append(InputFile(os.path.join(here, name), root))
    return found
