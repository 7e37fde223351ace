"""What the command line names: INPUT arguments expanded into image files, and ``-o`` checked.

Folder inputs are walked here (every file not taken gets its reason); whether ``-o`` is a folder
or a file, and whether it can be written, is decided before any work starts. The heavy modules
are imported inside the functions that need them, so ``--help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from autocolor.batch.plan import STDIO, InputFile
from autocolor.errors import OutputError, UsageError


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
