"""The "neutral stays neutral" share, on ab fields built by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autocolor.metrics.neutrality import NeutralAccumulator, neutral_counts


def _ab(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a, b]).astype(np.float64)


def test_counts_by_hand() -> None:
    # Ground truth: chroma 0, 3, 4.99 (neutral), 5 and 30 (not neutral).
    gt = _ab(np.array([[0.0, 3.0, 4.99, 5.0, 30.0]]), np.zeros((1, 5)))
    # Prediction: chroma 16 (tinted), 15 (not: strictly above), 3-4-5 triangle x4 = 20 (tinted), 40, 40.
    pred = _ab(np.array([[16.0, 15.0, 12.0, 40.0, 40.0]]), np.array([[0.0, 0.0, 16.0, 0.0, 0.0]]))
    assert neutral_counts(pred, gt) == (3, 2)


def test_gray_prediction_scores_zero_and_copy_of_truth_too() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 8, size=(2, 20, 30))
    acc = NeutralAccumulator()
    acc.update(np.zeros_like(gt), gt)
    assert acc.neutral > 0 and acc.share == 0.0
    acc2 = NeutralAccumulator()
    acc2.update(gt, gt)  # a perfect prediction never tints a neutral pixel
    assert acc2.share == 0.0


def test_pooled_over_images_not_averaged() -> None:
    acc = NeutralAccumulator()
    gt = np.zeros((2, 1, 4))
    acc.update(np.full((2, 1, 4), 20.0), gt)  # 4 neutral, all tinted
    acc.update(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))  # 12 neutral, none tinted
    assert (acc.neutral, acc.tinted) == (16, 4)
    assert acc.share == pytest.approx(0.25)  # a mean of per-image shares would say 0.5


def test_no_neutral_pixels_is_nan_and_bad_shapes_are_errors() -> None:
    acc = NeutralAccumulator()
    acc.update(np.zeros((2, 2, 2)), np.full((2, 2, 2), 50.0))
    assert math.isnan(acc.share)
    with pytest.raises(ValueError, match=r"\(2, H, W\)"):
        neutral_counts(np.zeros((3, 2, 2)), np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="differ in size"):
        neutral_counts(np.zeros((2, 2, 2)), np.zeros((2, 3, 2)))
