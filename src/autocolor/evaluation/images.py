"""Image helpers of the evaluation: decode to 8-bit sRGB, resize, and convert to and from Lab.

Ground truths and prediction files are both read here, so both go through the same decoder
(Pillow, EXIF orientation applied) and the same float64 Lab conversion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from autocolor.color.lab import lab_to_rgb, rgb_to_lab
from autocolor.imageformats import open_rgb, readable_suffixes

#: Every format Pillow decodes here (GIF, PPM, JPEG 2000, ... as well as PNG/JPEG/TIFF/WebP/BMP).
IMAGE_SUFFIXES = tuple(sorted(readable_suffixes()))


def read_rgb8(path: Path) -> np.ndarray:
    """Decode an image file as 8-bit sRGB ``(H, W, 3)`` uint8, EXIF orientation applied.

    Raises :class:`InputImageError` naming the file and the reason for any damaged file (and
    for one whose header claims more pixels than the machine's limit), never another type.
    """
    return np.asarray(open_rgb(path), dtype=np.uint8).copy()


def resize_rgb8(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize of uint8 RGB to ``(width, height)``; no-op when the size already matches."""
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC), dtype=np.uint8)


def rgb8_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W, 3)`` -> float64 Lab ``(3, H, W)``."""
    # np.require copies read-only arrays (e.g. np.asarray of a PIL image), which torch cannot wrap.
    pixels = torch.from_numpy(np.require(rgb, dtype=np.uint8, requirements=["C", "W"]))
    return rgb_to_lab(pixels.permute(2, 0, 1).double() / 255.0).numpy()


def lab_to_rgb8(lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L* ``(H, W)`` and ab ``(2, H, W)`` -> gamut-clipped, rounded uint8 sRGB ``(H, W, 3)``."""
    lab = torch.from_numpy(np.concatenate((lightness[None], ab), 0).astype(np.float64))
    rgb = lab_to_rgb(lab, clip=True).permute(1, 2, 0).numpy()
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
