"""Empirical ab prior of a set of training images, counted over the 313 CIC bins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from autocolor.color.bins import cic_ab_grid
from autocolor.color.lab import rgb_to_lab
from autocolor.color.prior import ab_histogram
from autocolor.data.folder import load_rgb
from autocolor.errors import InputImageError


def count_ab_bins(
    paths: Sequence[Path],
    thumbnail: int = 64,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Pixel counts per CIC bin over ``thumbnail`` x ``thumbnail`` versions of ``paths``.

    Returns:
        float64 ``(313,)`` counts (not normalised); unreadable files are skipped.
    """
    grid = cic_ab_grid()
    counts = np.zeros(len(grid), dtype=np.float64)
    for i, path in enumerate(paths):
        try:
            image = load_rgb(path).resize((thumbnail, thumbnail), Image.Resampling.BILINEAR)
        except InputImageError:  # ColorImageFolder's scan has reported it already
            continue
        rgb = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
        counts += ab_histogram(rgb_to_lab(rgb)[None, 1:], grid)
        if progress is not None:
            progress(i + 1)
    return counts
