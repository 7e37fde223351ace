"""Photometric jitter and input degradations: what they touch, their ranges, determinism."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from autocolor.data.augment import AugmentSpec, degrade_lightness, jitter_rgb
from autocolor.data.folder import ColorImageFolder, CropSpec
from tests.train.trainhelpers import make_folder


def test_jitter_scales_about_the_mean_and_clips() -> None:
    rgb = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    assert torch.equal(jitter_rgb(rgb, AugmentSpec(), random.Random(0)), rgb)
    out = jitter_rgb(rgb, AugmentSpec(exposure=0.15, contrast=0.15), random.Random(1))
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0 and not torch.equal(out, rgb)
    bright = jitter_rgb(torch.full((3, 4, 4), 0.9), AugmentSpec(exposure=2.0), random.Random(3))
    assert float(bright.max()) <= 1.0  # clipped, never out of the colour cube


def test_degradations_change_lightness_within_range_and_are_reproducible() -> None:
    lightness = torch.linspace(0, 100, 32 * 32).view(1, 32, 32)
    spec = AugmentSpec(degrade=1.0)  # grain, blur and JPEG all applied
    a = degrade_lightness(lightness, spec, random.Random(5))
    b = degrade_lightness(lightness, spec, random.Random(5))
    assert torch.equal(a, b) and a.shape == lightness.shape
    assert 0.0 <= float(a.min()) and float(a.max()) <= 100.0
    assert 0.3 < float((a - lightness).abs().mean()) < 8.0  # visible, not destructive
    assert torch.equal(degrade_lightness(lightness, AugmentSpec(degrade=0.0), random.Random(5)), lightness)


def test_folder_degrades_input_only_and_never_validation(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 3)
    plain = ColorImageFolder(tmp_path / "imgs", CropSpec(size=24), seed=2)
    degraded = ColorImageFolder(tmp_path / "imgs", CropSpec(size=24), seed=2, augment=AugmentSpec(degrade=1.0))
    for i in range(3):
        (l0, ab0), (l1, ab1) = plain[i], degraded[i]
        assert torch.equal(ab0, ab1)  # same crop, clean target
        assert not torch.equal(l0, l1)
    jittered = ColorImageFolder(tmp_path / "imgs", CropSpec(size=24), seed=2, augment=AugmentSpec(exposure=0.3))
    assert not torch.equal(jittered[0][1], plain[0][1])  # exposure changes the photo, ab included
    spec = CropSpec(size=24, train=False)
    val = ColorImageFolder(tmp_path / "imgs", spec, augment=AugmentSpec(exposure=0.3, degrade=1.0))
    clean = ColorImageFolder(tmp_path / "imgs", spec)
    assert torch.equal(val[0][0], clean[0][0]) and torch.equal(val[0][1], clean[0][1])
