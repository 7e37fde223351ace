"""The official 313 CIC ab bins, as a compact table.

Source: ``resources/pts_in_hull.npy`` of richzhang/colorization (Zhang, Isola, Efros,
"Colorful Image Colorization", ECCV 2016), BSD-2-Clause, Copyright (c) 2016, Richard Zhang,
Phillip Isola, Alexei A. Efros. Only the data (the bin centres) is reproduced here.

The official bins form, for every a*, one unbroken run of b* values at step 10, so each
column is stored as ``(a*, first b*, last b*)``. :func:`official_cic_grid` expands the runs
into rows sorted by a*, then b* -- the order of the 313 output channels of the official CIC
networks. Why this is a table and not a derivation: see :mod:`autocolor.color.gamut`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

GRID_STEP = 10
NUM_BINS = 313

#: (a*, lowest b*, highest b*) for each a* column of the official grid.
_COLUMNS: tuple[tuple[int, int, int], ...] = (
    (-90, 50, 90),
    (-80, 20, 90),
    (-70, 0, 90),
    (-60, -20, 90),
    (-50, -30, 100),
    (-40, -40, 100),
    (-30, -50, 100),
    (-20, -50, 100),
    (-10, -60, 100),
    (0, -70, 100),
    (10, -80, 90),
    (20, -80, 90),
    (30, -90, 90),
    (40, -100, 90),
    (50, -100, 80),
    (60, -110, 80),
    (70, -110, 80),
    (80, -110, 70),
    (90, -110, 70),
    (100, -90, 0),
)


@lru_cache(maxsize=1)
def _grid() -> np.ndarray:
    rows = [(a, b) for a, first, last in _COLUMNS for b in range(first, last + 1, GRID_STEP)]
    grid = np.array(rows, dtype=np.int64)
    if grid.shape != (NUM_BINS, 2):  # guards edits of the table above
        raise RuntimeError(f"official CIC table expands to {grid.shape}, expected (313, 2)")
    grid.setflags(write=False)
    return grid


def official_cic_grid() -> np.ndarray:
    """The 313 official bin centres, int64 ``(313, 2)`` (a*, b*) in Lab units, official order."""
    return _grid().copy()
