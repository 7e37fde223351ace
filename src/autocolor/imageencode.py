"""Encoding output codes into image file bytes, with the photo's metadata.

The pipeline renders integer codes straight into the layout the fastest encoder for the
format wants (:func:`output_layout`), so nothing full-size is copied on the way out:

- JPEG and PNG (8 and 16 bits) and 16-bit TIFF: OpenCV (libjpeg-turbo, libpng) encodes BGR(A)
  codes in place; EXIF and the sRGB ICC profile are then inserted as JPEG APP1/APP2 segments or
  PNG eXIf/iCCP chunks (16-bit TIFFs carry none, as before).
- 8-bit TIFF, WebP, BMP: Pillow, from RGB(A) codes.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from autocolor.imagemeta import png_with_metadata, srgb_profile
from autocolor.photo import Photo

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Layout:
    """What the output codes look like.

    Attributes:
        bits: 8 (uint8) or 16 (uint16).
        order: ``"RGB"`` or ``"BGR"`` (OpenCV's encoders).
        alpha: append the photo's alpha as a fourth channel.
    """

    bits: int = 8
    order: str = "RGB"
    alpha: bool = False

    @property
    def channels(self) -> int:
        return 4 if self.alpha else 3

    @property
    def dtype(self) -> type[np.generic]:
        return np.uint8 if self.bits == 8 else np.uint16


WITH_ALPHA = ("PNG", "TIFF", "WEBP")  # JPEG cannot; BMP alpha is ignored by most readers
WITH_16_BITS = ("PNG", "TIFF")
_OPENCV_8BIT = ("JPEG", "PNG")
_PNG_COMPRESSION = 6  # zlib level; Pillow's default, so file sizes stay what they were
_JPEG_SEGMENT_MAX = 65533  # payload bytes of one JPEG marker segment (length field included: 65535)
_ICC_CHUNK = _JPEG_SEGMENT_MAX - 14  # "ICC_PROFILE\0" + sequence number + count


def output_layout(fmt: str, like: Photo) -> Layout:
    """The codes :func:`encode_codes` wants for format ``fmt`` and a photo like ``like``."""
    bits = 16 if like.bit_depth == 16 and fmt in WITH_16_BITS else 8
    opencv = bits == 16 or fmt in _OPENCV_8BIT
    return Layout(bits=bits, order="BGR" if opencv else "RGB", alpha=like.alpha is not None and fmt in WITH_ALPHA)


def encode_codes(codes: np.ndarray, like: Photo, fmt: str, layout: Layout, *, quality: int = 95) -> list[memoryview]:
    """The consecutive pieces of an image file in format ``fmt`` from ``codes`` ``(H, W, 3|4)`` in
    ``layout`` (pieces: the encoder's own buffer is not copied to add metadata; ``b"".join``
    them for the file's bytes).

    ``like`` gives the metadata: its EXIF (orientation already 1) and, when it had an ICC
    profile, an sRGB profile (the codes are sRGB).
    """
    icc = srgb_profile() if like.icc_profile else None
    bgr = layout.order == "BGR"
    if layout.bits == 16 or fmt in _OPENCV_8BIT:
        if not bgr:
            codes = codes[..., [2, 1, 0, 3][: codes.shape[2]]]
        return _opencv(np.ascontiguousarray(codes), fmt, icc, like.exif, quality)
    if bgr:
        codes = codes[..., [2, 1, 0, 3][: codes.shape[2]]]
    options: dict[str, object] = {}
    if fmt == "WEBP":
        options["quality"] = quality
    if fmt == "TIFF":
        options["compression"] = "tiff_lzw"
    if fmt != "BMP":
        options.update({k: v for k, v in (("icc_profile", icc), ("exif", like.exif)) if v})
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(codes)).save(buffer, format=fmt, **options)
    return [buffer.getbuffer()]


def _opencv(bgr: np.ndarray, fmt: str, icc: bytes | None, exif: bytes | None, quality: int) -> list[memoryview]:
    if fmt == "JPEG":
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    elif fmt == "PNG":
        ok, buffer = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, _PNG_COMPRESSION])
    else:
        ok, buffer = cv2.imencode(".tiff", bgr)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {bgr.dtype.itemsize * 8}-bit {fmt}")
    data = memoryview(buffer).cast("B")  # OpenCV's buffer as it is: no copy
    if fmt == "JPEG":
        return _jpeg_pieces(data, icc, exif)
    if fmt == "PNG" and (icc or exif):
        return [memoryview(png_with_metadata(data.tobytes(), icc, exif))]
    if fmt == "TIFF" and (icc or exif):
        log.info("16-bit TIFF output carries no EXIF/ICC metadata")
    return [data]


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def jpeg_with_metadata(jpeg: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """A JPEG file with an EXIF APP1 and ICC APP2 segments inserted after SOI and any APP0 (JFIF).

    ``exif`` is the APP1 payload, starting with "Exif\\0\\0" (added when missing); an ICC
    profile longer than one segment is split as the ICC specification says. Raises
    :class:`ValueError` when the EXIF does not fit in one segment (as Pillow does).
    """
    return b"".join(_jpeg_pieces(memoryview(jpeg), icc, exif))


def _jpeg_pieces(jpeg: memoryview, icc: bytes | None, exif: bytes | None) -> list[memoryview]:
    """:func:`jpeg_with_metadata` as pieces of the original buffer around the new segments."""
    if bytes(jpeg[:2]) != b"\xff\xd8":
        raise ValueError("not a JPEG stream")
    segments = b""
    if exif:
        payload = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
        if len(payload) > _JPEG_SEGMENT_MAX:
            raise ValueError(f"EXIF data is too long for a JPEG ({len(payload)} bytes)")
        segments += _segment(0xE1, payload)
    if icc:
        chunks = [icc[i : i + _ICC_CHUNK] for i in range(0, len(icc), _ICC_CHUNK)]
        for number, chunk in enumerate(chunks, start=1):
            segments += _segment(0xE2, b"ICC_PROFILE\x00" + bytes((number, len(chunks))) + chunk)
    position = 2
    if bytes(jpeg[2:4]) == b"\xff\xe0":  # keep JFIF first, as viewers expect
        position = 4 + int.from_bytes(jpeg[4:6], "big")
    if not segments:
        return [jpeg]
    return [jpeg[:position], memoryview(segments), jpeg[position:]]
