"""The sRGB-gamut derivation of the ab bins and the official CIC table."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from autocolor.color import gamut
from autocolor.color.cic_grid_official import official_cic_grid


def _rows(array: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in array}


def test_derivation_is_the_official_grid_minus_the_documented_bins() -> None:
    derived = gamut.derive_in_gamut_bins()
    assert derived.dtype == np.int64
    assert derived.shape == (gamut.NUM_DERIVED_BINS, 2)
    official = _rows(official_cic_grid())
    assert _rows(derived) <= official
    assert official - _rows(derived) == set(gamut.OFFICIAL_ONLY_BINS)


def test_derivation_is_sorted_on_the_grid_and_fast() -> None:
    gamut._derive.cache_clear()
    start = time.perf_counter()
    derived = gamut.derive_in_gamut_bins()
    assert time.perf_counter() - start < 1.0
    assert np.all(derived % 10 == 0)
    order = np.lexsort((derived[:, 1], derived[:, 0]))
    np.testing.assert_array_equal(order, np.arange(len(derived)))


def test_derivation_contains_the_primaries_bins_and_returns_copies() -> None:
    derived = gamut.derive_in_gamut_bins()
    rows = _rows(derived)
    # Pure sRGB red (a* 80.1, b* 67.2), green (-86.2, 83.2), blue (79.2, -107.9): the corners
    # of the cells holding them are all in the set.
    for a, b in ((80.1, 67.2), (-86.2, 83.2), (79.2, -107.9), (0.0, 0.0)):
        a0, b0 = int(np.floor(a / 10) * 10), int(np.floor(b / 10) * 10)
        assert {(a0, b0), (a0 + 10, b0), (a0, b0 + 10), (a0 + 10, b0 + 10)} <= rows
    # Far outside the gamut: no bin.
    assert (100, 100) not in rows and (-100, -100) not in rows
    derived[0] = (999, 999)
    assert (999, 999) not in _rows(gamut.derive_in_gamut_bins())


def test_official_table_equals_pts_in_hull(shared_dir: Path) -> None:
    reference = np.load(shared_dir / "reference" / "pts_in_hull.npy")
    table = official_cic_grid()
    assert table.dtype == np.int64
    np.testing.assert_array_equal(table, reference)
