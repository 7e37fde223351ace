"""Tiny colour-image folders and configs for training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from autocolor.train.config import TrainConfig, apply_overrides


def make_folder(root: Path, count: int, seed: int = 0, gray: int = 0) -> Path:
    """``count`` small colourful JPEGs (blue top, textured bottom) plus ``gray`` gray ones."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
        pixels[:24] = (30, 90, 200)
        Image.fromarray(pixels).save(root / f"color{i:02d}.jpg", quality=95)
    for i in range(gray):
        Image.fromarray(np.full((48, 64), 100 + i, np.uint8)).save(root / f"gray{i}.jpg")
    return root


def tiny_config(tmp: Path, out: Path, steps: int = 6, **extra: object) -> TrainConfig:
    """A cic.lite_tiny run over folders made in ``tmp``; seconds on one CPU thread."""
    train_dir = tmp / "train"
    val_dir = tmp / "val"
    if not train_dir.exists():
        make_folder(train_dir, 12, seed=1, gray=1)
        make_folder(val_dir, 4, seed=2)
    overrides = [
        'model.name="cic.lite_tiny"',
        f'data.train="{train_dir}"',
        f'data.val="{val_dir}"',
        "data.crop_size=32",
        "data.val_size=32",
        "data.workers=0",
        "train.batch_size=4",
        f"train.steps={steps}",
        "train.checkpoint_every=1",
        "train.val_every=3",
        "train.threads=1",
        'train.device="cpu"',
        f'train.out="{out}"',
        "optim.warmup_steps=2",
        "objective.prior_thumbnail=16",
    ]
    overrides += [f"{k}={v}" for k, v in extra.items()]
    return apply_overrides(TrainConfig(), overrides)
