"""A decoded photo as the pipeline sees it: upright sRGB L*, plus what writing needs back.

Made by :func:`autocolor.imagefile.read_photo`; kept apart from the file I/O so the full-resolution
stages (:mod:`autocolor.render`) depend only on this small type.
"""

from __future__ import annotations

import cv2
import numpy as np


class Photo:
    """A decoded photo: upright, sRGB, reduced to its lightness; plus what writing needs back.

    The L* is held either as a float32 array, or (8/16-bit gray files, the usual scans) as the
    file's own codes plus a table of the L* of every code, which takes a quarter (8-bit) or half
    (16-bit) of the memory; :attr:`lightness` and :meth:`lightness_rows` give float32 L* either
    way, so large photos can be worked on a few rows at a time.

    Attributes:
        source: the path as given, or "-" for stdin.
        alpha: float32 (H, W) in [0, 1] (upright), or None when the file has no alpha.
        bit_depth: 8 or 16 bits per channel, as stored in the file.
        format: Pillow's name of the input format: "PNG", "JPEG", "TIFF", "WEBP", "BMP", ...
        exif: EXIF to write back ("Exif\\0\\0" + TIFF data), orientation tag reset to 1.
        icc_profile: the input's ICC profile (informational: the pixels are already sRGB).
        was_color: True when the input had real chroma; its luminance is used.
        codes: uint8/uint16 (H, W) upright gray codes, or None (then L* is held as floats).
        lightness_table: float32 (2**bits,): L* of every code, when ``codes`` is set.
    """

    def __init__(
        self,
        source: str,
        lightness: np.ndarray | None = None,
        alpha: np.ndarray | None = None,
        bit_depth: int = 8,
        format: str = "PNG",
        exif: bytes | None = None,
        icc_profile: bytes | None = None,
        was_color: bool = False,
        *,
        codes: np.ndarray | None = None,
        lightness_table: np.ndarray | None = None,
    ) -> None:
        if (lightness is None) == (codes is None) or (codes is None) != (lightness_table is None):
            raise ValueError("a Photo needs either lightness, or codes and lightness_table")
        self.source = source
        self._lightness = lightness
        self.alpha = alpha
        self.bit_depth = bit_depth
        self.format = format
        self.exif = exif
        self.icc_profile = icc_profile
        self.was_color = was_color
        self.codes = codes
        self.lightness_table = lightness_table
        held = lightness if lightness is not None else codes
        assert held is not None
        self._shape = (int(held.shape[0]), int(held.shape[1]))

    def __repr__(self) -> str:
        held = "codes" if self.codes is not None else "lightness"
        return f"Photo({self.source!r}, {self.size[0]}x{self.size[1]}, {self.bit_depth}-bit {self.format}, {held})"

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels, upright."""
        return self._shape

    def drop_pixels(self) -> None:
        """Let go of the pixel data (L* or codes, alpha) once the output is rendered; the size
        and the metadata stay, for writing. Reading :attr:`lightness` afterwards is an error."""
        self._lightness = self.codes = self.lightness_table = self.alpha = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, upright."""
        height, width = self.shape
        return width, height

    @property
    def lightness(self) -> np.ndarray:
        """float32 (H, W), CIE L* in [0, 100] of the sRGB pixels, upright, full resolution.

        When the photo holds codes, this is computed on every access (a full-size array):
        prefer :meth:`lightness_rows` for large photos.
        """
        if self._lightness is not None:
            return self._lightness
        if self.codes is None:
            raise ValueError(f"{self.source}: the pixels were dropped (drop_pixels)")
        return self.lightness_rows(0, self.shape[0])

    def lightness_rows(self, top: int, bottom: int, out: np.ndarray | None = None) -> np.ndarray:
        """float32 L* of rows ``top .. bottom`` (upright), into ``out`` ``(bottom - top, W)`` if given."""
        if self._lightness is not None:
            rows = self._lightness[top:bottom]
            if out is None:
                return rows
            out[...] = rows
            return out
        assert self.codes is not None and self.lightness_table is not None
        codes = self.codes[top:bottom]
        if out is None:
            out = np.empty(codes.shape, dtype=np.float32)
        if codes.dtype == np.uint8:
            cv2.LUT(codes, self.lightness_table, dst=out)
        else:
            np.take(self.lightness_table, codes, out=out)
        return out

    def code_rows(self, table: np.ndarray, top: int, bottom: int, out: np.ndarray) -> np.ndarray:
        """``table`` (float32, one entry per code) looked up at the codes of rows ``top .. bottom``
        into ``out``; only for a photo holding codes."""
        if self.codes is None:
            raise ValueError("code_rows needs a photo that holds codes")
        codes = self.codes[top:bottom]
        if codes.dtype == np.uint8:
            cv2.LUT(codes, table, dst=out)
        else:
            np.take(table, codes, out=out)
        return out

    @property
    def nbytes(self) -> int:
        """Bytes of pixel data held (L* or codes, and alpha)."""
        held = self._lightness if self._lightness is not None else self.codes
        return (held.nbytes if held is not None else 0) + (self.alpha.nbytes if self.alpha is not None else 0)
