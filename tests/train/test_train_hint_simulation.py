"""Simulated SIGGRAPH17 hints: counts, patch sizes, patch-mean colours, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autocolor.train.hint_simulation import HintSpec, simulate_hints


def _ab(n: int = 4, size: int = 24, seed: int = 0) -> torch.Tensor:
    return (torch.rand(n, 2, size, size, generator=torch.Generator().manual_seed(seed)) - 0.5) * 160


def test_p_none_one_gives_no_hints_and_zero_gives_hints_to_every_image() -> None:
    ab = _ab()
    hints, mask = simulate_hints(ab, HintSpec(p_none=1.0), torch.Generator().manual_seed(0))
    assert mask.sum() == 0 and hints.abs().sum() == 0
    hints, mask = simulate_hints(ab, HintSpec(p_none=0.0), torch.Generator().manual_seed(0))
    assert mask.shape == (4, 1, 24, 24) and hints.shape == ab.shape
    assert bool((mask.flatten(1).sum(1) >= 1).all())
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert hints[mask.expand_as(hints) == 0].abs().sum() == 0  # zero outside the patches


def test_one_point_is_a_square_patch_holding_the_mean_ab_of_that_patch() -> None:
    ab = _ab(n=20)
    spec = HintSpec(p_none=0.0, geometric_p=1.0, min_patch=1, max_patch=9)  # exactly one point
    hints, mask = simulate_hints(ab, spec, torch.Generator().manual_seed(3))
    sides = []
    for i in range(20):
        ys, xs = torch.nonzero(mask[i, 0], as_tuple=True)
        side = int(ys.max() - ys.min() + 1)
        assert side == int(xs.max() - xs.min() + 1) and len(ys) == side * side  # a full square
        patch = ab[i, :, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        expected = patch.mean(dim=(1, 2))
        assert torch.allclose(hints[i, :, ys, xs], expected[:, None].expand(2, len(ys)), atol=1e-4)
        sides.append(side)
    assert 1 <= min(sides) and max(sides) <= 9 and len(set(sides)) >= 4


def test_number_of_points_is_geometric_with_mean_one_over_p() -> None:
    ab = _ab(n=400, size=64)
    spec = HintSpec(p_none=0.0, geometric_p=0.125, min_patch=1, max_patch=1)  # 1-px points
    _, mask = simulate_hints(ab, spec, torch.Generator().manual_seed(0))
    counts = mask.flatten(1).sum(1).numpy()  # points (a few may coincide)
    assert counts.min() >= 1
    assert 7.0 < counts.mean() < 9.0  # E = 8, std of the mean ~ 0.37
    assert np.mean(counts == 1) == pytest.approx(0.125, abs=0.05)


def test_share_without_hints_follows_p_none_and_draws_are_reproducible() -> None:
    ab = _ab(n=400, size=16)
    _, mask = simulate_hints(ab, HintSpec(p_none=0.5), torch.Generator().manual_seed(7))
    assert float((mask.flatten(1).sum(1) == 0).float().mean()) == pytest.approx(0.5, abs=0.08)
    again = simulate_hints(ab, HintSpec(p_none=0.5), torch.Generator().manual_seed(7))[1]
    assert torch.equal(mask, again)


def test_bad_specs_are_errors() -> None:
    with pytest.raises(ValueError, match="p_none"):
        HintSpec(p_none=1.5)
    with pytest.raises(ValueError, match="geometric_p"):
        HintSpec(geometric_p=0.0)
    with pytest.raises(ValueError, match="patch sizes"):
        HintSpec(min_patch=5, max_patch=3)
