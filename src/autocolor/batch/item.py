"""One file of a batch: read, colorize, write atomically; one bad file never raises.

:func:`process_one` is the whole per-file path, for executors that handle one file at a time
(a Ray task, a shard worker, a retry). The in-process runner (:mod:`autocolor.batch.runner`)
calls the same pieces (:func:`read_input`, the colorizer's stages, :func:`render_and_write`) from
different threads so that decoding, the network and encoding overlap.
"""

from __future__ import annotations

import os
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


def read_input(job: Job, *, max_pixels: int | None = None) -> Photo:
    """Decode ``job``'s input (``"-"``: stdin). Raises :class:`autocolor.errors.InputImageError`.

    ``max_pixels``: the decompression-bomb limit (default: the job's ``--max-pixels``, else
    :func:`autocolor.imagefile.read_photo`'s machine-sized one).
    """
    from autocolor.imagefile import read_photo

    return read_photo(job.item.path, max_pixels=job.max_pixels if max_pixels is None else max_pixels)


def estimate_memory(job: Job, format: str | None) -> tuple[int, str] | None:
    """``(bytes, "WxH")``: the memory ``job``'s photo will hold in flight, from its header only
    (:func:`autocolor.batch.memory.photo_bytes`); None for stdin or a file Pillow cannot parse
    (reading it then reports the problem). Raises :class:`InputImageError` for a photo above the
    job's pixel limit (``--max-pixels``)."""
    from autocolor.batch.memory import photo_bytes
    from autocolor.imagefile import check_pixels, peek_header

    if job.item.path == STDIO:
        return None
    try:
        width, height, mode, bits, size = peek_header(job.item.path)
    except Exception:  # noqa: BLE001 - not readable as an image: read_input says why
        return None
    check_pixels(job.item.path, width, height, job.max_pixels)  # --max-pixels answers first
    output_png = Path(job.output).suffix.lower() in (".png", ".tif", ".tiff") if format is None else format.lower() in ("png", "tif", "tiff")
    return photo_bytes(width, height, mode=mode, bits=bits, file_bytes=size, output_png=output_png), f"{width}x{height}"


def render_and_write(
    job: Job, colorizer: Colorizer, photo: Photo, ab_low: np.ndarray, *, format: str | None, threads: int = 1
) -> str:
    """The full-resolution stage of one job: colour ``photo`` from the network's ``ab_low``
    straight into the codes its output format wants, encode, and write ``job.output``
    atomically (with the photo's alpha, bit depth and metadata). The photo's pixels are
    dropped once rendered (:meth:`~autocolor.photo.Photo.drop_pixels`).

    Returns the written path, or ``"-"`` for stdout. Raises :class:`OutputError` (and
    whatever rendering raises).
    """
    from autocolor.batch.memory import give_back_free_memory
    from autocolor.imageencode import output_layout
    from autocolor.imagefile import output_format, write_codes

    fmt = output_format(job.output, format, default=photo.format)  # a bad name fails before the work
    layout = output_layout(fmt, photo)
    give_back_free_memory()  # what decoding and the network freed, before the big output array
    codes = colorizer.render(photo, ab_low, layout, threads=threads)
    photo.drop_pixels()  # encoding needs only the codes and the metadata: memory back before it
    if job.output != STDIO:
        ensure_parent(job.output)
    written = write_codes(job.output, codes, photo, fmt, layout)
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
    from autocolor.batch.claims import claim_job

    held, decided = claim_job(job, time.time())  # another process may share the output folder
    if decided is not None:
        decided.model = colorizer.model_name
        job.result = decided
        return decided
    try:
        return _process_claimed(job, colorizer, format=format, debug=debug)
    finally:
        if held is not None:
            held.release()


def _process_claimed(job: Job, colorizer: Colorizer, *, format: str | None, debug: bool) -> ItemResult:
    start = time.perf_counter()
    result = ItemResult(job.item.path, job.output, "failed", model=colorizer.model_name)
    try:
        photo = read_input(job)
        result.width, result.height = photo.size
        ab_low = colorizer.predict_ab_low(photo, job.hints)
        result.output = render_and_write(job, colorizer, photo, ab_low, format=format, threads=os.cpu_count() or 1)
        result.status = "ok"
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch
        bad = failed(job, exc, model=colorizer.model_name, debug=debug, started=start)
        result.error = bad.error
    result.seconds = time.perf_counter() - start
    job.result = result
    return result
