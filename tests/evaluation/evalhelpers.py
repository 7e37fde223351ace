"""Tiny synthetic photo folders shared by the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {
    "a_red_green.png": ((200, 30, 40), (40, 160, 60)),
    "b_blue_yellow.png": ((30, 60, 200), (230, 210, 40)),
    "c_gray.png": ((120, 120, 120), (60, 60, 60)),
}


def make_photos(folder: Path, size: tuple[int, int] = (16, 20)) -> dict[str, np.ndarray]:
    """Three lossless two-colour PNGs (top half / bottom half) of ``size`` = (width, height)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, (top, bottom) in COLOURS.items():
        img = np.empty((size[1], size[0], 3), dtype=np.uint8)
        img[: size[1] // 2], img[size[1] // 2 :] = top, bottom
        Image.fromarray(img).save(folder / name)
        images[name] = img
    return images


def write_copies(folder: Path, images: dict[str, np.ndarray], suffix: str = ".png") -> None:
    """Lossless copies of ``images`` in ``folder``, named by stem with ``suffix`` (a perfect "method")."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, pixels in images.items():
        Image.fromarray(pixels).save(folder / (Path(name).stem + suffix))
