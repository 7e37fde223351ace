"""Empirical prior, Gaussian smoothing, CIC rebalancing weights and prior files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from autocolor.color.bins import NUM_BINS, cic_ab_grid
from autocolor.color.prior import (
    ab_histogram,
    load_prior,
    project_log_weights,
    project_prior_path,
    rebalancing_weights,
    save_prior,
    smooth_prior,
)


def _random_prior(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.gamma(0.3, size=NUM_BINS)
    return p / p.sum()


def test_histogram_counts_nearest_bins() -> None:
    grid = cic_ab_grid()
    # Pixel values: the centre of bin 7 twice, bin 100 plus a small offset once, bin 312 once.
    pixels = torch.stack([grid[7], grid[7], grid[100] + torch.tensor([2.0, -3.0]), grid[312]], dim=1)
    ab = pixels.view(1, 2, 2, 2)
    counts = ab_histogram(ab)
    assert counts.dtype == np.float64 and counts.shape == (NUM_BINS,)
    assert counts[7] == 2 and counts[100] == 1 and counts[312] == 1 and counts.sum() == 4


def test_histogram_chunks_and_numpy_input_agree_with_bincount() -> None:
    rng = np.random.default_rng(1)
    ab = rng.uniform(-60, 60, size=(2, 2, 130, 150)).astype(np.float32)  # > one chunk of pixels
    grid = cic_ab_grid().numpy().astype(np.float64)
    flat = ab.transpose(1, 0, 2, 3).reshape(2, -1).T.astype(np.float64)
    nearest = np.argmin(((flat[:, None, :] - grid[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(ab_histogram(ab), np.bincount(nearest, minlength=NUM_BINS))


def test_histogram_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        ab_histogram(torch.zeros(2, 4, 4))


def test_smoothing_matches_brute_force() -> None:
    p = _random_prior()
    grid = cic_ab_grid().numpy().astype(np.float64)
    sigma = 5.0
    brute = np.zeros(NUM_BINS)
    for q in range(NUM_BINS):
        for r in range(NUM_BINS):
            d2 = (grid[q, 0] - grid[r, 0]) ** 2 + (grid[q, 1] - grid[r, 1]) ** 2
            brute[q] += p[r] * np.exp(-d2 / (2 * sigma**2))
    brute /= brute.sum()
    smoothed = smooth_prior(p, sigma=sigma)
    np.testing.assert_allclose(smoothed, brute, rtol=1e-10)
    assert smoothed.sum() == pytest.approx(1.0)


def test_smoothing_spreads_a_spike_to_neighbours_only() -> None:
    grid = cic_ab_grid().numpy()
    q = int(np.nonzero((grid == (0, 0)).all(1))[0][0])
    p = np.zeros(NUM_BINS)
    p[q] = 1.0
    smoothed = smooth_prior(p)
    d = np.sqrt(((grid - grid[q]) ** 2).sum(1))
    # Neighbours at distance 10 get exp(-2) of the centre, diagonal ones exp(-4).
    np.testing.assert_allclose(smoothed[d == 10] / smoothed[q], np.exp(-2.0), rtol=1e-12)
    np.testing.assert_allclose(smoothed[np.isclose(d, np.sqrt(200))] / smoothed[q], np.exp(-4.0), rtol=1e-12)
    assert smoothed.argmax() == q
    # sigma = 0 only renormalises.
    np.testing.assert_array_equal(smooth_prior(3 * p, sigma=0), p)


def test_weights_have_unit_expectation_under_the_smoothed_prior() -> None:
    p = _random_prior(2)
    for lam, sigma in ((0.5, 5.0), (0.2, 5.0), (0.5, 0.0), (1.0, 5.0)):
        w = rebalancing_weights(p, lam=lam, sigma=sigma)
        assert w.shape == (NUM_BINS,) and np.all(w > 0)
        assert float(np.sum(smooth_prior(p, sigma=sigma) * w)) == pytest.approx(1.0, abs=1e-12)


def test_weights_follow_the_cic_formula() -> None:
    p = _random_prior(3)
    smoothed = smooth_prior(p, sigma=5.0)
    w = rebalancing_weights(p, lam=0.5, sigma=5.0)
    raw = 1.0 / (0.5 * smoothed + 0.5 / NUM_BINS)
    np.testing.assert_allclose(w, raw / np.sum(smoothed * raw), rtol=1e-12)
    # Rarer (smoothed) bins get larger weights: the orders are exactly reversed.
    assert np.all(np.diff(w[np.argsort(smoothed)]) <= 1e-12)
    assert w[smoothed.argmin()] > 1.0 > w[smoothed.argmax()]


def test_uniform_prior_gives_unit_weights() -> None:
    w = rebalancing_weights(np.full(NUM_BINS, 1.0 / NUM_BINS), lam=0.5, sigma=0.0)
    np.testing.assert_allclose(w, 1.0, rtol=1e-12)
    # With lam = 1 the weights are 1 whatever the prior.
    np.testing.assert_allclose(rebalancing_weights(_random_prior(), lam=1.0), 1.0, rtol=1e-12)


def test_weights_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="lam"):
        rebalancing_weights(_random_prior(), lam=1.5)
    p = np.zeros(NUM_BINS)
    p[0] = 1.0
    with pytest.raises(ValueError, match="infinite"):
        rebalancing_weights(p, lam=0.0, sigma=0.0)
    with pytest.raises(ValueError, match="grid"):
        smooth_prior(np.ones(10))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    p = _random_prior(4)
    path = tmp_path / "prior"  # no suffix: written exactly here, not at prior.npy
    save_prior(path, p)
    assert path.exists()
    loaded = load_prior(path)
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, p)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full(312, 1 / 312), "shape"),
        (np.full(NUM_BINS, 1.0), "sum to 1"),
        (np.concatenate([[-0.1, 0.1], np.full(NUM_BINS - 2, 1 / (NUM_BINS - 2))]), "non-negative"),
        (np.full(NUM_BINS, np.nan), "finite"),
    ],
)
def test_load_rejects_invalid_priors(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(ValueError, match=message) as info:
        load_prior(path)
    assert "bad.npy" in str(info.value)
    with pytest.raises(ValueError, match=message):
        save_prior(tmp_path / "out.npy", array)


def test_load_rejects_non_npy_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "junk.npy"
    path.write_text("not an array")
    with pytest.raises(ValueError, match="junk.npy"):
        load_prior(path)
    with pytest.raises(FileNotFoundError):
        load_prior(tmp_path / "missing.npy")


def test_official_prior_file_loads(shared_dir: Path) -> None:
    p = load_prior(shared_dir / "reference" / "prior_probs.npy")
    w = rebalancing_weights(p, lam=0.5, sigma=0.0)
    assert float(np.sum(p * w)) == pytest.approx(1.0, abs=1e-12)


def test_project_log_weights_are_the_cic_weights_of_the_shipped_prior() -> None:
    prior = load_prior(project_prior_path())
    for lam in (0.5, 1.0):
        expected = np.log(rebalancing_weights(prior, lam=lam, sigma=0.0))
        assert np.allclose(project_log_weights(lam).numpy(), expected, atol=1e-5)
    assert torch.allclose(project_log_weights(1.0), torch.zeros(NUM_BINS))  # lambda 1: no rebalancing
    # Frequent (near-neutral) bins weigh least: the correction favours them.
    grid = cic_ab_grid()
    neutral = int(grid.norm(dim=1).argmin())
    assert project_log_weights(0.5)[neutral] < project_log_weights(0.5).median()
