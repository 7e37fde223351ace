"""Which ab bins of the step-10 grid the sRGB gamut reaches, derived from first principles.

The derivation: every 8-bit sRGB colour is converted to Lab (``autocolor.color.lab``, i.e.
scikit-image's constants); a grid point ``(a, b)`` (multiples of 10) is kept when it is a corner
of a 10 x 10 ab cell that contains the ab of at least one such colour. Equivalently: the grid
points at Chebyshev (L-infinity) distance < 10 from the ab footprint of the gamut. This gives
309 bins, all of them among CIC's 313 official bins (``pts_in_hull.npy``).

The official set has four more bins, listed in :data:`OFFICIAL_ONLY_BINS`, each 13-15 Lab units
from the nearest sRGB colour. No geometric criterion found reproduces exactly 313: with
Euclidean, Chebyshev, L1 distance to the gamut or to its convex hull, round-trip
(``lab -> clipped rgb -> lab``) distances over a fine L sweep, out-of-range amounts of the
unclipped RGB, k-nearest-bin reachability (soft-encoding with k = 1..8), other illuminants
or observers, some official bins lie farther out than some non-official ones (e.g. (40, 90)
at 14.8 is in, (80, 80) at 12.7 is out). The official set was most likely read off data
(ImageNet statistics), so :func:`autocolor.color.bins.cic_ab_grid` uses the official table
in :mod:`autocolor.color.cic_grid_official`; this module documents and tests how close a
derivation gets.

Only the surface of the RGB cube is sampled: for fixed (a*, b*) the colours with varying L*
form a curve that enters and leaves the cube, so every ab the solid reaches is also reached
on its surface. Sampling the surface at 8-bit resolution takes ~0.2 s instead of seconds for
all 16.7 M colours, and gives the same 309 bins (checked against the full cube and against
surfaces sampled at 512 and 1024 steps per edge).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from autocolor.color.lab import rgb_to_lab

GRID_STEP = 10
#: Bins of the official CIC table that the derivation here does not produce (a*, b*).
OFFICIAL_ONLY_BINS: tuple[tuple[int, int], ...] = ((40, 90), (100, -90), (100, -10), (100, 0))
#: Number of bins :func:`derive_in_gamut_bins` returns (313 - len(OFFICIAL_ONLY_BINS)).
NUM_DERIVED_BINS = 309
# Cell indices are shifted by this so that they index an array from 0.
_INDEX_OFFSET = 13


def _rgb_cube_surface(levels: int = 256) -> torch.Tensor:
    """Colours on the six faces of the RGB cube, float64 ``(3, 6 * levels, levels)`` in [0, 1]."""
    ramp = torch.arange(levels, dtype=torch.float64) / (levels - 1)
    u, v = torch.meshgrid(ramp, ramp, indexing="ij")
    faces = []
    for axis in range(3):
        others = [k for k in range(3) if k != axis]
        for value in (0.0, 1.0):
            face = torch.empty(3, levels, levels, dtype=torch.float64)
            face[others[0]] = u
            face[others[1]] = v
            face[axis] = value
            faces.append(face)
    return torch.cat(faces, dim=1)


@lru_cache(maxsize=1)
def _derive() -> np.ndarray:
    ab = rgb_to_lab(_rgb_cube_surface())[1:].reshape(2, -1)
    # Lower-left corner index of the 10 x 10 cell holding each colour (|a*|, |b*| < 130).
    cells = torch.floor(ab / GRID_STEP).long() + _INDEX_OFFSET
    occupied = torch.zeros(2 * _INDEX_OFFSET + 2, 2 * _INDEX_OFFSET + 2, dtype=torch.bool)
    occupied[cells[0], cells[1]] = True
    # A grid point is kept when any of the (up to) four cells it is a corner of is occupied.
    reached = occupied.clone()
    reached[1:, :] |= occupied[:-1, :]
    reached[:, 1:] |= occupied[:, :-1]
    reached[1:, 1:] |= occupied[:-1, :-1]
    # nonzero() walks the array row-major: sorted by a*, then b* -- the official channel order.
    corners = (reached.nonzero().numpy().astype(np.int64) - _INDEX_OFFSET) * GRID_STEP
    corners.setflags(write=False)
    return corners


def derive_in_gamut_bins() -> np.ndarray:
    """Grid points reached by the sRGB gamut, int64 ``(309, 2)`` (a*, b*), sorted by a* then b*.

    A fresh (writable) copy on every call; the computation itself is cached.
    """
    return _derive().copy()
