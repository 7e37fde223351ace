"""Training data with broken files: each is reported with its reason and skipped; training goes on."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor.data.folder import ColorImageFolder, CropSpec, find_images
from autocolor.train.loop import train
from tests.train.trainhelpers import make_folder, tiny_config


def _break(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # truncated mid-scan


def test_broken_files_are_listed_with_their_reason_and_left_out(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", 4)
    _break(tmp_path / "imgs" / "color01.jpg")
    (tmp_path / "imgs" / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((40, 50, 3)) * 255).astype(np.uint8)).convert("P").save(tmp_path / "imgs" / "pal.gif")
    (tmp_path / "imgs" / "._color00.jpg").write_bytes(b"resource fork")  # hidden: not an image
    assert [p.name for p in find_images(tmp_path / "imgs")] == [
        "color00.jpg", "color01.jpg", "color02.jpg", "color03.jpg", "fake.png", "pal.gif"
    ]  # fmt: skip
    data = ColorImageFolder(tmp_path / "imgs", CropSpec(size=16), chroma_cache=tmp_path / "chroma.json")
    assert [p.name for p in data.paths] == ["color00.jpg", "color02.jpg", "color03.jpg", "pal.gif"]
    reasons = {Path(p).name: r for p, r in data.broken}
    assert set(reasons) == {"color01.jpg", "fake.png"}
    assert "truncated" in reasons["color01.jpg"] or "cannot decode" in reasons["color01.jpg"]
    assert reasons["fake.png"].startswith("corrupt PNG file")
    again = ColorImageFolder(tmp_path / "imgs", CropSpec(size=16), chroma_cache=tmp_path / "chroma.json")
    assert again.broken == data.broken  # the cached scan keeps the reasons


def test_a_file_that_breaks_mid_run_is_reported_and_stood_in_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_folder(tmp_path / "imgs", 3)
    data = ColorImageFolder(tmp_path / "imgs", CropSpec(size=16, train=False))
    _break(data.paths[1])
    with caplog.at_level(logging.WARNING, logger="autocolor.data"):
        stand_in = data[1]
    assert torch.equal(stand_in[1], data[2][1])  # the next image, deterministically
    assert f"skipped {data.paths[1]}" in caplog.text


def test_training_reports_broken_files_and_finishes(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, tmp_path / "run", steps=2)
    _break(Path(config.data.train) / "color03.jpg")
    lines: list[str] = []
    result = train(config, log=lines.append)
    assert result.step == 2 and result.weights is not None
    assert any("1 unreadable skipped" in line for line in lines), lines
    assert any(line.startswith("skipped ") and "color03.jpg" in line for line in lines), lines
