"""Chroma upsampling: a network's low-resolution ab -> full resolution, guided by the full-res L*.

Two methods:

``"bilinear"``
    ``cv2.resize`` with ``INTER_LINEAR`` per channel. OpenCV samples at pixel centres, so this is
    the same as ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``.

``"guided"`` (default)
    Edge-aware upsampling with the local linear model of the guided filter (He, Sun & Tang,
    ECCV 2010; computed at low resolution as in He & Sun's "Fast Guided Filter", 2015), guided
    by the full-res L*. The full-res L* is area-averaged down to the ab resolution; in every
    ``(2r + 1)^2`` window of the ab map each channel is fitted as ``ab ~ A * L* + B`` (least
    squares with ridge ``eps``), and the slopes ``A`` are averaged over the windows covering a
    pixel. The output is the bilinear ab plus the slope times the full-res detail of L* that
    the low-res guide lacks::

        ab_full = up(ab) + up(A) * (L*_full - up(L*_low))          (up = bilinear)

    Where L* is smooth at full resolution the detail term vanishes and the result *is* the
    bilinear one (no extra blur, unlike a plain guided filter, which also box-smooths ab). At
    an object boundary where ab changes together with L*, the detail term moves the colour
    edge onto the full-res luminance edge instead of smearing it over ``H / h`` pixels; for
    two regions related linearly it restores the step exactly. The radius ``r`` is in ab
    pixels, so at full resolution the window scales with the upsampling factor
    (``(2r + 1) * H / h`` pixels). ``eps`` is in ``(L*/100)^2`` units: L* contrasts well above
    ``100 * sqrt(eps)`` (~3 L* units for the default) count as edges; weaker L* variations
    barely move the colour. Finally each value is clamped to the range of the ab map over the
    ``(2r + 1)^2`` low-res neighbourhood (upsampled bilinearly), so pixels whose L* lies
    outside their window's range (highlights, fine texture) cannot extrapolate to colours that
    are not there.

    Defaults (``r = 1``, ``eps = 1e-3``) were chosen on scikit-image's sample photos, with ab
    area-averaged by 4 and 8 and upsampled back. Mean ab error, bilinear -> guided: coffee x8
    3.92 -> 3.08 (-21%), astronaut x8 3.73 -> 3.14 (-16%), rocket x4 -15%, chelsea -8%,
    hubble_deep_field -4%, immunohistochemistry x4 +3% (x8 -10%). Radii 2 and 3 and
    ``eps = 1e-2`` were worse; ``eps = 1e-4`` was similar.

All box filters run at the ab resolution; the full-resolution work is a handful of bilinear
resizes, a multiply-add and a clamp per channel, into preallocated buffers (0.2-0.5 s for a
12-megapixel photo on two busy cores).
"""

from __future__ import annotations

import cv2
import numpy as np

METHODS = ("guided", "bilinear")
#: Default window radius of the guided filter, in pixels of the low-resolution ab map.
DEFAULT_RADIUS = 1
#: Default ridge of the guided filter, in (L*/100)^2 units.
DEFAULT_EPS = 1e-3


def _resize_into(image: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Bilinear resize of a 2-D float32 image into the preallocated 2-D ``dst``.

    Writing into ``dst`` avoids a fresh full-resolution array per resize: on large photos the
    first touch of new memory costs more than the interpolation itself.
    """
    height, width = dst.shape
    # cv2 wants (width, height); INTER_LINEAR samples at half-pixel centres, edges replicated.
    result = cv2.resize(image, (width, height), dst=dst, interpolation=cv2.INTER_LINEAR)
    if not np.shares_memory(result, dst):  # cv2 reallocated (never seen; kept for safety)
        dst[...] = result
    return dst


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    # Window mean; BORDER_REFLECT keeps full-weight windows at the borders.
    size = 2 * radius + 1
    return cv2.boxFilter(image, -1, (size, size), normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_maps(ab: np.ndarray, guide_l: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """The guided upsampling's low-resolution maps, everything but the full-resolution work.

    Args:
        ab: ``(2, h, w)`` float32 a*, b*.
        guide_l: ``(h, w)`` float32 L* area-averaged to the ab resolution.

    Returns:
        ``(8, h, w)`` float32 in the order
        ``[ab_a, ab_b, slope_a, slope_b, low_a, low_b, high_a, high_b]``: the ab
        itself, the slope ``d(ab)/d(L*)`` (per L* unit) and the local range ``[low, high]``.
        Upsampled bilinearly, they give the full-resolution ab as
        ``clamp(ab + slope * (L* - guide), low, high)`` with ``guide`` the bilinear ``guide_l``.
    """
    guide = guide_l * np.float32(1.0 / 100.0)
    mean_i = _box(guide, radius)
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    maps = np.empty((8, *ab.shape[1:]), dtype=np.float32)
    for c in range(2):
        p = ab[c]
        mean_p = _box(p, radius)
        cov_ip = _box(guide * p, radius) - mean_i * mean_p
        maps[c] = p
        # Local slope d(ab)/d(L*) of the linear model, averaged over the windows covering a pixel.
        maps[2 + c] = _box(cov_ip / (var_i + np.float32(eps)), radius) * np.float32(1.0 / 100.0)
        # The local ab range, so no pixel extrapolates beyond the colours around it.
        maps[4 + c] = cv2.erode(p, kernel, borderType=cv2.BORDER_REPLICATE)
        maps[6 + c] = cv2.dilate(p, kernel, borderType=cv2.BORDER_REPLICATE)
    return maps


def area_guide(lightness: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Full-resolution L* ``(H, W)`` area-averaged to ``size`` = ``(h, w)``: the guide's low-res L*."""
    return cv2.resize(lightness, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def _guided(ab: np.ndarray, lightness: np.ndarray, radius: int, eps: float) -> np.ndarray:
    _, h, w = ab.shape
    height, width = lightness.shape
    guide_l = area_guide(lightness, (h, w))
    maps = guided_maps(ab, guide_l, radius, eps)
    # Full-res detail of L* that the low-res guide does not have (0 where L* is smooth).
    detail = _resize_into(guide_l, np.empty((height, width), dtype=np.float32))
    np.subtract(lightness, detail, out=detail)
    out = np.empty((2, height, width), dtype=np.float32)
    scratch = np.empty((height, width), dtype=np.float32)
    for c in range(2):
        _resize_into(maps[c], out[c])
        out[c] += np.multiply(_resize_into(maps[2 + c], scratch), detail, out=scratch)
        np.maximum(out[c], _resize_into(maps[4 + c], scratch), out=out[c])
        np.minimum(out[c], _resize_into(maps[6 + c], scratch), out=out[c])
    return out


def upsample_ab(
    ab: np.ndarray,
    lightness: np.ndarray,
    method: str = "guided",
    *,
    radius: int = DEFAULT_RADIUS,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """Resize ab to the size of ``lightness`` (see the module docstring for the methods).

    Args:
        ab: ``(2, h, w)`` a*, b* in Lab units (any float dtype; used as float32).
        lightness: ``(H, W)`` full-resolution L* in ``[0, 100]``.
        method: ``"guided"`` or ``"bilinear"``.
        radius: guided filter window radius in ab pixels (>= 1).
        eps: guided filter ridge in ``(L*/100)^2`` units (> 0).

    Returns:
        float32 ``(2, H, W)`` ab in Lab units; a float32 copy of ``ab`` when ``(h, w) == (H, W)``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown upsampling method {method!r}; choose from: {', '.join(METHODS)}")
    ab = np.ascontiguousarray(ab, dtype=np.float32)
    lightness = np.ascontiguousarray(lightness, dtype=np.float32)
    if ab.ndim != 3 or ab.shape[0] != 2 or min(ab.shape[1:]) < 1:
        raise ValueError(f"ab must have shape (2, h, w), got {ab.shape}")
    if lightness.ndim != 2 or min(lightness.shape) < 1:
        raise ValueError(f"lightness must have shape (H, W), got {lightness.shape}")
    if radius < 1 or eps <= 0:
        raise ValueError(f"need radius >= 1 and eps > 0, got radius={radius}, eps={eps}")
    height, width = lightness.shape
    if ab.shape[1:] == (height, width):
        return ab.copy()
    if method == "guided" and height >= ab.shape[1] and width >= ab.shape[2]:
        return _guided(ab, lightness, radius, eps)
    # Bilinear, and also the fallback when the target is smaller than the ab map in some
    # direction (a guide at the lower resolution has nothing to add).
    out = np.empty((2, height, width), dtype=np.float32)
    for c in range(2):
        _resize_into(ab[c], out[c])
    return out
