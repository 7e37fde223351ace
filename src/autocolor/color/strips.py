"""Resizing a photo one strip of rows at a time, equal to OpenCV's whole-image resizes.

Two directions, both separable so that only the vertical pass needs to know the strip:

- :class:`AreaShrink` (``cv2.INTER_AREA``, shrinking): each strip is area-averaged across
  its width by OpenCV, then its rows are added into the low-resolution rows they overlap, with
  the overlap as weight. Fed every row once, in any strips, it gives
  ``cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)`` (to float rounding) without the
  whole image ever existing.
- :class:`LinearRows` (``cv2.INTER_LINEAR``, enlarging low-resolution maps): the maps are
  interpolated across the full width once (``h x W``, small), and any range of full-resolution
  rows is then interpolated vertically on demand: the rows of
  ``cv2.resize(map, (W, H), interpolation=cv2.INTER_LINEAR)`` (to float rounding).

Sample positions are OpenCV's (pixel centres: ``src = (dst + 0.5) * scale - 0.5``, clamped
at the borders).
"""

from __future__ import annotations

import math

import cv2
import numpy as np


class AreaShrink:
    """Accumulates full-resolution rows into an ``(h, w)`` area-averaged image.

    Args:
        height, width: the full-resolution size ``(H, W)``.
        size: the low-resolution ``(h, w)``, each no larger than the full size.
    """

    def __init__(self, height: int, width: int, size: tuple[int, int]) -> None:
        h, w = size
        if not (1 <= h <= height and 1 <= w <= width):
            raise ValueError(f"AreaShrink only shrinks: {(height, width)} -> {size}")
        self.height, self.width, self.size = height, width, (h, w)
        self._scale = height / h
        # Accumulated in float64: thousands of rows may add into one low-resolution row.
        self._sum = np.zeros((h, w), dtype=np.float64)
        self._rows_done = 0

    def add(self, top: int, rows: np.ndarray) -> None:
        """Add full-resolution rows ``top .. top + len(rows)`` (``(R, W)`` float32)."""
        count = rows.shape[0]
        if rows.shape[1] != self.width or top < 0 or top + count > self.height:
            raise ValueError(f"rows {top}..{top + count} of width {rows.shape[1]} do not fit {self.height}x{self.width}")
        h, w = self.size
        narrow = rows if w == self.width else cv2.resize(rows, (w, count), interpolation=cv2.INTER_AREA)
        first = int(math.floor(top / self._scale))
        last = min(h - 1, int(math.ceil((top + count) / self._scale)) - 1)  # rows span [r, r + 1)
        # weights[i, r]: the share of full row top + r in low row first + i (rows are 1 / scale).
        row_top = np.arange(top, top + count, dtype=np.float64)
        low_top = np.arange(first, last + 1, dtype=np.float64)[:, None] * self._scale
        overlap = np.minimum(row_top[None] + 1, low_top + self._scale) - np.maximum(row_top[None], low_top)
        weights = np.clip(overlap, 0.0, None) / self._scale
        self._sum[first : last + 1] += weights @ narrow.astype(np.float64)
        self._rows_done += count

    def result(self) -> np.ndarray:
        """The ``(h, w)`` float32 area average; every full-resolution row must have been added."""
        if self._rows_done != self.height:
            raise ValueError(f"{self._rows_done} of {self.height} rows were added")
        return self._sum.astype(np.float32)


def linear_rows_table(height: int, low: int) -> tuple[np.ndarray, np.ndarray]:
    """For every full-resolution row ``y < height``: the low row ``y0`` below it and the weight
    ``w1`` of row ``y0 + 1`` in OpenCV's bilinear enlargement from ``low`` rows."""
    position = (np.arange(height, dtype=np.float64) + 0.5) * (low / height) - 0.5
    floor = np.floor(position)
    weight = (position - floor).astype(np.float32)
    # Above the first sample centre and below the last one, OpenCV repeats the edge row.
    weight[(floor < 0) | (floor >= low - 1)] = 0.0
    return np.clip(floor, 0, low - 1).astype(np.int64), weight


class LinearRows:
    """Bilinear enlargement of low-resolution maps, computed for any range of full-res rows.

    Args:
        maps: ``(C, h, w)`` float32 low-resolution maps (e.g. ab and the guided coefficients).
        height, width: the full-resolution size ``(H, W)``.

    Only the low-resolution maps are kept; each thread reads rows through its own
    :meth:`reader`, which widens the two low-res rows around the current strip on demand (a row
    widened alone equals that row of the whole widened map: OpenCV resizes rows independently
    when the height does not change).
    """

    def __init__(self, maps: np.ndarray, height: int, width: int) -> None:
        self.maps = np.ascontiguousarray(maps, dtype=np.float32)
        self.channels, self.low_height, _ = self.maps.shape
        self.height, self.width = height, width
        self._y0, self._w1 = linear_rows_table(height, self.low_height)

    def reader(self) -> RowReader:
        """A reader of full-resolution rows, for one thread (it caches widened rows)."""
        return RowReader(self)

    def rows(self, channel: int, top: int, bottom: int, out: np.ndarray) -> np.ndarray:
        """Rows ``top .. bottom`` of map ``channel`` at full resolution, into ``out`` ``(R, W)``."""
        return self.reader().rows(channel, top, bottom, out)


class RowReader:
    """Reads full-resolution rows of a :class:`LinearRows`. Keeps, for all maps at once, the
    widened low-res rows around the current strip and their differences (a strip may span two
    low-res intervals, and its maps are read one after the other)."""

    _KEEP = 3  # widened low-res rows kept: the strip's two intervals need three

    def __init__(self, source: LinearRows) -> None:
        self._source = source
        self._wide: dict[int, np.ndarray] = {}  # low row -> (C, W) widened
        self._step: dict[int, np.ndarray] = {}  # low row -> (C, W) next row minus this one

    def _widened(self, row: int) -> np.ndarray:
        wide = self._wide.get(row)
        if wide is None:
            source = self._source
            # Row `row` of every map as one (C, w) image, widened in one call (rows are independent).
            wide = cv2.resize(np.ascontiguousarray(source.maps[:, row]), (source.width, source.channels),
                              interpolation=cv2.INTER_LINEAR)  # fmt: skip
            self._wide[row] = wide
            for old in [r for r in self._wide if r < row - self._KEEP + 1]:
                del self._wide[old]
        return wide

    def _difference(self, row: int) -> np.ndarray:
        step = self._step.get(row)
        if step is None:
            below = min(row + 1, self._source.low_height - 1)
            step = self._widened(below) - self._widened(row)
            self._step = {r: v for r, v in self._step.items() if r >= row - 1}
            self._step[row] = step
        return step

    def all_rows(self, top: int, bottom: int, out: np.ndarray) -> np.ndarray:
        """Rows ``top .. bottom`` of every map at full resolution, into ``out`` ``(R, C, W)``
        (row-major: the maps of one row are contiguous; ``out[:, c]`` is map ``c``'s rows).

        One fused ``cv2.scaleAdd`` per full-resolution row for all maps at once (a single pass
        over the output, against a multiply and an add per map in :meth:`rows`); the same values.
        """
        y0, w1 = self._source._y0[top:bottom], self._source._w1[top:bottom]
        for index in range(bottom - top):
            row = int(y0[index])
            step = self._difference(row)
            cv2.scaleAdd(step.reshape(1, -1), float(w1[index]), self._widened(row).reshape(1, -1),
                         out[index].reshape(1, -1))  # fmt: skip
        return out

    def rows(self, channel: int, top: int, bottom: int, out: np.ndarray) -> np.ndarray:
        """Rows ``top .. bottom`` of map ``channel`` at full resolution, into ``out`` ``(R, W)``."""
        y0, w1 = self._source._y0[top:bottom], self._source._w1[top:bottom]
        start = 0
        count = bottom - top
        while start < count:  # runs of rows between the same two low-res rows
            row = int(y0[start])
            end = start + int(np.searchsorted(y0[start:], row, side="right"))
            step = self._difference(row)
            block = out[start:end]
            np.multiply(w1[start:end, None], step[channel][None], out=block)
            block += self._widened(row)[channel][None]
            start = end
        return out
