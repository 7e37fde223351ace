"""``--hints-from-ground-truth``: simulated hints reach hint-aware models, one method per count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from autocolor.cli import main
from autocolor.errors import UsageError
from autocolor.evaluation import EvalConfig, Resolution, evaluate
from autocolor.evaluation.images import rgb8_to_lab
from autocolor.evaluation.methods import HintedModelPredictor, ModelPredictor
from autocolor.evaluation.report import hint_sweep
from autocolor.pipeline import Colorizer
from tests.evaluation.evalhelpers import make_photos


class EchoHints(nn.Module):
    """A 'network' that paints the hints it gets and nothing else: ab = hints * mask."""

    output_kind: ClassVar[str] = "ab"
    accepts_hints: ClassVar[bool] = True

    def forward(self, lightness: torch.Tensor, hints: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        if hints is None or mask is None:
            return lightness.new_zeros(lightness.shape[0], 2, *lightness.shape[-2:])
        return hints * mask


def photo_lab(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A red photo with a little noise, as (8-bit RGB, Lab)."""
    rng = np.random.default_rng(seed)
    rgb = np.zeros((48, 40, 3), np.uint8)
    rgb[:] = (200, 40, 40)
    rgb = np.clip(rgb + rng.integers(-10, 10, rgb.shape), 0, 255).astype(np.uint8)
    return rgb, rgb8_to_lab(rgb)


def test_hints_come_from_the_truth_and_more_hints_colour_more() -> None:
    colorizer = Colorizer(EchoHints(), "cpu", size=32, upsample="bilinear")
    rgb, lab = photo_lab()
    none = HintedModelPredictor("echo", colorizer, 0, seed=0).predict("a.png", rgb, lab)[0]
    assert np.abs(none).max() == 0  # 0 hints: the automatic path (nothing painted)
    errors = []
    for count in (0, 1, 5, 20):
        ab = HintedModelPredictor("echo", colorizer, count, seed=0).predict("a.png", rgb, lab)[0]
        errors.append(np.hypot(*(ab - lab[1:])).mean())
        painted = np.hypot(*ab) > 0.9 * np.hypot(*lab[1:]).mean()  # inside a patch (not its blurred rim)
        if count:
            # Painted pixels carry the true colour (patch means of the truth), not something else.
            assert painted.any()
            assert np.hypot(*(ab - lab[1:]))[painted].mean() < 0.1 * np.hypot(*lab[1:])[painted].mean()
    assert errors[0] > errors[1] > errors[2] > errors[3]


def test_hints_are_seeded_per_file_and_per_seed() -> None:
    colorizer = Colorizer(EchoHints(), "cpu", size=32, upsample="bilinear")
    rgb, lab = photo_lab()
    a = HintedModelPredictor("echo", colorizer, 3, seed=0).predict("a.png", rgb, lab)[0]
    again = HintedModelPredictor("echo", colorizer, 3, seed=0).predict("a.png", rgb, lab)[0]
    other_file = HintedModelPredictor("echo", colorizer, 3, seed=0).predict("b.png", rgb, lab)[0]
    other_seed = HintedModelPredictor("echo", colorizer, 3, seed=1).predict("a.png", rgb, lab)[0]
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, other_file) and not np.array_equal(a, other_seed)


def test_evaluate_sweeps_hint_aware_models_and_scores_others_once(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt", size=(32, 40))
    config = EvalConfig(tmp_path / "gt", models=["cic.tiny_regression", "cic.tiny"], baselines=["gray"],
                        resolution=Resolution("native"), device="cpu", pretrained=False, hint_counts=[0, 2, 10])
    result = evaluate(config)
    assert list(result.summary) == ["gray", "cic.tiny_regression:hints=0", "cic.tiny_regression:hints=2",
                                    "cic.tiny_regression:hints=10", "cic.tiny"]
    sweep = hint_sweep(result)
    assert list(sweep) == ["cic.tiny_regression"] and [n for n, _ in sweep["cic.tiny_regression"]] == [0, 2, 10]
    assert "hints=N" in result.protocol["hints"] and "hint_points" not in result.summary["cic.tiny"]
    automatic = evaluate(EvalConfig(tmp_path / "gt", models=["cic.tiny_regression"], resolution=Resolution("native"),
                                    device="cpu", pretrained=False))
    zero = result.summary["cic.tiny_regression:hints=0"]
    assert zero["psnr"] == automatic.summary["cic.tiny_regression"]["psnr"]  # 0 hints = automatic
    assert "hints" not in automatic.protocol


def test_a_sweep_without_a_hint_aware_model_is_a_usage_error(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")
    with pytest.raises(UsageError, match="needs a model that takes colour hints"):
        evaluate(EvalConfig(tmp_path / "gt", models=["cic.tiny"], device="cpu", pretrained=False, hint_counts=[1]))


def test_cli_sweep_json_and_plot(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt", size=(32, 40))
    args = ["eval", "--data", str(tmp_path / "gt"), "--model", "cic.tiny_regression", "--baseline", "gray",
            "--random-weights", "--device", "cpu", "--resolution", "native", "-q",
            "--hints-from-ground-truth", "5,0", "--hints-from-ground-truth", "1", "--json", str(tmp_path / "s.json")]
    plot = tmp_path / "sweep.png"
    try:
        import matplotlib  # noqa: F401

        args += ["--plot", str(plot)]
    except ImportError:
        plot = None
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "s.json").read_text())["summary"]
    assert [summary[f"cic.tiny_regression:hints={n}"]["hint_points"] for n in (0, 1, 5)] == [0, 1, 5]
    if plot is not None:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("value", ["a", "1,-2", "1,,2"])
def test_cli_bad_hint_counts(tmp_path: Path, value: str) -> None:
    make_photos(tmp_path / "gt")
    result = CliRunner().invoke(main, ["eval", "--data", str(tmp_path / "gt"), "--model", "cic.tiny_regression",
                                       "--random-weights", "--hints-from-ground-truth", value])
    assert result.exit_code == 2 and "--hints-from-ground-truth" in result.stderr


def test_model_predictor_without_hints_is_unchanged() -> None:
    colorizer = Colorizer(EchoHints(), "cpu", size=32)
    rgb, lab = photo_lab()
    assert np.abs(ModelPredictor("echo", colorizer).predict("a.png", rgb, lab)[0]).max() == 0


class DeafToHints(EchoHints):
    """Takes hints and ignores them: gray whatever it is told."""

    def forward(self, lightness: torch.Tensor, hints: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        return lightness.new_zeros(lightness.shape[0], 2, *lightness.shape[-2:])


def test_spread_carries_one_hint_over_a_flat_photo_and_the_protocol_says_so(tmp_path: Path) -> None:
    from autocolor.hints import HintSpread

    rgb, lab = photo_lab()
    spread = Colorizer(DeafToHints(), "cpu", size=32, upsample="bilinear", hint_spread=HintSpread(reach=1.0, floor=0.01))
    alone = Colorizer(DeafToHints(), "cpu", size=32, upsample="bilinear", hint_spread=None)
    spread_ab = HintedModelPredictor("echo", spread, 1, seed=0).predict("a.png", rgb, lab)[0]
    alone_ab = HintedModelPredictor("echo", alone, 1, seed=0).predict("a.png", rgb, lab)[0]
    chroma = np.hypot(*lab[1:]).mean()
    assert np.hypot(*(spread_ab - lab[1:])).mean() < 0.15 * chroma  # one patch's colour, everywhere
    assert np.abs(alone_ab).max() == 0  # the network alone ignores the hint

    make_photos(tmp_path / "gt", size=(32, 40))
    base = dict(models=["cic.tiny_regression"], resolution=Resolution("native"), device="cpu", pretrained=False,
                hint_counts=[3])
    on = evaluate(EvalConfig(tmp_path / "gt", **base, hint_spread=HintSpread(reach=0.3)))
    off = evaluate(EvalConfig(tmp_path / "gt", **base, hint_spread=None))
    assert "reach 0.3 of the longer side" in on.protocol["hints"]
    assert "the network's output as it is" in off.protocol["hints"]
    assert on.summary["cic.tiny_regression:hints=3"]["psnr"] != off.summary["cic.tiny_regression:hints=3"]["psnr"]
