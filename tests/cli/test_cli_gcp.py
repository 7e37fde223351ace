"""End to end on CPU: official-layout GCP files made here -> fetch-weights --from DIR ->
``autocolor colorize`` / ``autocolor sample`` with the imported (random) weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from autocolor.cli import main
from autocolor.color.lab import rgb_to_lab
from autocolor.models import create_model

_WEIGHTS_TESTS = str(Path(__file__).resolve().parents[1] / "weights")
if _WEIGHTS_TESTS not in sys.path:
    sys.path.insert(0, _WEIGHTS_TESTS)
from gcp_weights_testutil import gcp_manifest, write_official_files  # noqa: E402


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "weights.toml"
    manifest.write_text(gcp_manifest(), encoding="utf-8")
    monkeypatch.setenv("AUTOCOLOR_WEIGHTS_TOML", str(manifest))
    torch.manual_seed(0)
    write_official_files(create_model("gcp.tiny"), tmp_path / "assets")
    result = _run("fetch-weights", "gcp.tiny", "--from", str(tmp_path / "assets"))
    assert result.exit_code == 0, result.output


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    gray = (np.linspace(30, 220, 70)[None, :] + rng.normal(0, 10, (50, 70))).clip(0, 255).astype(np.uint8)
    path = tmp_path / "old.png"
    Image.fromarray(gray, mode="L").save(path)
    return path


def _lightness(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1))[0].numpy()


def test_colorize_with_imported_gcp_weights_keeps_the_lightness(imported: None, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "color.png"
    result = _run("colorize", str(photo), "-o", str(out), "-m", "gcp.tiny", "--device", "cpu", "--offline", "-q")
    assert result.exit_code == 0, result.output
    colour = np.asarray(Image.open(out).convert("RGB"), dtype=np.float32)
    assert colour.shape == (50, 70, 3)
    assert np.abs(colour[..., 0] - colour[..., 2]).mean() > 0.5  # not gray any more
    assert np.abs(_lightness(out) - _lightness(photo)).mean() < 0.6  # 8-bit rounding only


def test_sample_with_class_and_direction_is_reproducible(imported: None, photo: Path, tmp_path: Path) -> None:
    args = ["sample", str(photo), "-m", "gcp.tiny", "--device", "cpu", "--offline", "-n", "2", "--seed", "4", "-q"]
    assert _run(*args, "--class", "3", "-o", str(tmp_path / "a")).exit_code == 0
    assert _run(*args, "--class", "3", "-o", str(tmp_path / "b")).exit_code == 0
    first, second = sorted((tmp_path / "a").glob("old_sample[0-9]*.png")), sorted((tmp_path / "b").glob("old_sample[0-9]*.png"))
    assert len(first) == 2 and [p.name for p in first] == [p.name for p in second]
    pixels = [np.asarray(Image.open(p), dtype=np.int16) for p in first]
    for a, b in zip(first, second):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    assert np.abs(pixels[0] - pixels[1]).mean() > 0.1  # two seeds, two colourings
    walk = _run(*args, "--class", "3", "--direction", "2", "--strength", "8", "-o", str(tmp_path / "c"))
    assert walk.exit_code == 0, walk.output
    walked = np.asarray(Image.open(sorted((tmp_path / "c").glob("old_sample[0-9]*.png"))[0]), dtype=np.int16)
    assert np.abs(walked - pixels[0]).mean() > 0.1


def test_colorize_refuses_gcp_options_for_other_models(tmp_path: Path) -> None:
    from PIL import Image

    photo = tmp_path / "gray.png"
    Image.fromarray(np.full((32, 32), 90, np.uint8)).save(photo)
    result = CliRunner().invoke(
        main, ["colorize", str(photo), "--model", "cic.tiny", "--random-weights", "--class", "3"]
    )
    assert result.exit_code == 2
    assert "only to GCP models" in result.output
