"""Simulated colour hints for training hint-aware networks (Zhang et al., SIGGRAPH 2017).

The paper trains its user-guided network on points revealed from the ground truth: per image a
geometrically distributed number of points (p = 1/8) at uniformly random positions, each a
square patch of side uniform in 1..9 px whose hint is the mean ab of the ground truth over the
patch, with the mask 1 over the patch. Here a share ``p_none`` of the images gets no hints at
all, so that the network stays as good an automatic colorizer as it was (hints are optional at
inference and most uses have none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HintSpec:
    """How hints are drawn.

    Attributes:
        p_none: probability that an image gets no hints.
        geometric_p: success probability of the geometric number of points (mean 1 / p), >= 1
            point when an image gets hints.
        min_patch, max_patch: patch side range in pixels of the network input (uniform, inclusive).
        max_points: cap on the points of one image (the geometric tail is long; 64 is P < 2e-4).
    """

    p_none: float = 0.5
    geometric_p: float = 0.125
    min_patch: int = 1
    max_patch: int = 9
    max_points: int = 64

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_none <= 1.0:
            raise ValueError(f"p_none must be in [0, 1], got {self.p_none}")
        if not 0.0 < self.geometric_p <= 1.0:
            raise ValueError(f"geometric_p must be in (0, 1], got {self.geometric_p}")
        if not 1 <= self.min_patch <= self.max_patch:
            raise ValueError(f"patch sizes must satisfy 1 <= min <= max, got {self.min_patch}..{self.max_patch}")


def _geometric(p: float, generator: torch.Generator) -> int:
    """A draw from the geometric distribution on {1, 2, ...} with success probability ``p``."""
    if p >= 1.0:
        return 1
    u = float(torch.rand((), generator=generator))
    return 1 + int(math.floor(math.log(max(u, 1e-12)) / math.log1p(-p)))


def simulate_hints(
    ab: torch.Tensor, spec: HintSpec, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw hints from ground-truth ``ab``.

    Args:
        ab: ``(N, 2, H, W)`` ground-truth ab in Lab units at the network's input resolution.
        spec: the sampling rule.
        generator: CPU random generator (its state makes a run resumable).

    Returns:
        ``hints`` ``(N, 2, H, W)`` in Lab units (patch means, 0 elsewhere) and ``mask``
        ``(N, 1, H, W)`` in {0, 1}, both on ``ab``'s device and dtype. A later patch overwrites
        an earlier one where they overlap.
    """
    n, _, height, width = ab.shape
    hints = torch.zeros_like(ab)
    mask = torch.zeros_like(ab[:, :1])
    for i in range(n):
        if float(torch.rand((), generator=generator)) < spec.p_none:
            continue
        for _ in range(min(_geometric(spec.geometric_p, generator), spec.max_points)):
            side = int(torch.randint(spec.min_patch, spec.max_patch + 1, (), generator=generator))
            side = min(side, height, width)
            top = int(torch.randint(0, height - side + 1, (), generator=generator))
            left = int(torch.randint(0, width - side + 1, (), generator=generator))
            patch = ab[i, :, top : top + side, left : left + side]
            hints[i, :, top : top + side, left : left + side] = patch.mean(dim=(1, 2), keepdim=True)
            mask[i, :, top : top + side, left : left + side] = 1.0
    return hints, mask
