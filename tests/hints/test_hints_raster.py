"""Hints -> network inputs: patch geometry, snapping, simulated hints, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autocolor.color.lab import lab_to_rgb
from autocolor.hints import (
    HintMaps,
    parse_hint,
    rasterize_hints,
    sample_ground_truth_hints,
    snap_ab,
    stack_hint_maps,
)


def flat(value: float = 50.0, size: int = 32) -> torch.Tensor:
    return torch.full((size, size), value)


def test_patch_is_a_square_of_side_2r_plus_1_centred_on_the_scaled_point() -> None:
    # A 64x128 photo on a 32x32 input: x scales by 1/4, y by 1/2.
    maps = rasterize_hints([parse_hint("41,21,lab:10,-20", radius=2)], flat(), (64, 128))
    rows, cols = torch.nonzero(maps.mask[0], as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 12, 8, 12)  # centre (10, 10)
    assert maps.mask.sum() == 25 and set(maps.mask.unique().tolist()) == {0.0, 1.0}
    inside = maps.ab[:, 10, 10]
    assert inside.tolist() == pytest.approx([10, -20], abs=1.0)  # in gamut at L*=50: kept (8-bit)
    assert maps.ab[:, maps.mask[0] == 0].abs().max() == 0


def test_patches_are_clipped_at_the_border_and_later_hints_paint_over() -> None:
    hints = [parse_hint("0,0,lab:30,0", radius=3), parse_hint("2,2,lab:-30,0", radius=0)]
    maps = rasterize_hints(hints, flat(), (32, 32))
    assert maps.mask.sum() == 16  # 4x4 corner of the 7x7 patch
    assert maps.ab[0, 2, 2] < -20 and maps.ab[0, 0, 0] > 20


def test_radius_zero_is_one_pixel_and_no_hints_are_empty_maps() -> None:
    maps = rasterize_hints([parse_hint("5,5,#ff0000", radius=0)], flat(), (32, 32))
    assert maps.mask.sum() == 1 and maps.mask[0, 5, 5] == 1
    assert rasterize_hints([], flat(), (32, 32)).empty


def test_snapped_colours_lie_in_gamut_at_the_pixel_lightness() -> None:
    lightness = torch.tensor([10.0, 50.0, 90.0, 97.0])
    wanted = torch.tensor([[80.0, 70.0], [-90.0, 80.0], [60.0, -100.0], [0.0, 90.0]])  # all out of gamut
    snapped = snap_ab(lightness, wanted)
    rgb = lab_to_rgb(torch.cat((lightness.double()[:, None], snapped), 1).T[:, :, None], clip=False)
    assert rgb.min() > -0.03 and rgb.max() < 1.03  # within 8-bit rounding / L* drift of the gamut
    # Chroma is reduced, hue roughly kept.
    assert (snapped.norm(dim=1) < wanted.double().norm(dim=1)).all()
    cos = torch.nn.functional.cosine_similarity(snapped, wanted.double(), dim=1)
    assert (cos > 0.8).all()


def test_in_gamut_colours_are_kept_to_8_bit_precision() -> None:
    snapped = snap_ab(torch.tensor([60.0]), torch.tensor([[20.0, 30.0]]))
    assert snapped[0].tolist() == pytest.approx([20.0, 30.0], abs=1.0)


def test_simulated_hints_are_patch_means_of_the_truth() -> None:
    truth = torch.randn(2, 48, 40, generator=torch.Generator().manual_seed(0)) * 30
    maps = sample_ground_truth_hints(truth, 1, np.random.RandomState(5), (6,))
    rows, cols = torch.nonzero(maps.mask[0], as_tuple=True)
    top, left = int(rows.min()), int(cols.min())
    assert maps.mask.sum() == 36 and rows.max() - top == 5 and cols.max() - left == 5
    expected = truth[:, top : top + 6, left : left + 6].mean(dim=(1, 2))
    assert torch.allclose(maps.ab[:, top, left], expected, atol=1e-5)


def test_simulated_hints_are_seeded_and_nested() -> None:
    truth = torch.randn(2, 64, 64, generator=torch.Generator().manual_seed(1)) * 30
    five = sample_ground_truth_hints(truth, 5, np.random.RandomState(9))
    again = sample_ground_truth_hints(truth, 5, np.random.RandomState(9))
    ten = sample_ground_truth_hints(truth, 10, np.random.RandomState(9))
    assert torch.equal(five.mask, again.mask) and torch.equal(five.ab, again.ab)
    assert (ten.mask >= five.mask).all() and ten.mask.sum() > five.mask.sum()  # the first 5 of 10
    assert sample_ground_truth_hints(truth, 0, np.random.RandomState(9)).empty
    with pytest.raises(ValueError, match="does not fit"):
        sample_ground_truth_hints(truth[:, :4, :4], 1, np.random.RandomState(0))


def test_stacking_keeps_hint_free_batches_hint_free() -> None:
    assert stack_hint_maps([None, HintMaps.zeros(8, 8)], 8, 8) is None
    one = rasterize_hints([parse_hint("1,1,#ff0000", radius=0)], flat(size=8), (8, 8))
    ab, mask = stack_hint_maps([None, one], 8, 8)
    assert ab.shape == (2, 2, 8, 8) and mask.shape == (2, 1, 8, 8)
    assert mask[0].sum() == 0 and mask[1].sum() == 1
    with pytest.raises(ValueError):
        stack_hint_maps([one], 16, 16)
    with pytest.raises(ValueError, match="hint maps"):
        HintMaps(torch.zeros(2, 4, 4), torch.zeros(1, 4, 5))
