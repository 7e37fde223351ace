"""Derivation of the 313 in-gamut CIC ab bins (grid step 10).

TODO(color-bins helper): the criterion that reproduces ../shared/reference/pts_in_hull.npy.
"""

from __future__ import annotations

import numpy as np


def derive_in_gamut_bins() -> np.ndarray:
    """int64 ``(313, 2)`` ab bin centres sorted by a*, then b*."""
    raise NotImplementedError
