"""Hints -> a hint-aware network's extra inputs: ab maps and a 0/1 mask at its input resolution.

The convention is SIGGRAPH17's (Zhang et al. 2017), shared by every hint-aware network here
(``accepts_hints = True``): ``hints`` ``(N, 2, h, w)`` ab in Lab units (the network divides by
110 itself), zero where no hint is given, and ``mask`` ``(N, 1, h, w)`` 1 over hinted pixels,
0 elsewhere (not centred; the converted Caffe weights expect 0/1).

User points (:func:`rasterize_hints`) follow the official interactive demo (ideepcolor), in its
order of operations:

1. the point is scaled to the network input: ``int(x / width * w)`` (likewise for y);
2. the colour is snapped into the gamut of that pixel's L* (the network-input L*): L* is set,
   Lab -> sRGB clipped -> Lab, repeated (at most 20 times) until it moves by less than 1, then
   rounded to 8-bit sRGB, whose a*, b* are the hint;
3. a ``(2r + 1)``-pixel square centred on the point is filled with that ab (clipped at the image
   border) and the mask set to 1 there; later hints paint over earlier ones.

Simulated hints from ground truth (:func:`sample_ground_truth_hints`) follow the training and
evaluation code of the SIGGRAPH17 PyTorch release: a patch of side ``P`` whose top-left corner
is drawn from a normal distribution centred on the image (s.d. a quarter of the side), clipped
inside, filled with the patch's mean ab.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from autocolor.color.lab import lab_to_rgb, rgb_to_lab
from autocolor.hints.points import Hint

#: Snapping iterations and the L1 change in Lab below which the official demo stops.
SNAP_ITERATIONS = 20
SNAP_TOLERANCE = 1.0
#: Patch side of simulated hints: the official sweep's (``test_sweep.py``: ``sample_Ps = [6]``).
GROUND_TRUTH_PATCH = 6


@dataclass(frozen=True)
class HintMaps:
    """A photo's hints at the network's input resolution.

    Attributes:
        ab: ``(2, h, w)`` float32 a*, b* in Lab units, 0 where no hint.
        mask: ``(1, h, w)`` float32, 1 over hinted pixels, 0 elsewhere.
    """

    ab: torch.Tensor
    mask: torch.Tensor

    def __post_init__(self) -> None:
        if self.ab.dim() != 3 or self.ab.shape[0] != 2 or self.mask.shape != (1, *self.ab.shape[1:]):
            raise ValueError(f"hint maps must be (2, h, w) and (1, h, w), got {tuple(self.ab.shape)}, "
                             f"{tuple(self.mask.shape)}")

    @property
    def size(self) -> tuple[int, int]:
        """``(h, w)``."""
        return int(self.ab.shape[1]), int(self.ab.shape[2])

    @property
    def empty(self) -> bool:
        """No pixel is hinted (automatic colorization)."""
        return not bool(self.mask.any())

    @classmethod
    def zeros(cls, height: int, width: int) -> HintMaps:
        """No hints at an ``height`` x ``width`` input."""
        return cls(torch.zeros(2, height, width), torch.zeros(1, height, width))


def snap_ab(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Snap colours into the sRGB gamut at a given L*, as the official demo does.

    Args:
        lightness: ``(k,)`` L* in ``[0, 100]``, one per colour.
        ab: ``(k, 2)`` requested a*, b* (Lab units).

    Returns:
        ``(k, 2)`` float64 a*, b* of the 8-bit sRGB colour the demo would paint: iterated
        "set L*, convert to sRGB, clip, convert back" (at most :data:`SNAP_ITERATIONS` times,
        until the L1 change is below :data:`SNAP_TOLERANCE`), then rounded to 8 bits.
    """
    lab = torch.cat((lightness.double()[:, None], ab.double()), dim=1)  # (k, 3)
    done = torch.zeros(lab.shape[0], dtype=torch.bool)
    for _ in range(SNAP_ITERATIONS):
        old = lab.clone()
        old[:, 0] = lightness.double()
        rgb = lab_to_rgb(old.T[:, :, None], clip=True)  # (3, k, 1)
        new = rgb_to_lab(rgb)[:, :, 0].T
        # Colours that already converged keep their value, as if their loop had stopped.
        lab = torch.where(done[:, None], lab, new)
        done |= (new - old).abs().sum(dim=1) < SNAP_TOLERANCE
        if bool(done.all()):
            break
    rgb8 = torch.round(lab_to_rgb(lab.T[:, :, None], clip=True) * 255.0) / 255.0
    return rgb_to_lab(rgb8)[1:, :, 0].T


def network_point(x: float, y: float, photo_size: tuple[int, int], input_size: tuple[int, int]) -> tuple[int, int]:
    """Photo pixel ``(x, y)`` -> ``(column, row)`` of the network input (``int(x / W * w)``)."""
    (height, width), (h, w) = photo_size, input_size
    return min(int(x / width * w), w - 1), min(int(y / height * h), h - 1)


def rasterize_hints(hints: Sequence[Hint], lightness: torch.Tensor, photo_size: tuple[int, int]) -> HintMaps:
    """User hints -> :class:`HintMaps` at the network input (see the module docstring).

    Args:
        hints: points in photo coordinates, painted in order.
        lightness: ``(h, w)`` L* at the network input (what the network sees): the L* each
            colour is snapped at.
        photo_size: ``(H, W)`` of the photo the points refer to.

    Raises:
        UsageError: a hint lies outside the photo.
    """
    h, w = lightness.shape
    maps = HintMaps.zeros(h, w)
    if not hints:
        return maps
    points = [network_point(*hint.position(*photo_size), photo_size, (h, w)) for hint in hints]
    pixel_l = torch.stack([lightness[row, col].double().cpu() for col, row in points])
    snapped = snap_ab(pixel_l, torch.tensor([hint.ab for hint in hints], dtype=torch.float64)).float()
    for hint, (col, row), ab in zip(hints, points, snapped):
        r = hint.radius
        top, left = max(0, row - r), max(0, col - r)
        maps.ab[:, top : row + r + 1, left : col + r + 1] = ab[:, None, None]
        maps.mask[:, top : row + r + 1, left : col + r + 1] = 1.0
    return maps


def sample_ground_truth_hints(
    ab: torch.Tensor,
    count: int,
    rng: np.random.RandomState,
    patch_sizes: Sequence[int] = (GROUND_TRUTH_PATCH,),
) -> HintMaps:
    """Simulate ``count`` user hints from the true colours, as the SIGGRAPH17 release does.

    For each point, in this order: a patch side ``P`` is drawn from ``patch_sizes``
    (``rng.choice``), then the top-left row and column, each ``int(clip(normal((S - P + 1) / 2,
    (S - P + 1) / 4), 0, S - P))`` for a side ``S``; the patch gets its mean ab and mask 1.
    Drawing in the official order from a ``RandomState`` makes the points of a seeded run
    those of the official code seeded alike, and the first ``n`` points of a run with more
    points those of a run with ``n``.

    Args:
        ab: ``(2, h, w)`` true a*, b* (Lab units) at the network input resolution.
        count: number of points (0: empty maps).
        rng: the random source.
        patch_sizes: patch sides to choose from (each at most ``min(h, w)``).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    _, h, w = ab.shape
    if max(patch_sizes) > min(h, w):
        raise ValueError(f"patch side {max(patch_sizes)} does not fit a {h}x{w} input")
    maps = HintMaps.zeros(h, w)
    source = ab.float().cpu()
    for _ in range(count):
        side = int(rng.choice(patch_sizes))
        top = int(np.clip(rng.normal((h - side + 1) / 2.0, (h - side + 1) / 4.0), 0, h - side))
        left = int(np.clip(rng.normal((w - side + 1) / 2.0, (w - side + 1) / 4.0), 0, w - side))
        window = (slice(None), slice(top, top + side), slice(left, left + side))
        maps.ab[window] = source[window].mean(dim=(1, 2), keepdim=True)
        maps.mask[window] = 1.0
    return maps


def stack_hint_maps(maps: Sequence[HintMaps | None], height: int, width: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Per-photo maps (``None``: no hints) -> batched ``(N, 2, h, w)``, ``(N, 1, h, w)``.

    Returns ``None`` when no photo of the batch has a hint, so that hint-free batches run the
    network exactly as automatic colorization does.
    """
    if all(m is None or m.empty for m in maps):
        return None
    filled = [m if m is not None else HintMaps.zeros(height, width) for m in maps]
    if any(m.size != (height, width) for m in filled):
        raise ValueError(f"hint maps must all be {height}x{width}")
    return torch.stack([m.ab for m in filled]), torch.stack([m.mask for m in filled])
