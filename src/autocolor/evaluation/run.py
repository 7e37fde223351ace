"""Score colorizations of a folder of colour photos with the field's metrics, streaming.

For every colour image of ``data_dir`` (sorted by relative path): decode it as 8-bit sRGB
(EXIF orientation applied), bring it to the evaluation resolution, convert to Lab
(:func:`autocolor.color.lab.rgb_to_lab`, float64), then for every method get a prediction:

* ``model`` ``NAME``: ``Colorizer(NAME).predict_ab(L*)`` sees only the ground truth's L*; the AuC
  and RMSE use the raw predicted ab (as the CIC paper did), the RGB metrics use
  ``lab_to_rgb(L*_gt, ab)`` gamut-clipped and quantised to 8 bits;
* ``predictions`` ``NAME=DIR``: the file of ``DIR`` with the same relative path (any image
  extension), resized to the evaluated size if it differs; its ab is that of the 8-bit file;
* ``baseline`` ``gray``: ab = 0 everywhere (L* kept).

An image is scored only if every method produced a prediction for it, so all methods are
compared on the same images; unreadable images, images under 11 px a side and missing or
broken predictions are reported in ``skipped`` and left out. Memory is flat in the number of
images: pixel data live for one image, the accumulators are fixed-size histograms and sums,
and each image adds only a row of scalars.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autocolor import __version__
from autocolor.color.prior import project_prior_path
from autocolor.errors import InputImageError, UsageError
from autocolor.evaluation.config import BASELINES, GROUND_TRUTH, EvalConfig, EvalResult, Resolution
from autocolor.evaluation.images import IMAGE_SUFFIXES, read_rgb8, resize_rgb8, rgb8_to_lab
from autocolor.evaluation.methods import make_predictors
from autocolor.evaluation.scores import MethodScores
from autocolor.metrics.auc import MAX_THRESHOLD, rebalancing_weights
from autocolor.metrics.colorfulness import colorfulness_both
from autocolor.metrics.fidelity import SSIM_MIN_SIDE


def default_prior_path() -> Path:
    """The project's own prior shipped in the package (``autocolor/assets/prior_ab.npy``)."""
    return project_prior_path()


def find_images(data_dir: Path) -> list[Path]:
    """Image files under ``data_dir`` (recursively), sorted by relative path."""
    if not data_dir.is_dir():
        raise InputImageError(data_dir, "not a directory")
    return sorted(
        (p for p in data_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: p.relative_to(data_dir).as_posix(),
    )


def dataset_fingerprint(data_dir: Path, files: Sequence[Path]) -> str:
    """sha256 of the sorted ``relative path<TAB>byte size`` lines: identifies the scored set."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(data_dir).as_posix()}\t{path.stat().st_size}\n".encode())
    return digest.hexdigest()


def _load_rebalancing(config: EvalConfig) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]:
    """(weights-ready prior, grid, protocol entry); prior None when rebalanced AuC is off."""
    path = config.prior_path or default_prior_path()
    if not 0.0 <= config.rebalance_lambda <= 1.0:
        raise UsageError(f"--rebalance-lambda must be in [0, 1], got {config.rebalance_lambda}")
    entry: dict[str, Any] = {
        "prior": str(path),
        "prior_smoothing_sigma": config.prior_smoothing,
        "lambda": config.rebalance_lambda,
    }
    if not path.is_file():
        if config.prior_path is not None:
            raise UsageError(f"{path}: prior file not found")
        entry["unavailable"] = "the project's prior is not shipped yet; pass --prior FILE"
        return None, None, entry
    from autocolor.color.prior import load_prior, smooth_prior

    try:
        prior = load_prior(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        grid = config.grid
        if grid is None:
            from autocolor.color.bins import cic_ab_grid

            grid = cic_ab_grid().numpy()
    except NotImplementedError:
        entry["unavailable"] = "the CIC bin grid (autocolor.color.bins.cic_ab_grid) is not available"
        return None, None, entry
    prior = smooth_prior(prior, grid, config.prior_smoothing)
    # Zhang's mix with the uniform distribution; the paper's rebalanced AuC uses lambda = 0.
    prior = (1.0 - config.rebalance_lambda) * prior + config.rebalance_lambda / len(prior)
    if prior.min() <= 0:
        raise UsageError(f"{path}: {int((prior <= 0).sum())} bins have probability 0; pass --prior-smoothing 5")
    entry["prior_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return prior, np.asarray(grid, dtype=np.float64), entry


def build_protocol(config: EvalConfig, rebalancing: dict[str, Any]) -> dict[str, Any]:
    """The description written beside every number."""
    return {
        "autocolor_version": __version__,
        "data_dir": str(config.data_dir),
        "resolution": config.resolution.describe(),
        "ground_truth": "8-bit sRGB decoded by Pillow (EXIF orientation applied); Lab D65 as skimage rgb2lab",
        "model_input": "L* of the ground truth only",
        "auc": (
            f"per-pixel Euclidean ab error e (Lab units); Acc(t) = weighted share of pixels with e <= t for "
            f"integer t = 0..{MAX_THRESHOLD}, pooled over all pixels of the set; AuC = trapezoid area / "
            f"{MAX_THRESHOLD}, in %; models: raw predicted ab, files: ab of the 8-bit file"
        ),
        "auc_rebalanced": {
            "weights": "1 / ((1 - lambda) prior + lambda / 313)[nearest CIC bin of the ground-truth ab]; "
            "the paper: lambda = 0",
            **rebalancing,
        },
        "rmse_ab": "sqrt(mean(da^2 + db^2)) in Lab units; 'rmse_ab' pooled over pixels, 'rmse_ab_image_mean' per image",
        "psnr": "8-bit RGB (both quantised), 10 log10(255^2 / MSE over pixels and channels); "
        "'psnr' = mean of per-image values, 'psnr_pooled' from the pooled MSE",
        "ssim": "skimage structural_similarity on 8-bit RGB: Gaussian sigma 1.5, K1 0.01, K2 0.03, "
        "population covariance, data_range 255; mean of per-image values",
        "colorfulness": "Hasler & Suesstrunk on 8-bit RGB, mean of per-image values; 'colorfulness' = paper "
        "form (signed rg, yb), 'colorfulness_abs' = |rg|, |yb| form; delta = |mean(pred) - mean(gt)|",
        "fid": "pool3 features of the pytorch-fid InceptionV3 (2015-12-05) at 299x299 from the evaluated "
        "8-bit images, against the ground truths" if config.fid else "not computed (pass --fid)",
        "bits_per_dim": "pooled NLL / (dims ln 2), only for models that expose nll()",
        "device": config.device,
        "seed": config.seed,
        "temperature": "each model's default" if config.temperature is None else config.temperature,
        "mixture_temperature": "each PIC model's default"
        if config.mixture_temperature is None
        else config.mixture_temperature,
        "prior_correction": "each 313-bin model's default"
        if config.prior_correction is None
        else config.prior_correction,
        "flip_average": "each model's default" if config.flip_average is None else config.flip_average,
        **({"hints": _hints_protocol(config)} if config.hint_counts else {}),
    }


def _hints_protocol(config: EvalConfig) -> str:
    from autocolor.hints import GROUND_TRUTH_PATCH

    counts = ", ".join(str(n) for n in config.hint_counts)
    spread = config.hint_spread
    spreading = (
        "the network's output as it is" if spread is None else
        f"each hint's correction spread along its object (reach {spread.reach:g} of the longer side, "
        f"edge {spread.edge:g} px per L* unit, floor {spread.floor:g}; evidence {spread.evidence:g}, "
        f"sigma {spread.sigma:g} on 313-bin distributions)"
    )  # fmt: skip
    return (
        f"hint-aware models 'NAME:hints=N' for N = {counts}: N points simulated from the ground truth as the "
        f"SIGGRAPH17 release evaluates (true ab area-averaged to the network input; {GROUND_TRUTH_PATCH}x"
        f"{GROUND_TRUTH_PATCH}-pixel patches, top-left ~ normal(centre, side/4) clipped inside, mean ab; mask 0/1), "
        f"RandomState([seed, crc32(relative path)]); {spreading}; models that take no hints are scored once, "
        "automatically"
    )


def evaluate(
    config: EvalConfig,
    progress: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> EvalResult:
    """Score every method of ``config`` on the images of ``config.data_dir``.

    Args:
        progress: called with ``(done, total)`` after every image.
        warn: called with a one-line message for every skipped image.

    Raises:
        UsageError: no method, a bad option, an unusable prior.
        InputImageError: the folder has no image, or no image could be scored.
        WeightsError, UnknownModelError, DeviceError: a model or the FID network cannot load.
    """
    if not (config.models or config.predictions or config.baselines):
        raise UsageError("nothing to score: give --model, --predictions or --baseline gray")
    for name in config.baselines:
        if name not in BASELINES:
            raise UsageError(f"unknown baseline {name!r}; choose from: {', '.join(BASELINES)}")
    files = find_images(config.data_dir)
    if config.limit is not None:
        files = files[: max(0, config.limit)]
    if not files:
        raise InputImageError(config.data_dir, "no images found (no file in a format Pillow decodes)")
    prior, grid, rebalancing = _load_rebalancing(config)
    protocol = build_protocol(config, rebalancing)
    # The FID network first: a missing weights file should fail before models load.
    fid_scorer = _make_fid_scorer(config) if config.fid else None
    predictors = make_predictors(config)
    scores = {p.name: MethodScores(p.name, p.kind, p.source, rebalanced=prior is not None) for p in predictors}

    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    gt_colorfulness: dict[str, list[float]] = {"paper": [], "abs": []}
    weight_sums = np.zeros(2)  # sum w, sum w^2 over ground-truth pixels: effective pixel count
    for done, path in enumerate(files, start=1):
        rel = path.relative_to(config.data_dir).as_posix()
        try:
            gt_rgb = load_ground_truth(path, config.resolution)
            gt_lab = rgb8_to_lab(gt_rgb)
            predictions = {p.name: p.predict(rel, gt_rgb, gt_lab) for p in predictors}
            weights = rebalancing_weights(gt_lab[1:], prior, grid) if prior is not None else None
        except (InputImageError, OSError, ValueError, RuntimeError) as exc:
            # The file's own problems read "reason"; a prediction's name its file.
            own = isinstance(exc, InputImageError) and Path(exc.path) == path
            reason = exc.reason if own else str(exc)  # type: ignore[union-attr]
            skipped.append({"file": rel, "reason": reason})
            if warn is not None:
                warn(f"skipped {rel}: {reason}")
        else:
            gt_cf = colorfulness_both(gt_rgb)
            if weights is not None:
                weight_sums += (weights.sum(), (weights**2).sum())
            gt_colorfulness["paper"].append(gt_cf["paper"])
            gt_colorfulness["abs"].append(gt_cf["abs"])
            if fid_scorer is not None:
                fid_scorer.add(GROUND_TRUTH, gt_rgb)
            for name, (ab, rgb, nll) in predictions.items():
                row = scores[name].add(rel, gt_rgb, gt_lab, ab, rgb, weights, gt_cf, nll)
                rows.append(row)
                if fid_scorer is not None:
                    fid_scorer.add(name, rgb)
        if progress is not None:
            progress(done, len(files))

    if not rows:
        raise InputImageError(config.data_dir, f"no image could be scored ({len(skipped)} skipped)")
    gt_means = {k: float(np.mean(v)) for k, v in gt_colorfulness.items()}
    summary = {name: s.summary(gt_means) for name, s in scores.items()}
    for predictor in predictors:
        count = getattr(predictor, "hint_count", None)
        if count is not None:
            summary[predictor.name]["hint_points"] = count
    if fid_scorer is not None:
        for name in summary:
            summary[name]["fid"] = fid_scorer.fid(name, GROUND_TRUTH)
    protocol.update(
        images_found=len(files),
        images_scored=len(gt_colorfulness["paper"]),
        images_skipped=len(skipped),
        dataset_fingerprint=dataset_fingerprint(config.data_dir, files),
        ground_truth_colorfulness=gt_means["paper"],
        ground_truth_colorfulness_abs=gt_means["abs"],
    )
    if prior is not None:
        _report_weight_concentration(protocol, weight_sums, next(iter(scores.values())).pixels, warn)
    values = {GROUND_TRUTH: gt_colorfulness["paper"], **{n: s.colorfulness_values for n, s in scores.items()}}
    return EvalResult(protocol, summary, rows, skipped, values)


#: Below this share of effective pixels, the rebalanced AuC is reported with a warning.
MIN_EFFECTIVE_SHARE = 1e-3


def _report_weight_concentration(
    protocol: dict[str, Any], weight_sums: np.ndarray, pixels: int, warn: Callable[[str], None] | None
) -> None:
    """Record Kish's effective pixel count ``(sum w)^2 / sum w^2`` of the rebalancing weights.

    A prior that is near zero where the data has colour (estimated on too few images) hands
    almost all the weight to a few pixels; this number makes that visible.
    """
    effective = float(weight_sums[0] ** 2 / weight_sums[1]) if weight_sums[1] > 0 else 0.0
    entry = protocol["auc_rebalanced"]
    entry["effective_pixels"] = effective
    entry["effective_share"] = effective / pixels
    if effective / pixels < MIN_EFFECTIVE_SHARE and warn is not None:
        warn(
            f"rebalanced AuC rests on about {effective:.0f} effective pixels of {pixels}: the prior is near 0 "
            "where this data has colour; use a prior from more data, --prior-smoothing or --rebalance-lambda"
        )


def load_ground_truth(path: Path, resolution: Resolution) -> np.ndarray:
    """A photo as the evaluation sees it: uint8 sRGB ``(H, W, 3)`` at ``resolution``.

    Raises:
        InputImageError: unreadable, or too small for SSIM.
    """
    rgb = read_rgb8(path)
    rgb = resize_rgb8(rgb, resolution.target_size((rgb.shape[1], rgb.shape[0])))
    if min(rgb.shape[:2]) < SSIM_MIN_SIDE:
        size = f"{rgb.shape[1]}x{rgb.shape[0]}"
        raise InputImageError(path, f"too small to score ({size}, need {SSIM_MIN_SIDE} px a side)")
    return rgb


def _make_fid_scorer(config: EvalConfig) -> Any:
    from autocolor.devices import resolve_device
    from autocolor.metrics.fid import FIDScorer, build_fid_network, load_fid_state_dict

    device = resolve_device(config.device)
    return FIDScorer(build_fid_network(load_fid_state_dict(config.fid_weights), device), device)


__all__ = ["build_protocol", "dataset_fingerprint", "default_prior_path", "evaluate", "find_images"]
