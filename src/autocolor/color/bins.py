"""The CIC quantised ab space: 313 in-gamut bins of a grid of step 10, and soft-encoding.

Bin ``q`` is the ab pair ``cic_ab_grid()[q]``; the order (sorted by a*, then b*) is the
order of the 313 output channels of the official CIC networks. The bins come from the official
table (:mod:`autocolor.color.cic_grid_official`): a derivation from the sRGB gamut
(:mod:`autocolor.color.gamut`) reaches 309 of them, not all 313.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from autocolor.color.cic_grid_official import official_cic_grid

GRID_STEP = 10.0
NUM_BINS = 313


@lru_cache(maxsize=1)
def _grid_cpu() -> torch.Tensor:
    grid = torch.as_tensor(official_cic_grid(), dtype=torch.float32)
    if grid.shape != (NUM_BINS, 2):
        raise RuntimeError(f"CIC ab grid has shape {tuple(grid.shape)}, expected (313, 2)")
    return grid


def cic_ab_grid(device: torch.device | str | None = None) -> torch.Tensor:
    """The 313 bin centres, float32 ``(313, 2)`` in Lab units (a*, b*), official order.

    A new tensor on every call, so callers may modify it without touching the cached table.
    """
    return _grid_cpu().to(device="cpu" if device is None else device, copy=True)


def squared_distances(ab: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Squared ab distance of every pixel to every bin.

    Args:
        ab: ``(N, 2, H, W)`` in Lab units.
        grid: ``(Q, 2)`` bin centres.

    Returns:
        ``(N, Q, H, W)`` squared distances (Lab units squared).
    """
    a = ab[:, 0:1]
    b = ab[:, 1:2]
    ga = grid[:, 0].view(1, -1, 1, 1).to(ab)
    gb = grid[:, 1].view(1, -1, 1, 1).to(ab)
    return (a - ga) ** 2 + (b - gb) ** 2


def nearest_bin(ab: torch.Tensor, grid: torch.Tensor | None = None) -> torch.Tensor:
    """Index of the nearest bin for each pixel: ``(N, 2, H, W)`` -> long ``(N, H, W)``."""
    grid = cic_ab_grid(ab.device) if grid is None else grid
    return squared_distances(ab, grid).argmin(dim=1)


def soft_encode(
    ab: torch.Tensor,
    grid: torch.Tensor | None = None,
    k: int = 5,
    sigma: float = 5.0,
) -> torch.Tensor:
    """CIC soft-encoding of ground-truth ab over the ``k`` nearest bins.

    Each pixel's target puts weight ``exp(-d^2 / (2 sigma^2))`` on its ``k`` nearest bins
    (``d`` in Lab units), normalised to sum to 1; all other bins get 0.

    Args:
        ab: ``(N, 2, H, W)`` in Lab units.
        grid: ``(Q, 2)`` bin centres (default: the 313 CIC bins).
        k: number of neighbours (paper: 5).
        sigma: Gaussian kernel width in Lab units (paper: 5).

    Returns:
        ``(N, Q, H, W)`` float targets, each pixel summing to 1.
    """
    grid = cic_ab_grid(ab.device) if grid is None else grid
    d2 = squared_distances(ab, grid)
    near_d2, near_idx = d2.topk(k, dim=1, largest=False)
    # Subtract the nearest distance before exp so far-out-of-gamut pixels do not underflow.
    weights = torch.exp(-(near_d2 - near_d2[:, :1]) / (2.0 * sigma**2))
    weights = weights / weights.sum(dim=1, keepdim=True)
    target = torch.zeros_like(d2)
    return target.scatter_(1, near_idx, weights)
