"""Training checkpoints: written atomically, read back with ``weights_only=True``.

A checkpoint holds everything needed to continue bit-for-bit: model and optimizer state,
the step, the position in the epoch and the RNG state. Killing the process at any moment
(even ``kill -9`` mid-write) leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

LATEST = "latest.pt"


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``run_dir/latest.pt`` via a temp file + fsync + rename."""
    run_dir.mkdir(parents=True, exist_ok=True)
    target = run_dir / LATEST
    _replace_atomically(target, lambda handle: torch.save(state, handle))
    return target


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` via a temp file + fsync + rename (run files, weights)."""
    _replace_atomically(target, lambda handle: handle.write(data))


def _replace_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write`` on a hidden temp file beside ``target`` (``.<name>-*.tmp``, which
    :func:`remove_stale_temporaries` sweeps), fsync it and rename it over ``target``."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete ``.*.tmp`` files a killed run left in ``run_dir`` (only rank 0 writes there).

    They are half-written checkpoints, logs or weights that never got their final name.
    """
    removed = []
    for path in run_dir.glob(".*.tmp") if run_dir.is_dir() else []:
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The latest checkpoint of ``run_dir``, or ``None`` if there is none."""
    path = run_dir / LATEST
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
