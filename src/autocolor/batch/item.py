"""One file of a batch: read, colorize, write atomically; one bad file never raises.

:func:`process_one` is the whole per-file path, for executors that handle one file at a time
(a Ray task, a shard worker, a retry). The in-process runner (:mod:`autocolor.batch.runner`)
calls the same pieces (:func:`read_input`, the colorizer's stages, :func:`write_output`) from
different threads so that decoding, the network and encoding overlap.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from autocolor.batch.plan import STDIO, Job
from autocolor.batch.results import ItemResult, failure_reason
from autocolor.errors import OutputError

if TYPE_CHECKING:  # pragma: no cover - the image stack and torch are imported when used
    import numpy as np

    from autocolor.imagefile import Photo
    from autocolor.pipeline import Colorizer


def ensure_parent(output: str) -> None:
    """Create the output's folder (mirrored trees); a failure is an :class:`OutputError`."""
    parent = Path(output).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(output, f"cannot create folder {parent}: {exc.strerror or exc}") from exc


def read_input(job: Job) -> Photo:
    """Decode ``job``'s input (``"-"``: stdin). Raises :class:`autocolor.errors.InputImageError`."""
    from autocolor.imagefile import read_photo

    return read_photo(job.item.path)


def write_output(job: Job, rgb: np.ndarray, photo: Photo, *, format: str | None) -> str:
    """Write ``rgb`` ((H, W, 3) float32 sRGB in [0, 1], or the colorizer's rendered codes) to
    ``job.output`` atomically, with ``photo``'s alpha, bit depth and metadata.

    Returns the written path, or ``"-"`` for stdout. Raises :class:`OutputError`.
    """
    from autocolor.imagefile import write_photo

    if job.output != STDIO:
        ensure_parent(job.output)
    written = write_photo(job.output, rgb, like=photo, format=format)
    return str(written) if written is not None else STDIO


def failed(job: Job, exc: BaseException, *, model: str | None, debug: bool, started: float) -> ItemResult:
    """The ``"failed"`` result of ``job`` for ``exc`` (traceback on stderr when ``debug``)."""
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return ItemResult(
        job.item.path,
        job.output,
        "failed",
        failure_reason(exc, job.item.path),
        seconds=time.perf_counter() - started,
        model=model,
    )


def process_one(job: Job, colorizer: Colorizer, *, format: str | None = None, debug: bool = False) -> ItemResult:
    """Read, colorize and write one job; every failure becomes a ``"failed"`` result.

    A job that already has a ``result`` (skipped or refused when planned) is returned as is.
    Sets and returns ``job.result``.

    Args:
        job: the planned file.
        colorizer: a loaded :class:`autocolor.pipeline.Colorizer`.
        format: output format (``"png"``, ``"jpg"``, ...); default from the output name.
        debug: print the traceback of a failure on stderr.
    """
    if job.result is not None:
        return job.result
    start = time.perf_counter()
    result = ItemResult(job.item.path, job.output, "failed", model=colorizer.model_name)
    try:
        photo = read_input(job)
        result.width, result.height = photo.size
        rgb = colorizer.colorize_photo(photo, job.hints)
        result.output = write_output(job, rgb, photo, format=format)
        result.status = "ok"
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch
        bad = failed(job, exc, model=colorizer.model_name, debug=debug, started=start)
        result.error = bad.error
    result.seconds = time.perf_counter() - start
    job.result = result
    return result
