"""Strip-wise resizes equal OpenCV's whole-image ones, whatever the strips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from autocolor.color.strips import AreaShrink, LinearRows


@pytest.mark.parametrize(
    ("height", "width", "size", "rows"),
    [(300, 400, (64, 64), 7), (97, 131, (13, 17), 5), (1000, 37, (64, 37), 33), (40, 50, (40, 50), 3), (64, 64, (1, 1), 64)],
)
def test_area_shrink_in_strips_is_opencv_inter_area(height: int, width: int, size: tuple[int, int], rows: int) -> None:
    image = np.random.default_rng(0).uniform(0, 100, (height, width)).astype(np.float32)
    shrink = AreaShrink(height, width, size)
    for top in range(0, height, rows):
        shrink.add(top, image[top : top + rows])
    expected = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(shrink.result(), expected, atol=1e-4)


def test_area_shrink_refuses_enlarging_and_missing_rows() -> None:
    with pytest.raises(ValueError, match="only shrinks"):
        AreaShrink(10, 10, (20, 5))
    shrink = AreaShrink(10, 10, (5, 5))
    shrink.add(0, np.zeros((4, 10), np.float32))
    with pytest.raises(ValueError, match="4 of 10 rows"):
        shrink.result()
    with pytest.raises(ValueError, match="do not fit"):
        shrink.add(8, np.zeros((4, 10), np.float32))


@pytest.mark.parametrize(("height", "width", "low"), [(300, 400, (64, 64)), (50, 70, (13, 17)), (30, 20, (30, 20)), (10, 9, (16, 12))])
def test_linear_rows_are_the_rows_of_opencv_bilinear(height: int, width: int, low: tuple[int, int]) -> None:
    maps = np.random.default_rng(1).uniform(-50, 50, (3, *low)).astype(np.float32)
    rows = LinearRows(maps, height, width)
    out = np.empty((7, width), np.float32)
    for channel in range(3):
        expected = cv2.resize(maps[channel], (width, height), interpolation=cv2.INTER_LINEAR)
        for top in range(0, height, 7):
            bottom = min(height, top + 7)
            got = rows.rows(channel, top, bottom, out[: bottom - top])
            # Float rounding: OpenCV widens a lone row with another summation order (~2e-4 of 100).
            np.testing.assert_allclose(got, expected[top:bottom], atol=1e-3)


@pytest.mark.parametrize(("height", "width", "low", "strip"), [(300, 400, (64, 64), 7), (50, 70, (13, 17), 1), (10, 9, (16, 12), 4)])
def test_all_rows_gives_every_map_at_once(height: int, width: int, low: tuple[int, int], strip: int) -> None:
    maps = np.random.default_rng(2).uniform(-50, 50, (9, *low)).astype(np.float32)
    reader = LinearRows(maps, height, width).reader()
    out = np.empty((strip, 9, width), np.float32)
    for channel in range(9):
        expected = cv2.resize(maps[channel], (width, height), interpolation=cv2.INTER_LINEAR)
        for top in range(0, height, strip):
            bottom = min(height, top + strip)
            got = reader.all_rows(top, bottom, out[: bottom - top])[:, channel]
            np.testing.assert_allclose(got, expected[top:bottom], atol=1e-3)
