"""The CIC grid as torch tensors, nearest bin and soft-encoding."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from autocolor.color.bins import NUM_BINS, cic_ab_grid, nearest_bin, soft_encode


def test_grid_equals_the_official_file(shared_dir: Path) -> None:
    reference = np.load(shared_dir / "reference" / "pts_in_hull.npy")
    grid = cic_ab_grid()
    assert grid.dtype == torch.float32 and grid.shape == (NUM_BINS, 2)
    np.testing.assert_array_equal(grid.numpy(), reference.astype(np.float32))


def test_grid_is_a_fresh_tensor_each_call() -> None:
    grid = cic_ab_grid()
    grid[0] = 1234.0
    assert cic_ab_grid()[0, 0] != 1234.0
    assert cic_ab_grid("cpu").device.type == "cpu"


def test_nearest_bin_of_centres_and_of_offsets() -> None:
    grid = cic_ab_grid()
    # Every centre (as a 1 x 313 image) maps to itself; a small offset keeps it there.
    ab = grid.T.reshape(1, 2, 1, NUM_BINS)
    np.testing.assert_array_equal(nearest_bin(ab, grid).flatten().numpy(), np.arange(NUM_BINS))
    shifted = ab + torch.tensor([3.0, -4.0]).view(1, 2, 1, 1)
    np.testing.assert_array_equal(nearest_bin(shifted).flatten().numpy(), np.arange(NUM_BINS))
    # (0, 0) + (6, 0) is nearer (10, 0) than (0, 0).
    q10 = int(((grid - torch.tensor([10.0, 0.0])).abs().sum(1) == 0).nonzero())
    point = torch.tensor([6.0, 0.0]).view(1, 2, 1, 1)
    assert int(nearest_bin(point, grid)) == q10


def test_nearest_bin_shape() -> None:
    ab = torch.zeros(3, 2, 4, 5)
    assert nearest_bin(ab).shape == (3, 4, 5)
    assert nearest_bin(ab).dtype == torch.long


@pytest.mark.parametrize("q", [0, 120, 200, 312])
def test_soft_encode_of_a_bin_centre(q: int) -> None:
    grid = cic_ab_grid()
    centre = grid[q].view(1, 2, 1, 1)
    target = soft_encode(centre, grid, k=5, sigma=5.0)[0, :, 0, 0]
    assert target.shape == (NUM_BINS,)
    assert float(target.sum()) == pytest.approx(1.0, abs=1e-6)
    assert int(target.argmax()) == q
    support = (target > 0).nonzero().flatten()
    assert 1 <= len(support) <= 5
    # Weights follow exp(-d^2 / (2 sigma^2)) of the neighbour distances, normalised.
    d2 = ((grid[support] - grid[q]) ** 2).sum(1)
    expected = torch.exp(-d2 / 50.0)
    torch.testing.assert_close(target[support], expected / expected.sum(), rtol=1e-5, atol=1e-7)


def test_soft_encode_interior_point_against_brute_force() -> None:
    grid = cic_ab_grid()
    point = torch.tensor([13.0, -27.0])
    target = soft_encode(point.view(1, 2, 1, 1), grid, k=5, sigma=5.0)[0, :, 0, 0].double()
    d2 = ((grid.double() - point.double()) ** 2).sum(1)
    nearest = torch.argsort(d2)[:5]
    expected = torch.zeros(NUM_BINS, dtype=torch.float64)
    expected[nearest] = torch.exp(-d2[nearest] / 50.0)
    expected /= expected.sum()
    torch.testing.assert_close(target, expected, rtol=1e-5, atol=1e-7)
    assert math.isclose(float(target.sum()), 1.0, abs_tol=1e-6)


def test_soft_encode_far_out_of_gamut_does_not_underflow() -> None:
    target = soft_encode(torch.tensor([300.0, 300.0]).view(1, 2, 1, 1))
    assert torch.isfinite(target).all()
    assert float(target.sum()) == pytest.approx(1.0, abs=1e-6)
