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
    assert len(shards[0]) == len(shards[1]) == 9 and ranks[0].batches_per_epoch() == 3
    assert not set(shards[0]) & set(shards[1])
    # Step g deals images 6g..6g+5 of the single-process order: 3 to rank 0, 3 to rank 1.
    alone = list(EpochSampler(20, seed=1, batch_size=3))
    assert len(alone) == 18
    for step in range(3):
        assert shards[0][3 * step : 3 * step + 3] + shards[1][3 * step : 3 * step + 3] == alone[6 * step : 6 * step + 6]
    resumed = EpochSampler(20, seed=1, batch_size=3, rank=0, world_size=2)
    resumed.set_epoch(0, start=12)  # after two steps
    assert list(resumed) == shards[0][6:] and len(resumed) == 3 and resumed.batches_left() == 1
    ranks[0].set_epoch(1)
    assert list(ranks[0]) != shards[0]


def test_sampler_resumes_with_another_world_size() -> None:
    """Images 0..k of the epoch's order are used, whatever the number of processes: a run of
    one process that stopped after 3 batches of 2 continues on two processes with image 6."""
    alone = list(EpochSampler(23, seed=4, batch_size=2))
    ranks = [EpochSampler(23, seed=4, batch_size=2, rank=r, world_size=2) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(0, start=6)
    shards = [list(s) for s in ranks]
    assert ranks[0].batches_left() == 4 and len(shards[0]) == len(shards[1]) == 8
    dealt = [i for step in range(4) for r in range(2) for i in shards[r][2 * step : 2 * step + 2]]
    assert dealt == alone[6:22]
    ranks[0].set_epoch(0, start=22)  # fewer images left than one step: the epoch is over
    assert ranks[0].batches_left() == 0 and list(ranks[0]) == []
    with pytest.raises(ValueError, match="start must be >= 0"):
        ranks[0].set_epoch(0, start=-1)
