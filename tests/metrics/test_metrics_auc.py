"""AuC of the ab-error CMF: cases whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from autocolor.metrics import auc as auc_module
from autocolor.metrics.auc import (
    CMFAccumulator,
    ab_errors,
    nearest_bins,
    rebalancing_weights,
)


def _ab(values: list[tuple[float, float]], repeat: int = 1) -> np.ndarray:
    """(2, 1, N) ab image from a list of (a, b) pairs."""
    arr = np.array(values, dtype=np.float64).repeat(repeat, axis=0)
    return arr.T[:, None, :]


def _auc(pred: np.ndarray, gt: np.ndarray, weights: np.ndarray | None = None) -> CMFAccumulator:
    acc = CMFAccumulator()
    acc.update(ab_errors(pred, gt), weights)
    return acc


def test_identical_images_give_auc_one_and_full_cmf() -> None:
    gt = np.random.default_rng(0).uniform(-80, 80, size=(2, 9, 7))
    acc = _auc(gt.copy(), gt)
    assert acc.auc() == 1.0
    assert np.all(acc.cmf() == 1.0)
    assert acc.cmf().shape == (151,)


def test_constant_integer_shift_is_a_step_at_the_distance() -> None:
    gt = np.random.default_rng(1).uniform(-50, 50, size=(2, 6, 5))
    pred = gt + np.array([3.0, 4.0])[:, None, None]  # |(3, 4)| = 5
    acc = _auc(pred, gt)
    cmf = acc.cmf()
    assert np.all(cmf[:5] == 0.0) and np.all(cmf[5:] == 1.0)
    # Trapezoid: the half step between t = 4 and 5, then 145 unit intervals at 1.
    assert acc.auc() == pytest.approx((150 - 5 + 0.5) / 150, abs=1e-12)


def test_non_integer_shift_counts_from_the_next_integer_threshold() -> None:
    gt = np.zeros((2, 4, 4))
    acc = _auc(gt + np.array([2.5, 0.0])[:, None, None], gt)
    assert acc.cmf()[2] == 0.0 and acc.cmf()[3] == 1.0
    assert acc.auc() == pytest.approx((150 - 3 + 0.5) / 150, abs=1e-12)


def test_gray_prediction_of_two_colours_by_hand() -> None:
    # Half the pixels at chroma 10 (6, 8), half at chroma 30 (18, 24); gray predicts ab = 0.
    gt = _ab([(6.0, 8.0), (18.0, 24.0)], repeat=5)
    acc = _auc(np.zeros_like(gt), gt)
    cmf = acc.cmf()
    assert cmf[9] == 0.0 and cmf[10] == 0.5 and cmf[29] == 0.5 and cmf[30] == 1.0
    # Area: 0.25 (9..10) + 19 * 0.5 (10..29) + 0.75 (29..30) + 120 (30..150) = 130.5.
    assert acc.auc() == pytest.approx(130.5 / 150, abs=1e-12)


def test_errors_beyond_150_never_count() -> None:
    gt = _ab([(0.0, 0.0), (120.0, 160.0)])  # second pixel: error 200 under a gray prediction
    acc = _auc(np.zeros_like(gt), gt)
    assert acc.cmf()[-1] == 0.5 and acc.cmf()[0] == 0.5
    assert acc.auc() == pytest.approx(0.5, abs=1e-12)


def test_streaming_merge_equals_one_update() -> None:
    rng = np.random.default_rng(2)
    errors = rng.uniform(0, 180, size=1000)
    weights = rng.uniform(0.1, 3.0, size=1000)
    whole = CMFAccumulator()
    whole.update(errors, weights)
    parts = CMFAccumulator()
    for chunk in np.array_split(np.arange(1000), 7):
        piece = CMFAccumulator()
        piece.update(errors[chunk], weights[chunk])
        parts.merge(piece)
    np.testing.assert_allclose(parts.cmf(), whole.cmf(), rtol=1e-12)
    assert parts.pixels == 1000


def test_nearest_bins_on_the_cic_lattice_matches_brute_force() -> None:
    from autocolor.color.bins import cic_ab_grid

    grid = cic_ab_grid().numpy().astype(np.float64)
    # Pixels all over ab, including far outside the in-gamut bins (exhaustive-search path).
    ab = np.random.default_rng(4).uniform(-140, 140, size=(2, 40, 50))
    d2 = ((ab.reshape(2, -1).T[:, None, :] - grid[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(nearest_bins(ab, grid).ravel(), d2.argmin(1))


def test_rebalanced_weighting_with_a_hand_made_prior() -> None:
    # Three pixels in bin 0 (prior 0.75) with zero error, one in bin 1 (prior 0.25) with error 20.
    grid = np.array([[0.0, 0.0], [20.0, 0.0]])
    prior = np.array([0.75, 0.25])
    gt = _ab([(0.0, 0.0), (0.0, 0.0), (1.0, -1.0), (20.0, 0.0)])
    pred = np.zeros_like(gt)
    pred[:, :, 2] = gt[:, :, 2]
    weights = rebalancing_weights(gt, prior, grid)
    np.testing.assert_allclose(weights[0], [4 / 3, 4 / 3, 4 / 3, 4.0])
    raw = _auc(pred, gt)
    rebal = _auc(pred, gt, weights)
    # Raw: 3/4 of pixels at e = 0, 1/4 at e = 20 -> (0.75 * 150 + 0.25 * 130.5) / 150.
    assert raw.auc() == pytest.approx((0.75 * 150 + 0.25 * 130.5) / 150, abs=1e-12)
    # Rebalanced: total weight 4 + 4, so each bin counts half -> (0.5 * 150 + 0.5 * 130.5) / 150.
    assert rebal.auc() == pytest.approx((0.5 * 150 + 0.5 * 130.5) / 150, abs=1e-12)


def test_zero_prior_bin_hit_by_ground_truth_is_an_error() -> None:
    grid = np.array([[0.0, 0.0], [50.0, 0.0]])
    with pytest.raises(ValueError, match="probability 0"):
        rebalancing_weights(_ab([(49.0, 0.0)]), np.array([1.0, 0.0]), grid)


def test_nearest_bins_in_chunks_matches_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auc_module, "_BIN_CHUNK", 7)
    rng = np.random.default_rng(3)
    grid = rng.uniform(-100, 100, size=(13, 2))
    ab = rng.uniform(-110, 110, size=(2, 5, 9))
    d2 = ((ab.reshape(2, -1).T[:, None, :] - grid[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(nearest_bins(ab, grid).ravel(), d2.argmin(1))


def test_empty_cmf_and_bad_errors_are_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        CMFAccumulator().cmf()
    with pytest.raises(ValueError):
        CMFAccumulator().update(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        CMFAccumulator().update(np.array([1.0, 2.0]), np.array([1.0]))
