"""The full-resolution colour work, a strip of rows at a time: network ab -> output codes.

Given a :class:`~autocolor.imagefile.Photo` and the network's low-resolution ab, produce the
output image's integer codes (8 or 16 bits, RGB or BGR order, alpha appended) directly, in
strips of rows that stay in the CPU cache:

1. the guide (L* area-averaged to the ab resolution, :class:`~autocolor.color.strips.AreaShrink`)
   and the guided filter's low-resolution maps (:func:`~autocolor.color.upsample.guided_maps`);
2. per strip: the strip's L* (from the photo's codes through a table when it holds codes), the
   maps enlarged to those rows (:class:`~autocolor.color.strips.LinearRows`), the guided
   combination ``clamp(ab + slope * (L* - guide), low, high)``, and Lab -> sRGB codes keeping
   L* (:class:`~autocolor.color.fastlab.LabRowsEncoder`), written into the output array.

Nothing full-resolution is ever float: memory is the photo, the output codes and a few strips
(plus ``(9, h, W)`` float32 maps), and the result equals the whole-image path
(:func:`autocolor.color.upsample.upsample_ab` then :func:`autocolor.pipeline.lightness_ab_to_rgb`)
to within one output code. Strips can be spread over threads (OpenCV and numpy release the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
import numpy as np

from autocolor.color.fastlab import LabRowsEncoder, lightness_tables
from autocolor.color.strips import AreaShrink, LinearRows
from autocolor.color.upsample import DEFAULT_EPS, DEFAULT_RADIUS, METHODS, guided_maps
from autocolor.imageencode import Layout
from autocolor.photo import Photo

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Pixels per strip: ~10 float32 buffers of this size stay within a core's L2/L3 cache.
STRIP_PIXELS = 1 << 16


def strip_rows(width: int, pixels: int = STRIP_PIXELS) -> int:
    """Rows per strip for photos ``width`` pixels wide (at least one)."""
    return max(1, pixels // max(1, width))


def shrink_lightness(photo: Photo, size: tuple[int, int], *, rows: int | None = None) -> np.ndarray:
    """The photo's L* area-averaged to ``size`` = ``(h, w)`` (each no larger than the photo),
    reading a strip of rows at a time: equal to ``cv2.resize(L*, (w, h), INTER_AREA)``."""
    height, width = photo.shape
    rows = rows or strip_rows(width)
    shrink = AreaShrink(height, width, size)
    buffer = np.empty((rows, width), dtype=np.float32)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        shrink.add(top, photo.lightness_rows(top, bottom, out=buffer[: bottom - top]))
    return shrink.result()


def shrink_for_network(photo: Photo, size: tuple[int, int], *, rows: int = 256) -> "torch.Tensor":
    """``(1, 1, h, w)`` float32 tensor: the photo's L* resized to ``size`` = ``(h, w)`` exactly as
    :func:`autocolor.pipeline.resize_lightness` does (antialiased bicubic, clamped to [0, 100]).

    Torch resizes separably, across the width first; each strip of rows is narrowed on its own
    and only the ``(H, w)`` narrow image is resized vertically: bit-identical to resizing the
    whole L*, without the whole L* in memory.
    """
    import torch
    import torch.nn.functional as F

    height, width = photo.shape
    h, w = size
    narrow = torch.empty((1, 1, height, w), dtype=torch.float32)
    buffer = np.empty((rows, width), dtype=np.float32)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = torch.from_numpy(photo.lightness_rows(top, bottom, out=buffer[: bottom - top]))[None, None]
        narrow[:, :, top:bottom] = (
            strip if w == width else F.interpolate(strip, size=(bottom - top, w), mode="bicubic", align_corners=False, antialias=True)
        )
    if h != height:
        narrow = F.interpolate(narrow, size=(h, w), mode="bicubic", align_corners=False, antialias=True)
    return narrow.clamp_(0.0, 100.0)


def render_codes(
    photo: Photo,
    ab_low: np.ndarray,
    *,
    layout: Layout = Layout(),
    method: str = "guided",
    radius: int = DEFAULT_RADIUS,
    eps: float = DEFAULT_EPS,
    rows: int | None = None,
    threads: int = 1,
) -> np.ndarray:
    """Colour a photo at full resolution from the network's ab.

    Args:
        photo: the decoded photo (its L* is kept exactly, up to the output quantisation).
        ab_low: ``(2, h, w)`` float32 a*, b* (Lab units) at the network's resolution.
        layout: bits, channel order and alpha of the result.
        method: ``"guided"`` or ``"bilinear"`` (see :mod:`autocolor.color.upsample`).
        radius, eps: the guided filter's window radius (ab pixels) and ridge.
        rows: rows per strip (default: :func:`strip_rows`); the result does not depend on it.
        threads: threads sharing the strips.

    Returns:
        ``(H, W, layout.channels)`` uint8 / uint16 codes.
    """
    if method not in METHODS:
        raise ValueError(f"unknown upsampling method {method!r}; choose from: {', '.join(METHODS)}")
    ab_low = np.ascontiguousarray(ab_low, dtype=np.float32)
    if ab_low.ndim != 3 or ab_low.shape[0] != 2:
        raise ValueError(f"ab must have shape (2, h, w), got {ab_low.shape}")
    height, width = photo.shape
    h, w = ab_low.shape[1:]
    rows = rows or strip_rows(width)
    guided = method == "guided" and height >= h and width >= w and (height, width) != (h, w)
    if guided:
        guide = shrink_lightness(photo, (h, w), rows=rows)
        maps = np.concatenate((guided_maps(ab_low, guide, radius, eps), guide[None]))
    else:  # bilinear, and the reference's fallback when the photo is not larger than the ab
        maps = ab_low
    enlarged = LinearRows(maps, height, width)
    out = np.empty((height, width, layout.channels), dtype=layout.dtype)
    bands = _bands(height, rows, threads)

    def work(band: tuple[int, int]) -> None:
        _render_band(photo, enlarged, guided, layout, out, band, rows)

    if len(bands) == 1:
        work(bands[0])
    else:
        with ThreadPoolExecutor(len(bands), thread_name_prefix="autocolor-render") as pool:
            list(pool.map(work, bands))
    return out


def _bands(height: int, rows: int, threads: int) -> list[tuple[int, int]]:
    """Split ``height`` rows into up to ``threads`` contiguous bands of whole strips."""
    strips = -(-height // rows)
    count = max(1, min(threads, strips))
    edges = [round(i * strips / count) * rows for i in range(count + 1)]
    return [(edges[i], min(height, edges[i + 1])) for i in range(count) if edges[i] < height]


def _render_band(
    photo: Photo, maps: LinearRows, guided: bool, layout: Layout, out: np.ndarray, band: tuple[int, int], rows: int
) -> None:
    width = photo.shape[1]
    encoder = LabRowsEncoder(width, rows, bits=layout.bits, order=layout.order)
    lightness, fy, y = (np.empty((rows, width), dtype=np.float32) for _ in range(3))
    # Every map's rows of the strip: ab (2), and for the guided method slope (2), low (2),
    # high (2) and the enlarged guide, computed together (one call per run of rows).
    planes = np.empty((rows, maps.channels, width), dtype=np.float32)
    # Gray photos held as codes: (L* + 16) / 116 and the luminance through tables too.
    tables = lightness_tables(photo.lightness_table) if photo.codes is not None and photo.lightness_table is not None else None
    rows_of = maps.reader()
    top_code = float((1 << layout.bits) - 1)
    for top in range(band[0], band[1], rows):
        bottom = min(band[1], top + rows)
        count = bottom - top
        strip_l = photo.lightness_rows(top, bottom, out=lightness[:count])
        strip = rows_of.all_rows(top, bottom, planes[:count])
        ab = strip[:, 0:2]
        if guided:
            # Same operations, in the same order, as the whole-image guided upsampling, on a*
            # and b* at once: clamp(ab + slope * (L* - guide), low, high).
            detail = np.subtract(strip_l, strip[:, 8], out=strip[:, 8])
            slope = np.multiply(strip[:, 2:4], detail[:, None], out=strip[:, 2:4])
            ab += slope
            np.maximum(ab, strip[:, 4:6], out=ab)
            np.minimum(ab, strip[:, 6:8], out=ab)
        strip_a, strip_b = ab[:, 0], ab[:, 1]
        if tables is not None:
            strip_fy = photo.code_rows(tables[0], top, bottom, fy[:count])
            strip_y = photo.code_rows(tables[1], top, bottom, y[:count])
            encoder.encode(strip_l, strip_a, strip_b, out[top:bottom, :, :3], strip_fy, strip_y)
        else:
            encoder.encode(strip_l, strip_a, strip_b, out[top:bottom, :, :3])
        if layout.alpha:
            alpha = photo.alpha[top:bottom] if photo.alpha is not None else np.ones((count, width), np.float32)
            out[top:bottom, :, 3] = np.rint(np.clip(alpha, 0.0, 1.0) * top_code)
    encoder.flush()
