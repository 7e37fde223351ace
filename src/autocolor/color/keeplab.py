"""L* and ab -> sRGB keeping L* (torch, whole arrays): the reference for the strip-wise path.

:class:`autocolor.color.fastlab.LabRowsEncoder` computes the same thing a strip at a time, in
float32 OpenCV/numpy, straight to output codes; this module is what it is tested against and
what library calls that want float sRGB (:meth:`autocolor.pipeline.Colorizer.colorize_photo`)
use.
"""

from __future__ import annotations

import numpy as np
import torch

from autocolor.color.lab import lab_to_rgb

# Lab -> RGB is done in row chunks of about this many pixels to bound memory on huge photos.
_CHUNK_PIXELS = 1 << 22
# Out-of-gamut colours: bisection steps on the chroma scale (within 2**-8 of the largest chroma that fits)
# and the float slack allowed outside [0, 1] before a colour counts as out of gamut.
_GAMUT_BISECTIONS = 8
_GAMUT_TOLERANCE = 1e-4


def _in_range(rgb: torch.Tensor) -> torch.Tensor:
    """``(3, ...)`` -> ``(...)`` bool: all three channels within ``[0, 1]`` (float tolerance)."""
    return ((rgb >= -_GAMUT_TOLERANCE) & (rgb <= 1.0 + _GAMUT_TOLERANCE)).all(dim=0)


def _lab_to_rgb_keep_lightness(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """L* ``(h, w)`` and ab ``(2, h, w)`` -> sRGB ``(3, h, w)`` in ``[0, 1]`` with L* unchanged.

    Clipping an out-of-gamut colour channel by channel changes its lightness. Instead the
    chroma of such pixels is scaled towards gray (always in gamut) by bisection until the colour
    fits, so hue and L* are kept and only saturation gives way.
    """
    rgb = lab_to_rgb(torch.cat((lightness[None], ab), dim=0), clip=False)
    outside = ~_in_range(rgb)
    if outside.any():
        pixel_l = lightness[outside][None, :, None]  # (1, k, 1): lab_to_rgb wants (3, H, W)
        pixel_ab = ab[:, outside][:, :, None]  # (2, k, 1)
        low = torch.zeros_like(pixel_l)  # scale known to fit (gray)
        high = torch.ones_like(pixel_l)  # scale known not to fit
        for _ in range(_GAMUT_BISECTIONS):
            middle = (low + high) / 2
            fits = _in_range(lab_to_rgb(torch.cat((pixel_l, pixel_ab * middle), dim=0), clip=False))[None]
            low = torch.where(fits, middle, low)
            high = torch.where(fits, high, middle)
        fitted = lab_to_rgb(torch.cat((pixel_l, pixel_ab * low), dim=0), clip=False)
        rgb[:, outside] = fitted[:, :, 0]
    return rgb.clamp_(0.0, 1.0)


def lightness_ab_to_rgb(lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Join L* ``(H, W)`` in ``[0, 100]`` and ab ``(2, H, W)`` (Lab units) into sRGB.

    Returns ``(H, W, 3)`` float32 in ``[0, 1]`` whose L* equals the input's (to float
    precision): colours outside the sRGB gamut lose chroma, not lightness. Converted in row
    chunks so a 50-megapixel photo does not need several GB of temporaries.
    """
    height, width = lightness.shape
    if ab.shape != (2, height, width):
        raise ValueError(f"ab has shape {ab.shape}, expected (2, {height}, {width})")
    rgb = np.empty((height, width, 3), dtype=np.float32)
    rows = max(1, _CHUNK_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        chunk_l = torch.from_numpy(np.ascontiguousarray(lightness[top:bottom], dtype=np.float32))
        chunk_ab = torch.from_numpy(np.ascontiguousarray(ab[:, top:bottom], dtype=np.float32))
        rgb[top:bottom] = _lab_to_rgb_keep_lightness(chunk_l, chunk_ab).permute(1, 2, 0).numpy()
    return rgb
