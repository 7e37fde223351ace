from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor.data.folder import ColorImageFolder, CropSpec, EpochSampler, find_images
from tests.train.trainhelpers import make_folder


def test_folder_skips_gray_and_yields_lab_crops(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs" / "nested", 3, gray=2)
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    data = ColorImageFolder(tmp_path / "imgs", CropSpec(size=24), seed=3)
    assert len(data) == 3 and data.skipped == 2
    lightness, ab = data[0]
    assert lightness.shape == (1, 24, 24) and ab.shape == (2, 24, 24)
    assert 0.0 <= float(lightness.min()) and float(lightness.max()) <= 100.0
    assert float(ab.abs().max()) > 5.0  # real chroma survives


def test_augmentation_depends_only_on_seed_epoch_index(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 2)
    a = ColorImageFolder(tmp_path / "imgs", CropSpec(size=24), seed=5)
    b = ColorImageFolder(tmp_path / "imgs", CropSpec(size=24), seed=5)
    assert torch.equal(a[1][1], b[1][1])
    b.set_epoch(1)
    assert not torch.equal(a[1][1], b[1][1])


def test_validation_mode_resizes_whole_image(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    root.mkdir()
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = (200, 30, 30)  # red left half, blue right half
    pixels[:, 40:] = (30, 30, 200)
    Image.fromarray(pixels).save(root / "halves.png")
    lightness, ab = ColorImageFolder(root, CropSpec(size=32, train=False))[0]
    assert ab[0, :, :12].mean() > 40  # red: a* strongly positive on the left
    assert ab[1, :, 20:].mean() < -40  # blue: b* strongly negative on the right


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 0, gray=2)
    with pytest.raises(ValueError, match="no colour images"):
        ColorImageFolder(tmp_path / "imgs", CropSpec())
    with pytest.raises(FileNotFoundError):
        find_images(tmp_path / "missing")


def test_sampler_shards_disjointly_and_resumes_mid_epoch() -> None:
    ranks = [EpochSampler(20, seed=1, batch_size=3, rank=r, world_size=2) for r in range(2)]
    shards = [list(s) for s in ranks]
    assert len(shards[0]) == len(shards[1]) == 9
    assert not set(shards[0]) & set(shards[1])
    resumed = EpochSampler(20, seed=1, batch_size=3, rank=0, world_size=2)
    resumed.set_epoch(0, start_batch=2)
    assert list(resumed) == shards[0][6:] and len(resumed) == 3
    ranks[0].set_epoch(1)
    assert list(ranks[0]) != shards[0]
