"""What an evaluation scores: one predictor per method (a model, a folder of outputs, a baseline).

A predictor turns one ground-truth image into ``(ab, rgb, nll)``: ab float64 ``(2, H, W)`` in
Lab units, the 8-bit sRGB image the method delivers ``(H, W, 3)`` uint8, and ``(nats, dims)``
for likelihood models (else ``None``).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from autocolor.errors import InputImageError, UsageError
from autocolor.evaluation.config import EvalConfig
from autocolor.evaluation.images import IMAGE_SUFFIXES, lab_to_rgb8, read_rgb8, resize_rgb8, rgb8_to_lab

Prediction = tuple[np.ndarray, np.ndarray, "tuple[float, int] | None"]


class Predictor(Protocol):
    name: str
    kind: str  # "model", "predictions" or "baseline"
    source: str

    def predict(self, rel: str, gt_rgb: np.ndarray, gt_lab: np.ndarray) -> Prediction: ...


class GrayPredictor:
    """The "no colorization" baseline: ab = 0, L* of the ground truth."""

    kind = "baseline"
    source = "ab = 0"

    def __init__(self, name: str = "gray") -> None:
        self.name = name

    def predict(self, rel: str, gt_rgb: np.ndarray, gt_lab: np.ndarray) -> Prediction:
        ab = np.zeros_like(gt_lab[1:])
        return ab, lab_to_rgb8(gt_lab[0], ab), None


class ModelPredictor:
    """A registered model through :class:`autocolor.pipeline.Colorizer`, fed L* only.

    For likelihood models (``colorizer.has_likelihood``, e.g. PIC) the negative log-likelihood
    of the true ab, ``colorizer.nll(lightness, ab) -> (nats, dims)``, is recorded for bits/dim.
    """

    kind = "model"

    def __init__(self, name: str, colorizer: Any) -> None:
        self.name = name
        self.colorizer = colorizer
        self.source = f"model {name}"

    def predict(self, rel: str, gt_rgb: np.ndarray, gt_lab: np.ndarray) -> Prediction:
        lightness = gt_lab[0].astype(np.float32)
        ab = np.asarray(self.colorizer.predict_ab(lightness), dtype=np.float64)
        if ab.shape != gt_lab[1:].shape:
            raise ValueError(f"{self.name} returned ab of shape {ab.shape}, expected {gt_lab[1:].shape}")
        nll = None
        if getattr(self.colorizer, "has_likelihood", False):
            nats, dims = self.colorizer.nll(lightness, gt_lab[1:].astype(np.float32))
            nll = (float(nats), int(dims))
        return ab, lab_to_rgb8(gt_lab[0], ab), nll


class HintedModelPredictor(ModelPredictor):
    """A hint-aware model given ``count`` colour hints simulated from the ground truth.

    The hints follow the SIGGRAPH17 release's evaluation (:func:`autocolor.hints.sample_ground_truth_hints`):
    the true ab brought to the network's input size (area average), ``count`` patches of
    :data:`autocolor.hints.GROUND_TRUTH_PATCH` pixels at normally distributed positions, each
    given its mean ab. The positions come from ``RandomState([seed, crc32(relative path)])``:
    the same for every model and run, and the points of a smaller count are the first points of
    a larger one. ``count = 0`` is the model's automatic colorization.
    """

    def __init__(self, name: str, colorizer: Any, count: int, seed: int) -> None:
        super().__init__(f"{name}:hints={count}", colorizer)
        self.hint_count = count
        self.seed = seed
        self.source = f"model {name}, {count} ground-truth hints"

    def predict(self, rel: str, gt_rgb: np.ndarray, gt_lab: np.ndarray) -> Prediction:
        maps = ground_truth_hint_maps(self.colorizer, rel, gt_lab, self.hint_count, self.seed)
        ab = np.asarray(self.colorizer.predict_ab(gt_lab[0].astype(np.float32), maps), dtype=np.float64)
        return ab, lab_to_rgb8(gt_lab[0], ab), None


def ground_truth_hint_maps(colorizer: Any, rel: str, gt_lab: np.ndarray, count: int, seed: int) -> Any:
    """``count`` hints simulated from a photo's true colours at ``colorizer``'s network input.

    Args:
        colorizer: a :class:`autocolor.pipeline.Colorizer` (its network input size is used).
        rel: the photo's path relative to the data folder (seeds the positions).
        gt_lab: ``(3, H, W)`` true Lab.
        count: number of points.
        seed: run seed; positions come from ``RandomState([seed, crc32(rel)])``.

    Returns:
        :class:`autocolor.hints.HintMaps` (see :class:`HintedModelPredictor`).
    """
    import torch
    import torch.nn.functional as F

    from autocolor.hints import GROUND_TRUTH_PATCH, sample_ground_truth_hints
    from autocolor.pipeline import network_input_size

    size = network_input_size(colorizer.net, *gt_lab.shape[1:], colorizer.size)
    true_ab = torch.from_numpy(np.ascontiguousarray(gt_lab[1:], dtype=np.float32))[None]
    small_ab = F.interpolate(true_ab, size=size, mode="area")[0]
    rng = np.random.RandomState([seed, zlib.crc32(rel.encode())])
    return sample_ground_truth_hints(small_ab, count, rng, (GROUND_TRUTH_PATCH,))


class FilesPredictor:
    """Existing outputs of any tool: ``DIR/<relative path>`` with any image extension."""

    kind = "predictions"

    def __init__(self, name: str, directory: Path) -> None:
        if not directory.is_dir():
            raise UsageError(f"{directory}: --predictions folder not found")
        self.name = name
        self.directory = directory
        self.source = str(directory)

    def find(self, rel: str) -> Path:
        """The prediction file for ground truth ``rel``: same name first, else same stem."""
        exact = self.directory / rel
        if exact.is_file():
            return exact
        stem = Path(rel)
        candidates = sorted(
            p
            for p in (self.directory / stem.parent).glob(f"{stem.stem}.*")
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
        if len(candidates) != 1:
            reason = "no prediction file" if not candidates else f"{len(candidates)} candidate files"
            raise InputImageError(self.directory / stem.parent / stem.stem, f"{reason} for method {self.name}")
        return candidates[0]

    def predict(self, rel: str, gt_rgb: np.ndarray, gt_lab: np.ndarray) -> Prediction:
        rgb = resize_rgb8(read_rgb8(self.find(rel)), (gt_rgb.shape[1], gt_rgb.shape[0]))
        return rgb8_to_lab(rgb)[1:], rgb, None


def make_predictors(config: EvalConfig) -> list[Predictor]:
    """Predictors in order baselines, predictions, models; names must be unique."""
    predictors: list[Predictor] = [GrayPredictor(name) for name in config.baselines]
    predictors += [FilesPredictor(name, Path(path)) for name, path in config.predictions]
    if config.models:
        from autocolor.decode import FLIP_AVERAGE, OPTION_KINDS, PRIOR_CORRECTION
        from autocolor.models import model_info
        from autocolor.pipeline import Colorizer
        from autocolor.sampling import MIXTURE_KIND, MIXTURE_TEMPERATURE

        tau = config.mixture_temperature
        for name in config.models:
            options_given = (tau, config.prior_correction, config.flip_average) != (None, None, None)
            kind = model_info(name).output_kind if options_given else ""
            pic = tau is not None and kind == MIXTURE_KIND
            extra: dict[str, object] = {MIXTURE_TEMPERATURE: tau} if pic else {}
            for key, value in ((PRIOR_CORRECTION, config.prior_correction), (FLIP_AVERAGE, config.flip_average)):
                if value is not None and kind in OPTION_KINDS[key]:  # other models: scored as they are
                    extra[key] = value
            colorizer = Colorizer(
                name,
                device=config.device,
                seed=config.seed,
                temperature=config.temperature,
                pretrained=config.pretrained,
                offline=config.offline,
                extra=extra or None,
                hint_spread=config.hint_spread,
            )
            if config.hint_counts and colorizer.accepts_hints:
                seed = config.seed or 0
                predictors += [HintedModelPredictor(name, colorizer, n, seed) for n in config.hint_counts]
            else:  # automatic only (without a sweep, or a model that takes no hints: a reference)
                predictors.append(ModelPredictor(name, colorizer))
    if config.hint_counts and not any(isinstance(p, HintedModelPredictor) for p in predictors):
        raise UsageError(
            "--hints-from-ground-truth needs a model that takes colour hints (e.g. cic.base, cic.siggraph17); "
            f"none of {', '.join(config.models) or 'the methods'} does"
        )
    names = [p.name for p in predictors]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"method names must be unique, repeated: {', '.join(duplicates)}")
    return predictors
