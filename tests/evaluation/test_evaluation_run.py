"""The eval runner on tiny synthetic photo folders: pooled numbers, skipping, options."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor.errors import InputImageError, UsageError, WeightsError
from autocolor.evaluation import EvalConfig, Resolution, evaluate
from autocolor.evaluation.images import rgb8_to_lab
from autocolor.evaluation.methods import GrayPredictor
from autocolor.metrics.auc import CMFAccumulator, rebalancing_weights
from tests.evaluation.evalhelpers import make_photos, write_copies


def _direct_auc(errors: np.ndarray, weights: np.ndarray | None = None) -> float:
    acc = CMFAccumulator()
    acc.update(errors, weights)
    return 100.0 * acc.auc()


def test_gray_baseline_is_pooled_over_all_pixels(tmp_path: Path) -> None:
    images = make_photos(tmp_path / "gt")
    result = evaluate(EvalConfig(tmp_path / "gt", baselines=["gray"], resolution=Resolution("native")))
    gray = result.summary["gray"]
    labs = [rgb8_to_lab(images[name]) for name in sorted(images)]
    errors = np.concatenate([np.hypot(lab[1], lab[2]).ravel() for lab in labs])
    assert gray["images"] == 3 and gray["pixels"] == errors.size
    assert gray["auc_raw"] == pytest.approx(_direct_auc(errors), abs=1e-9)
    assert gray["rmse_ab"] == pytest.approx(math.sqrt((errors**2).mean()), rel=1e-12)
    # The project's prior ships in the package and is the default for the rebalanced AuC.
    assert 0.0 < gray["auc_rebalanced"] < 100.0
    assert result.protocol["auc_rebalanced"]["prior"].endswith("prior_ab.npy")
    assert len(gray["cmf_raw"]) == 151
    # The gray image keeps (almost) all its pixels within 1 unit, the red/green one does not.
    per_file = {row["file"]: row for row in result.rows}
    assert per_file["c_gray.png"]["auc_raw"] > 99.0 > per_file["a_red_green.png"]["auc_raw"]
    assert per_file["c_gray.png"]["psnr"] > per_file["a_red_green.png"]["psnr"]
    assert result.protocol["images_scored"] == 3 and result.skipped == []


def test_rebalanced_auc_is_unavailable_without_a_prior(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import autocolor.evaluation.run as run_module

    make_photos(tmp_path / "gt")
    monkeypatch.setattr(run_module, "default_prior_path", lambda: tmp_path / "missing.npy")
    result = evaluate(EvalConfig(tmp_path / "gt", baselines=["gray"], resolution=Resolution("native")))
    assert result.summary["gray"]["auc_rebalanced"] is None
    assert "unavailable" in result.protocol["auc_rebalanced"]


def test_identical_predictions_score_perfectly(tmp_path: Path) -> None:
    images = make_photos(tmp_path / "gt")
    write_copies(tmp_path / "same", images, suffix=".bmp")  # matched by stem, lossless
    result = evaluate(EvalConfig(tmp_path / "gt", predictions=[("same", tmp_path / "same")]))
    same = result.summary["same"]
    assert same["auc_raw"] == 100.0 and same["rmse_ab"] == 0.0
    assert same["psnr"] == math.inf and same["psnr_pooled"] == math.inf
    assert same["ssim"] == pytest.approx(1.0)
    assert same["delta_colorfulness"] == 0.0 and same["delta_colorfulness_abs"] == 0.0


def test_rebalanced_auc_with_given_priors(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")
    uniform = tmp_path / "uniform.npy"
    np.save(uniform, np.full(313, 1.0 / 313))
    flat = evaluate(
        EvalConfig(tmp_path / "gt", baselines=["gray"], prior_path=uniform, resolution=Resolution("native"))
    ).summary["gray"]
    # Equal weights for every pixel: rebalanced = raw.
    assert flat["auc_rebalanced"] == pytest.approx(flat["auc_raw"], abs=1e-9)

    skewed = np.random.default_rng(0).uniform(0.1, 1.0, size=313)
    skewed /= skewed.sum()
    prior_path = tmp_path / "skewed.npy"
    np.save(prior_path, skewed)
    result = evaluate(
        EvalConfig(tmp_path / "gt", baselines=["gray"], prior_path=prior_path, resolution=Resolution("native"))
    )
    from autocolor.color.bins import cic_ab_grid

    grid = cic_ab_grid().numpy()
    errors, weights = [], []
    for path in sorted((tmp_path / "gt").iterdir()):
        lab = rgb8_to_lab(np.asarray(Image.open(path).convert("RGB")))
        errors.append(np.hypot(lab[1], lab[2]).ravel())
        weights.append(rebalancing_weights(lab[1:], skewed, grid).ravel())
    expected = _direct_auc(np.concatenate(errors), np.concatenate(weights))
    assert result.summary["gray"]["auc_rebalanced"] == pytest.approx(expected, abs=1e-9)
    assert result.protocol["auc_rebalanced"]["prior_sha256"]


def test_prior_with_empty_bins_needs_smoothing(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")
    prior = np.zeros(313)
    prior[:10] = 0.1
    np.save(tmp_path / "holes.npy", prior)
    with pytest.raises(UsageError, match="prior-smoothing"):
        evaluate(EvalConfig(tmp_path / "gt", baselines=["gray"], prior_path=tmp_path / "holes.npy"))
    result = evaluate(
        EvalConfig(tmp_path / "gt", baselines=["gray"], prior_path=tmp_path / "holes.npy", prior_smoothing=30.0,
                   resolution=Resolution("native"))
    )
    assert result.summary["gray"]["auc_rebalanced"] is not None


def test_weight_concentration_is_reported_and_lambda_tames_it(tmp_path: Path) -> None:
    from autocolor.color.bins import cic_ab_grid
    from autocolor.metrics.auc import nearest_bins

    (tmp_path / "gt").mkdir()
    img = np.full((40, 40, 3), 128, dtype=np.uint8)
    img[0, 0] = (255, 0, 0)  # one saturated pixel among 1599 gray ones
    Image.fromarray(img).save(tmp_path / "gt" / "one_red_pixel.png")
    red_bin = nearest_bins(rgb8_to_lab(img)[1:, :1, :1], cic_ab_grid().numpy())[0, 0]
    prior = np.full(313, 1.0)
    prior[red_bin] = 1e-15  # the red pixel's weight dwarfs the others
    np.save(tmp_path / "prior.npy", prior / prior.sum())
    config = EvalConfig(tmp_path / "gt", baselines=["gray"], prior_path=tmp_path / "prior.npy",
                        resolution=Resolution("native"))
    warnings: list[str] = []
    result = evaluate(config, warn=warnings.append)
    entry = result.protocol["auc_rebalanced"]
    assert entry["effective_pixels"] == pytest.approx(1.0, rel=1e-6)
    assert any("effective pixels" in w for w in warnings)
    config.rebalance_lambda = 1.0  # all uniform: every pixel weighs the same
    warnings.clear()
    uniform = evaluate(config, warn=warnings.append)
    gray = uniform.summary["gray"]
    assert gray["auc_rebalanced"] == pytest.approx(gray["auc_raw"], abs=1e-9)
    assert uniform.protocol["auc_rebalanced"]["effective_pixels"] == pytest.approx(1600.0)
    assert warnings == []


def test_bad_missing_and_tiny_images_are_skipped_for_every_method(tmp_path: Path) -> None:
    images = make_photos(tmp_path / "gt")
    write_copies(tmp_path / "pred", {k: v for k, v in images.items() if k != "b_blue_yellow.png"})
    (tmp_path / "gt" / "d_broken.jpg").write_bytes(b"not an image at all")
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "gt" / "e_tiny.png")
    warnings: list[str] = []
    result = evaluate(
        EvalConfig(tmp_path / "gt", baselines=["gray"], predictions=[("pred", tmp_path / "pred")],
                   resolution=Resolution("native")),
        warn=warnings.append,
    )
    skipped = {s["file"]: s["reason"] for s in result.skipped}
    assert set(skipped) == {"b_blue_yellow.png", "d_broken.jpg", "e_tiny.png"}
    assert "no prediction file" in skipped["b_blue_yellow.png"]
    assert skipped["d_broken.jpg"] == "not an image: no known image format matches it"
    assert "too small" in skipped["e_tiny.png"]
    assert len(warnings) == 3
    # Every method is scored on the same two images.
    assert result.summary["gray"]["images"] == result.summary["pred"]["images"] == 2
    assert {r["file"] for r in result.rows} == {"a_red_green.png", "c_gray.png"}


def test_resolution_options(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt", size=(16, 20))
    exact = evaluate(EvalConfig(tmp_path / "gt", baselines=["gray"], resolution=Resolution("32x24")))
    assert {(r["width"], r["height"]) for r in exact.rows} == {(32, 24)}
    short = evaluate(EvalConfig(tmp_path / "gt", baselines=["gray"], resolution=Resolution("12")))
    assert {(r["width"], r["height"]) for r in short.rows} == {(12, 15)}
    assert Resolution("256").target_size((256, 384)) == (256, 384)  # already there: untouched
    assert Resolution("256").target_size((600, 400)) == (384, 256)
    with pytest.raises(UsageError, match="resolution"):
        Resolution("big")


class _ShiftColorizer:
    """Stands in for autocolor.pipeline.Colorizer: ab = (3, 4) everywhere, and a fixed NLL."""

    def __init__(self, name: str, **_: object) -> None:
        self.name = name

    def predict_ab(self, lightness: np.ndarray) -> np.ndarray:
        ab = np.empty((2, *lightness.shape), dtype=np.float32)
        ab[0], ab[1] = 3.0, 4.0
        return ab

    has_likelihood = True

    def nll(self, lightness: np.ndarray, ab: np.ndarray) -> tuple[float, int]:
        return 2.0 * ab.size * math.log(2.0), ab.size  # exactly 2 bits per dimension


def test_model_path_feeds_lightness_and_records_bits_per_dim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import autocolor.pipeline

    monkeypatch.setattr(autocolor.pipeline, "Colorizer", _ShiftColorizer)
    images = make_photos(tmp_path / "gt")
    result = evaluate(EvalConfig(tmp_path / "gt", models=["shift"], resolution=Resolution("native")))
    shift = result.summary["shift"]
    assert shift["kind"] == "model" and shift["bits_per_dim"] == pytest.approx(2.0)
    errors = []
    for name in sorted(images):
        lab = rgb8_to_lab(images[name])
        errors.append(np.hypot(lab[1] - 3.0, lab[2] - 4.0).ravel())
    assert shift["auc_raw"] == pytest.approx(_direct_auc(np.concatenate(errors)), abs=1e-9)


def test_fid_without_weights_fails_before_scoring(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")
    with pytest.raises(WeightsError, match="fetch-weights"):
        evaluate(EvalConfig(tmp_path / "gt", baselines=["gray"], fid=True))


class _TinyFeatures(torch.nn.Module):
    """Stands in for the 2048-feature Inception (tested on its own): 6 colour statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(6, 1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return torch.cat((rgb.mean((2, 3)), rgb.std((2, 3))), 1)


def test_fid_with_given_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import save_file

    from autocolor.metrics import fid

    weights = tmp_path / "fid.safetensors"
    save_file({"fc.bias": torch.zeros(1)}, str(weights))
    seen: list[dict] = []

    def tiny_network(state_dict: dict, device: object = "cpu") -> torch.nn.Module:
        seen.append(state_dict)
        return _TinyFeatures().eval()

    monkeypatch.setattr(fid, "build_fid_network", tiny_network)
    images = make_photos(tmp_path / "gt")
    write_copies(tmp_path / "same", images)
    result = evaluate(
        EvalConfig(tmp_path / "gt", baselines=["gray"], predictions=[("same", tmp_path / "same")], fid=True,
                   fid_weights=weights, device="cpu", resolution=Resolution("native"))
    )
    assert list(seen[0]) == ["fc.bias"]  # the given file was loaded
    fid_gray, fid_same = result.summary["gray"]["fid"], result.summary["same"]["fid"]
    assert fid_same == pytest.approx(0.0, abs=1e-9) and fid_gray > 1e-3
    # Independent check of the gray number from the same features.
    def stats(key: str) -> tuple[np.ndarray, np.ndarray]:
        feats = []
        for name in sorted(images):
            rgb = images[name]
            if key == "gray":
                rgb = GrayPredictor().predict(name, rgb, rgb8_to_lab(rgb))[1]
            x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255.0
            feats.append(_TinyFeatures()(x)[0].double().numpy())
        f = np.stack(feats)
        return f.mean(0), np.cov(f, rowvar=False)

    (m1, s1), (m2, s2) = stats("gray"), stats("gt")
    assert fid_gray == pytest.approx(fid.frechet_distance(m1, s1, m2, s2), rel=1e-6)


def test_empty_folder_and_no_method(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputImageError, match="no images"):
        evaluate(EvalConfig(tmp_path / "empty", baselines=["gray"]))
    with pytest.raises(UsageError, match="nothing to score"):
        evaluate(EvalConfig(tmp_path / "empty"))


def test_neutral_stays_neutral_share(tmp_path: Path) -> None:
    images = make_photos(tmp_path / "gt")
    # A "method" that paints the gray photo's top half pink and copies the rest: of the near-
    # neutral ground-truth pixels (only c_gray.png has any) exactly half come out tinted.
    tinted = dict(images)
    pink = images["c_gray.png"].copy()
    pink[: pink.shape[0] // 2] = (170, 100, 120)
    tinted["c_gray.png"] = pink
    write_copies(tmp_path / "pink", tinted)
    result = evaluate(
        EvalConfig(tmp_path / "gt", baselines=["gray"], predictions=[("pink", tmp_path / "pink")], resolution=Resolution("native"))
    )
    gray, pink_summary = result.summary["gray"], result.summary["pink"]
    assert gray["neutral_pixels"] == pink_summary["neutral_pixels"] == 16 * 20
    assert gray["neutral_tinted"] == 0.0
    assert pink_summary["neutral_tinted"] == pytest.approx(50.0)
    rows = {(r["method"], r["file"]): r for r in result.rows}
    assert rows[("pink", "c_gray.png")]["neutral_tinted"] == pytest.approx(50.0)
    assert rows[("pink", "a_red_green.png")]["neutral_tinted"] is None  # no neutral pixels there
