"""Contact sheets: many images in one labelled grid, drawn with OpenCV.

Every image is scaled (aspect kept, never cropped) so that its longer side is ``cell`` pixels and
centred in a box ``cell`` wide and as tall as the tallest image of its row, with an optional label
band under it. Boxes are filled row by row::

    +---------+---------+---------+
    | image 0 | image 1 | image 2 |
    | label 0 | label 1 | label 2 |
    +---------+---------+---------+
    | image 3 |  (empty)          |

Used by ``autocolor sample`` (input + N samples) and ``scripts/make_contact_sheet.py`` (rows of
photos, columns of models) to make the images in ``docs/``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

#: Smallest accepted cell side in pixels (a label needs room for a few characters).
MIN_CELL = 16
#: Background and text colours, sRGB in [0, 1].
BACKGROUND = (1.0, 1.0, 1.0)
TEXT_COLOUR = (0.0, 0.0, 0.0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_ELLIPSIS = "..."  # Hershey fonts have ASCII only


@dataclass(frozen=True)
class SheetLayout:
    """Geometry of a sheet; all values in pixels.

    Attributes:
        count: number of images.
        columns: images per row; ``len(row_heights)`` rows.
        cell: width of every image box, and the longest side an image is fitted to.
        row_heights: height of the image boxes of each row: the tallest fitted image of that
            row (at most ``cell``), so rows of landscape photos are not padded to squares.
        label_height: height of the label band under each image box (0 without labels).
        gap: spacing between boxes and around the border.
    """

    count: int
    columns: int
    cell: int
    row_heights: tuple[int, ...]
    label_height: int
    gap: int

    @property
    def rows(self) -> int:
        return len(self.row_heights)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the whole sheet."""
        height = sum(self.row_heights) + self.rows * self.label_height + (self.rows + 1) * self.gap
        width = self.columns * self.cell + (self.columns + 1) * self.gap
        return height, width

    def cell_box(self, index: int) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of image ``index``'s box (row-major order)."""
        if not 0 <= index < self.count:
            raise IndexError(f"cell {index} outside a sheet of {self.count}")
        row, column = divmod(index, self.columns)
        top = self.gap + sum(self.row_heights[:row]) + row * (self.label_height + self.gap)
        left = self.gap + column * (self.cell + self.gap)
        return top, left, self.row_heights[row], self.cell

    def label_box(self, index: int) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of the label band under image ``index``."""
        top, left, height, width = self.cell_box(index)
        return top + height, left, self.label_height, width


def fitted_size(height: int, width: int, cell: int) -> tuple[int, int]:
    """``(h, w)`` of a ``height x width`` image scaled (aspect kept) so its longer side is ``cell``."""
    scale = cell / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def sheet_layout(
    sizes: Sequence[tuple[int, int]], *, columns: int | None = None, cell: int = 256, labelled: bool = True
) -> SheetLayout:
    """The grid for images of ``(height, width)`` ``sizes``, filled row by row.

    ``columns`` default to ``ceil(sqrt(count))`` (a near-square grid). The label band is an
    eighth of the cell (at least 12 px) and the gap a 32nd (at least 2 px), so a sheet scales
    as a whole with ``cell``.
    """
    count = len(sizes)
    if count < 1:
        raise ValueError("a contact sheet needs at least one image")
    if cell < MIN_CELL:
        raise ValueError(f"cell must be at least {MIN_CELL} px, got {cell}")
    if columns is None:
        columns = math.ceil(math.sqrt(count))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    columns = min(columns, count)
    heights = [fitted_size(h, w, cell)[0] for h, w in sizes]
    return SheetLayout(
        count=count,
        columns=columns,
        cell=cell,
        row_heights=tuple(max(heights[i : i + columns]) for i in range(0, count, columns)),
        label_height=max(12, cell // 8) if labelled else 0,
        gap=max(2, cell // 32),
    )


def _as_rgb(image: np.ndarray, index: int) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 3)`` float in [0, 1] -> ``(H, W, 3)`` uint8."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 1:
        raise ValueError(f"image {index} must be (H, W, 3) or (H, W), got shape {np.asarray(image).shape}")
    codes: np.ndarray = np.rint(np.clip(array.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    return codes


def thumbnail(image: np.ndarray, cell: int) -> np.ndarray:
    """Shrink or enlarge ``image`` (aspect kept) so that its longer side is ``cell`` pixels.

    ``(H, W, 3)`` or ``(H, W)`` float in [0, 1] -> ``(h, w, 3)`` float32 in [0, 1] with
    ``max(h, w) == cell``. Area averaging when shrinking (no aliasing), bicubic when enlarging.
    Lets callers keep only small copies of big photos until the sheet is drawn.
    """
    return _fit(_as_rgb(image, 0), cell).astype(np.float32) / 255.0


def _fit(pixels: np.ndarray, cell: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    new_height, new_width = fitted_size(height, width, cell)
    if (new_height, new_width) == (height, width):
        return pixels
    interpolation = cv2.INTER_AREA if new_width < width else cv2.INTER_CUBIC
    return cv2.resize(pixels, (new_width, new_height), interpolation=interpolation)


def _shortened(text: str, keep: int) -> str:
    """``text`` with its middle replaced by ``...`` so that ``keep`` of its characters remain."""
    if keep >= len(text):
        return text
    head = (keep + 1) // 2
    return text[:head] + _ELLIPSIS + (text[len(text) - (keep - head) :] if keep > head else "")


def _fitted_text(text: str, width: int, height: int) -> tuple[str, float, int]:
    """The label (shortened if need be; ``""`` if nothing fits), font scale and stroke for the box."""
    thickness = 1 if height < 40 else 2
    (_, text_height), _ = cv2.getTextSize("Ag", _FONT, 1.0, thickness)
    scale = 0.6 * height / text_height  # cap height ~60% of the band leaves room for descenders
    # Drop characters from the middle: the start and the (often distinctive) end stay readable.
    for keep in range(len(text), 0, -1):
        shown = _shortened(text, keep)
        (text_width, _), _ = cv2.getTextSize(shown, _FONT, scale, thickness)
        if text_width <= width - 4:
            return shown, scale, thickness
    return "", scale, thickness


def _draw_label(canvas: np.ndarray, text: str, box: tuple[int, int, int, int]) -> None:
    top, left, height, width = box
    shown, scale, thickness = _fitted_text(text, width, height)
    if not shown:
        return
    (text_width, text_height), baseline = cv2.getTextSize(shown, _FONT, scale, thickness)
    x = left + (width - text_width) // 2
    y = top + (height + text_height) // 2 - baseline // 2
    colour = tuple(int(round(c * 255)) for c in TEXT_COLOUR)
    cv2.putText(canvas, shown, (x, y), _FONT, scale, colour, thickness, cv2.LINE_AA)


def make_contact_sheet(
    images: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    columns: int | None = None,
    cell: int = 256,
) -> np.ndarray:
    """Draw ``images`` into one grid.

    Args:
        images: sRGB ``(H, W, 3)`` (or gray ``(H, W)``) float in ``[0, 1]``, any sizes.
        labels: one line of ASCII text per image, drawn under it (shortened with ``...`` when
            too long); ``None``: no label bands.
        columns: images per row; default ``ceil(sqrt(len(images)))``.
        cell: the longer side, in pixels, every image is scaled to (and the box width).

    Returns:
        ``(height, width, 3)`` float32 sRGB in ``[0, 1]`` of size :attr:`SheetLayout.shape`
        (see :func:`sheet_layout`).
    """
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    fitted = [_fit(_as_rgb(image, index), cell) for index, image in enumerate(images)]
    layout = sheet_layout(
        [p.shape[:2] for p in fitted], columns=columns, cell=cell, labelled=labels is not None
    )
    canvas = np.empty((*layout.shape, 3), dtype=np.uint8)
    canvas[:] = tuple(int(round(c * 255)) for c in BACKGROUND)
    for index, pixels in enumerate(fitted):
        height, width = pixels.shape[:2]
        top, left, box_height, box_width = layout.cell_box(index)
        top += (box_height - height) // 2
        left += (box_width - width) // 2
        canvas[top : top + height, left : left + width] = pixels
        if labels is not None:
            _draw_label(canvas, str(labels[index]), layout.label_box(index))
    return canvas.astype(np.float32) / 255.0


def save_contact_sheet(path: str | Path, sheet: np.ndarray, *, format: str | None = None) -> Path:
    """Write ``sheet`` (``(H, W, 3)`` float in [0, 1]) as an 8-bit image, atomically.

    The format comes from ``format`` (``"png"``, ``"jpg"``, ...) or the path's suffix. Raises
    :class:`autocolor.errors.OutputError` when it cannot be written.
    """
    from autocolor.errors import OutputError
    from autocolor.imagefile import atomic_write, output_format

    destination = Path(path)
    fmt = output_format(destination, format)
    codes = np.rint(np.clip(np.asarray(sheet, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    try:
        Image.fromarray(codes).save(buffer, format=fmt, **({"quality": 92} if fmt in ("JPEG", "WEBP") else {}))
    except (OSError, ValueError) as err:
        raise OutputError(destination, f"cannot encode {fmt}: {err}") from err
    atomic_write(destination, buffer.getvalue())
    return destination
