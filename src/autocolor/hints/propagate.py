"""Carry each colour hint along its object: edge-aware weights, evidence and residual spreading.

A hint-aware network (``cic.base``, ``cic.siggraph17``) already sees the hints, but a small one
uses them timidly: the pixels under a hint often keep much of the automatic colour, and the
correction fades within a few pixels. These steps make a hint hold where it was given and carry
as far as the object it sits on reaches, the way a restorer expects ("this coat is navy"):

1. the hinted pixels of the network-input grid are grouped into connected patches, each with
   its mean hint colour ``c_k`` (:func:`hint_field`);
2. the geodesic distance ``d_k(x)`` from patch ``k`` to every pixel is measured over the
   network-input L*: a step between 8-neighbours ``p, q`` costs
   ``sqrt(|p - q|^2 + (edge * (L_p - L_q))^2)`` pixels, so an edge of ``dL`` L* units is as
   far as ``edge * dL`` pixels of flat ground (the distance transform of Toivanen, 1996;
   Criminisi et al.'s GeoS, 2008), computed by repeated forward/backward raster sweeps;
3. each patch's weight is ``w_k(x) = k_k(x) / (floor + sum_j k_j(x))`` with
   ``k_k = exp(-d_k / (reach * side))`` (``side``: the grid's longer side): near a patch,
   inside its object, that patch owns the pixel; between patches of one object they share
   it; beyond an edge or far away every ``w_k`` fades to 0 because ``floor`` outweighs the
   small kernels;
4. for models that predict a distribution over the 313 CIC bins, the hints weigh on it before
   decoding (:func:`autocolor.decode.bins.add_hint_evidence`, ``HintSpread.evidence``): where
   the network hesitated between plausible colours the hinted one wins;
5. what still separates the decoded colour from a hint, ``r_k`` = mean over patch ``k`` of
   (hint - prediction), is added as ``sum_k w_k r_k`` (:func:`spread_hints`).

The result is returned on the network-input grid; the L*-guided upsampler then takes it to the
photo's resolution as any prediction. Everything runs in torch on the prediction's device; the
sweeps cost ``O(sweeps * (h + w))`` small batched operations, whatever the number of hints
(about 0.05 s for a 256 x 256 grid on one CPU thread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from autocolor.hints.spread import HintSpread


def _sweep(distance: torch.Tensor, costs: tuple[torch.Tensor, ...], reverse: bool) -> None:
    """Relax ``distance`` ``(K, h, w)`` row by row (in place), each row from the one before it.

    ``costs`` are the step costs between row ``y`` and row ``y + 1``: straight ``(h - 1, w)``,
    to the right neighbour ``(h - 1, w - 1)`` (``(y, x) <-> (y + 1, x + 1)``) and to the left one
    ``(h - 1, w - 1)`` (``(y, x + 1) <-> (y + 1, x)``); steps are symmetric, so the same costs
    serve both directions.
    """
    straight, down_right, down_left = costs
    height = distance.shape[1]
    rows = range(height - 2, -1, -1) if reverse else range(1, height)
    for y in rows:
        before = y + 1 if reverse else y - 1
        link = min(y, before)  # index of the cost rows between the two rows
        prev = distance[:, before]
        best = prev + straight[link]
        if reverse:
            # (y, x) <- (y + 1, x + 1) is down_right[y, x]; (y, x + 1) <- (y + 1, x) is down_left[y, x].
            best[:, :-1] = torch.minimum(best[:, :-1], prev[:, 1:] + down_right[link])
            best[:, 1:] = torch.minimum(best[:, 1:], prev[:, :-1] + down_left[link])
        else:
            # (y, x + 1) <- (y - 1, x) is down_right[y - 1, x]; (y, x) <- (y - 1, x + 1) is down_left.
            best[:, 1:] = torch.minimum(best[:, 1:], prev[:, :-1] + down_right[link])
            best[:, :-1] = torch.minimum(best[:, :-1], prev[:, 1:] + down_left[link])
        torch.minimum(distance[:, y], best, out=distance[:, y])


def _row_costs(guide: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Step costs between consecutive rows of a ``(C, h, w)`` guide (see :func:`_sweep`):
    ``sqrt(step^2 + |guide_p - guide_q|^2)``."""
    upper, lower = guide[:, :-1], guide[:, 1:]
    straight = torch.sqrt(1.0 + ((lower - upper) ** 2).sum(dim=0))
    down_right = torch.sqrt(2.0 + ((lower[:, :, 1:] - upper[:, :, :-1]) ** 2).sum(dim=0))
    down_left = torch.sqrt(2.0 + ((lower[:, :, :-1] - upper[:, :, 1:]) ** 2).sum(dim=0))
    return straight, down_right, down_left


def geodesic_distance(guide: torch.Tensor, sources: torch.Tensor, sweeps: int = 2) -> torch.Tensor:
    """Distance from each source set to every pixel over a guide image (see the module docstring).

    Args:
        guide: ``(C, h, w)`` features already scaled to pixels of distance per unit, e.g.
            ``edge * L*`` (one channel): a step between neighbours ``p, q`` costs
            ``sqrt(|p - q|^2 + |guide_p - guide_q|^2)``.
        sources: ``(K, h, w)`` bool, the pixels of each source set (distance 0 there).
        sweeps: rounds of the four sweeps.

    Returns:
        ``(K, h, w)`` float32 distances in pixels (``inf`` where a set is empty).
    """
    guide = guide.float()
    distance = torch.where(sources, 0.0, math.inf).to(guide)
    rows = _row_costs(guide)
    columns = _row_costs(guide.transpose(1, 2).contiguous())
    for _ in range(sweeps):
        _sweep(distance, rows, reverse=False)
        _sweep(distance, rows, reverse=True)
        transposed = distance.transpose(1, 2).contiguous()
        _sweep(transposed, columns, reverse=False)
        _sweep(transposed, columns, reverse=True)
        distance = transposed.transpose(1, 2).contiguous()
    return distance


def hint_patches(mask: torch.Tensor) -> torch.Tensor:
    """``(h, w)`` 0/1 hint mask -> ``(K, h, w)`` bool, one layer per 8-connected patch."""
    from scipy import ndimage  # scikit-image's own dependency

    labels, count = ndimage.label(mask.detach().cpu().numpy() > 0.5, structure=[[1, 1, 1]] * 3)
    labels_t = torch.from_numpy(labels).to(mask.device)
    return labels_t[None] == torch.arange(1, count + 1, device=mask.device)[:, None, None]


@dataclass(frozen=True)
class HintField:
    """Where each of a photo's hint patches reaches, on the network-input grid.

    Attributes:
        patches: ``(K, h, w)`` bool, the pixels of each connected hint patch.
        colors: ``(K, 2)`` float32 mean hint a*, b* of each patch (Lab units).
        weights: ``(K, h, w)`` float32 ``w_k = k_k / (floor + sum_j k_j)`` with
            ``k_k = exp(-d_k / (reach * side))``: each patch's share of a pixel, summing to
            less than 1 (the rest is "no hint").
    """

    patches: torch.Tensor
    colors: torch.Tensor
    weights: torch.Tensor

    @property
    def empty(self) -> bool:
        return self.patches.shape[0] == 0


def hint_field(lightness: torch.Tensor, hint_ab: torch.Tensor, mask: torch.Tensor, spread: HintSpread) -> HintField:
    """One photo's :class:`HintField` (steps 1-3 of the module docstring).

    Args:
        lightness: ``(h, w)`` L* at the network input (the grid of the hints).
        hint_ab: ``(2, h, w)`` hint a*, b* (:class:`autocolor.hints.HintMaps`).
        mask: ``(1, h, w)`` 1 over hinted pixels.
        spread: the kernel's parameters.
    """
    height, width = lightness.shape
    patches = hint_patches(mask[0])
    if patches.shape[0] == 0:
        return HintField(patches, hint_ab.new_zeros(0, 2), hint_ab.new_zeros(0, height, width))
    sizes = patches.sum(dim=(1, 2)).float()
    colors = torch.einsum("chw,khw->kc", hint_ab.float(), patches.float()) / sizes[:, None]
    distance = geodesic_distance(spread.edge * lightness.float()[None], patches, spread.sweeps)
    kernel = torch.exp(-distance / (spread.reach * max(height, width)))
    return HintField(patches, colors, kernel / (spread.floor + kernel.sum(dim=0)))


def spread_hints(ab: torch.Tensor, field: HintField) -> torch.Tensor:
    """One photo's prediction with its hints' corrections spread along objects.

    Args:
        ab: ``(2, h', w')`` predicted a*, b* (Lab units) at the network's output grid.
        field: the photo's hints (:func:`hint_field`) on the ``(h, w)`` network-input grid.

    Returns:
        ``(2, h, w)`` float32 a*, b*: ``ab`` brought to the input grid (bilinear) plus
        ``sum_k w_k r_k``, ``r_k`` the mean over patch ``k`` of (hint - prediction); ``ab``
        brought to the grid unchanged when there is no hint.
    """
    height, width = field.weights.shape[-2:]
    base = F.interpolate(ab[None].float(), size=(height, width), mode="bilinear", align_corners=False)[0]
    if field.empty:
        return base
    patches = field.patches.float()
    predicted = torch.einsum("chw,khw->kc", base, patches) / patches.sum(dim=(1, 2))[:, None]
    return base + torch.einsum("kc,khw->chw", field.colors - predicted, field.weights)
