"""Shared by the tests of ``scripts/``: load a script as a module, make a tiny photo folder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (registered in ``sys.modules``: dataclasses look it up)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def two_tone_photos(folder: Path, count: int, *, neutral_strip: bool = False) -> Path:
    """``count`` 48x40 PNGs ``p<i>.png``, each a random colour over another (seeded), optionally
    with a mid-gray strip on the left (so that near-neutral pixels exist). Returns ``folder``."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(count):
        img = np.zeros((40, 48, 3), np.uint8)
        img[:20] = rng.integers(0, 255, 3)
        img[20:] = rng.integers(0, 255, 3)
        if neutral_strip:
            img[:, :8] = 128
        Image.fromarray(img).save(folder / f"p{i}.png")
    return folder
