"""Edge-aware spreading of hint corrections: distances, patches, and where a correction goes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autocolor.hints.propagate import HintSpread, geodesic_distance, hint_field, hint_patches, spread_hints


def brute_force_distance(lightness: np.ndarray, source: tuple[int, int], edge: float) -> np.ndarray:
    """Dijkstra over the 8-neighbour graph with the documented step cost (the reference)."""
    import heapq

    h, w = lightness.shape
    best = np.full((h, w), np.inf)
    best[source] = 0.0
    queue = [(0.0, source)]
    while queue:
        d, (y, x) = heapq.heappop(queue)
        if d > best[y, x]:
            continue
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ny, nx = y + dy, x + dx
                if (dy or dx) and 0 <= ny < h and 0 <= nx < w:
                    step = math.sqrt(dy * dy + dx * dx + (edge * (lightness[ny, nx] - lightness[y, x])) ** 2)
                    if d + step < best[ny, nx]:
                        best[ny, nx] = d + step
                        heapq.heappush(queue, (d + step, (ny, nx)))
    return best


def test_flat_image_distance_is_the_8_neighbour_chamfer_distance() -> None:
    sources = torch.zeros(1, 9, 9, dtype=torch.bool)
    sources[0, 4, 4] = True
    distance = geodesic_distance(torch.full((1, 9, 9), 50.0), sources)[0]
    assert distance[4, 4] == 0
    assert distance[4, 8] == pytest.approx(4.0)  # four straight steps
    assert distance[0, 0] == pytest.approx(4 * math.sqrt(2), rel=1e-6)  # four diagonal steps
    assert distance[0, 2] == pytest.approx(2 + 2 * math.sqrt(2), rel=1e-6)


def test_sweeps_match_dijkstra_on_a_winding_wall() -> None:
    # A bright wall with one gap: the short way round passes through the gap.
    rng = np.random.default_rng(3)
    lightness = rng.uniform(40, 45, size=(24, 24))
    lightness[12, :20] = 100.0
    sources = torch.zeros(1, 24, 24, dtype=torch.bool)
    sources[0, 2, 2] = True
    got = geodesic_distance(2.0 * torch.from_numpy(lightness).float()[None], sources, sweeps=3)[0].numpy()
    want = brute_force_distance(lightness.astype(np.float32).astype(np.float64), (2, 2), edge=2.0)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert got[20, 2] > 20  # below the wall: around through the gap, not straight down


def test_patches_are_the_connected_hinted_regions() -> None:
    mask = torch.zeros(10, 10)
    mask[1:3, 1:3] = 1
    mask[3, 3] = 1  # touches the first patch diagonally: the same patch
    mask[7:9, 6:9] = 1
    patches = hint_patches(mask)
    assert patches.shape == (2, 10, 10)
    assert sorted(int(p.sum()) for p in patches) == [5, 6]
    assert hint_patches(torch.zeros(4, 4)).shape == (0, 4, 4)


def two_regions(size: int = 32) -> torch.Tensor:
    """Dark left half (L* 20), bright right half (L* 80)."""
    lightness = torch.full((size, size), 20.0)
    lightness[:, size // 2 :] = 80.0
    return lightness


def one_hint(size: int, row: int, col: int, ab: tuple[float, float], radius: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    hint_ab, mask = torch.zeros(2, size, size), torch.zeros(1, size, size)
    window = (slice(None), slice(row - radius, row + radius + 1), slice(col - radius, col + radius + 1))
    hint_ab[window] = torch.tensor(ab)[:, None, None]
    mask[window] = 1.0
    return hint_ab, mask


def test_a_correction_fills_its_region_and_stops_at_the_edge() -> None:
    size = 32
    predicted = torch.zeros(2, size // 4, size // 4)  # a gray prediction on a 1/4 grid
    hint_ab, mask = one_hint(size, 16, 6, (0.0, -40.0))
    out = spread_hints(predicted, hint_field(two_regions(size), hint_ab, mask, HintSpread(reach=0.5, edge=2.0, floor=0.02)))
    assert out.shape == (2, size, size)
    left, right = out[1, :, : size // 2], out[1, :, size // 2 :]
    assert left.max() < -35 and left.mean() < -38  # blue all over the hinted (dark) region
    assert right.abs().max() < 1.0  # across a 60-unit edge: untouched
    assert out[0].abs().max() < 1e-5  # a* had no correction


def test_the_correction_fades_with_distance_on_flat_ground() -> None:
    size = 64
    hint_ab, mask = one_hint(size, 32, 4, (30.0, 0.0))
    field = hint_field(torch.full((size, size), 50.0), hint_ab, mask, HintSpread(reach=0.05, edge=1.0, floor=0.1))
    out = spread_hints(torch.zeros(2, size, size), field)
    row = out[0, 32]
    assert row[4] == pytest.approx(30 / 1.1, rel=1e-4)  # at the hint: r / (1 + floor)
    assert bool(torch.all(row[4:-1] >= row[5:]))  # monotone fall-off away from the hint
    assert row[-1] < 1.0


def test_two_hints_in_one_region_blend_and_the_residual_is_relative_to_the_prediction() -> None:
    size = 32
    predicted = torch.zeros(2, size, size)
    predicted[1] = 10.0  # the network said b* = 10 everywhere
    hint_a, mask_a = one_hint(size, 16, 3, (0.0, 30.0))
    hint_b, mask_b = one_hint(size, 16, 28, (0.0, -10.0))
    field = hint_field(torch.full((size, size), 50.0), hint_a + hint_b, mask_a + mask_b,
                       HintSpread(reach=0.15, edge=1.0, floor=0.01))
    assert field.colors.tolist() == [[0.0, 30.0], [0.0, -10.0]]
    out = spread_hints(predicted, field)
    assert out[1, 16, 3] == pytest.approx(30.0, abs=1.5) and out[1, 16, 28] == pytest.approx(-10.0, abs=1.5)
    assert -10 < out[1, 16, 16] < 30  # in between: a blend
    assert bool(torch.all(out[1, 16, 4:27] >= out[1, 16, 5:28] - 1e-4))


def test_no_hints_returns_the_prediction_on_the_input_grid() -> None:
    predicted = torch.randn(2, 8, 8)
    field = hint_field(torch.full((32, 32), 50.0), torch.zeros(2, 32, 32), torch.zeros(1, 32, 32), HintSpread())
    assert field.empty and field.weights.shape == (0, 32, 32)
    expected = torch.nn.functional.interpolate(predicted[None], size=(32, 32), mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(spread_hints(predicted, field), expected)


def test_weights_share_a_pixel_between_patches_and_no_hint() -> None:
    hint_a, mask_a = one_hint(32, 8, 8, (10.0, 0.0))
    hint_b, mask_b = one_hint(32, 24, 24, (0.0, 10.0))
    field = hint_field(two_regions(32), hint_a + hint_b, mask_a + mask_b, HintSpread(reach=0.2, floor=0.05))
    total = field.weights.sum(dim=0)
    assert bool(torch.all(total < 1)) and bool(torch.all(total > 0))
    assert field.weights[0, 8, 8] > 0.9 and field.weights[1, 24, 24] > 0.9  # each patch owns its own pixels


@pytest.mark.parametrize("kwargs", [{"reach": 0}, {"floor": 0}, {"edge": -1}, {"sweeps": 0}, {"evidence": -1}, {"sigma": 0}])
def test_invalid_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="hint spread"):
        HintSpread(**kwargs)
