"""What a photo file says about its pixels: EXIF orientation, EXIF to write back, ICC -> sRGB, L*.

:mod:`autocolor.imagefile` decodes a file into integer *codes* (``uint8`` or ``uint16``, the
file's own bit depth) and hands them here. This module turns codes into CIE ``L*`` of the
sRGB pixels exactly as ``skimage.color.rgb2lab`` computes it (D65, the same sRGB matrix), after
converting from the file's ICC profile:

- Matrix/TRC RGB profiles and TRC gray profiles (nearly every photo profile: Adobe RGB,
  ProPhoto, Display P3, gray gamma, dot gain) are applied here in float64, at any bit depth.
  That keeps 16-bit precision (LittleCMS through Pillow has only 8-bit RGB modes) and avoids
  LittleCMS's optimised 8-bit transforms, which are off by up to 4.5 L* in the shadows of a
  linear gray profile. For these profiles the perceptual intent *is* this relative-colorimetric
  matrix path, and the sRGB side uses LittleCMS's own built-in sRGB colorants.
- Other profiles (LUT-based, CMYK) go through LittleCMS (``PIL.ImageCms``, perceptual intent,
  unoptimised for accuracy) to 8-bit sRGB; 16-bit codes are rounded to 8 bits for it, with a
  log line.
- A profile that is sRGB already (checked numerically, else by its description) is not applied,
  so sRGB files are not requantised; an unusable profile is ignored (the pixels are then taken
  as sRGB), like browsers do.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

# PIL.ImageCms (LittleCMS) is imported where a profile is handled: most photos carry none, and
# loading it is a measurable part of the command's start-up.

log = logging.getLogger(__name__)

ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# IFD0 tags that describe the photo rather than one file's layout. A TIFF's "EXIF" is its own
# IFD0 (strip offsets, sample formats, ...), which must not be copied into another file.
_DESCRIPTIVE_TAGS = frozenset(
    {270, 271, 272, ORIENTATION, 282, 283, 296, 305, 306, 315, 33432, _EXIF_IFD, _GPS_IFD}
)

# Relative luminance of linear sRGB: the Y row of the sRGB -> XYZ matrix of skimage.color.
_Y_FROM_LINEAR_RGB = np.array([0.212671, 0.715160, 0.072169])
_EPSILON, _KAPPA_SLOPE = 0.008856, 7.787  # CIE constants as skimage rounds them
_BLOCK_PIXELS = 1 << 20  # bounds the float64 temporaries on 100+ megapixel photos
_CHROMA_TOLERANCE = 4 / 255  # channel spread below this is JPEG/rounding noise on a gray image
_CHROMA_FRACTION = 1e-3  # share of pixels that must carry chroma for the photo to count as colour


# ----------------------------------------------------------------------------- EXIF


def exif_orientation(exif: Image.Exif) -> int:
    """The EXIF orientation (1-8); missing or invalid values mean 1 (stored upright)."""
    value = exif.get(ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn ``(H, W)`` or ``(H, W, C)`` pixels, stored as in the file, into the upright view.

    Orientation numbers are EXIF's (the same transposes as ``PIL.ImageOps.exif_transpose``);
    5-8 swap width and height.
    """
    turned = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }[orientation](pixels)
    return np.ascontiguousarray(turned)


def stored_orientation(img: Image.Image) -> int:
    """The EXIF orientation (1-8) of an opened image; unreadable EXIF counts as 1."""
    try:
        return exif_orientation(img.getexif())
    except Exception as err:  # noqa: BLE001 - malformed EXIF must not make the photo unreadable
        log.warning("ignoring unreadable EXIF: %s", err)
        return 1


def exif_to_keep(img: Image.Image) -> bytes | None:
    """EXIF of a loaded image to write back with upright pixels ("Exif\\0\\0" + TIFF data).

    The orientation tag is reset to 1. TIFF inputs keep only descriptive tags (camera, date,
    copyright, Exif and GPS sub-IFDs). ``None`` when there is no EXIF or it cannot be re-encoded.
    """
    try:
        exif = img.getexif()
        if img.format == "TIFF":
            for tag in [tag for tag in exif if tag not in _DESCRIPTIVE_TAGS]:
                del exif[tag]
        if ORIENTATION in exif:
            exif[ORIENTATION] = 1
        return exif.tobytes() if len(exif) else None
    except Exception as err:  # noqa: BLE001 - e.g. maker notes Pillow cannot write back
        log.warning("EXIF cannot be kept, dropping it: %s", err)
        return None


def stored_bit_depth(img: Image.Image, data: bytes) -> int:
    """Bits per sample as the file header says: PNG's IHDR, TIFF's BitsPerSample, else the mode.

    Pillow reduces 16-bit colour PNG/TIFF to 8-bit modes, so its mode alone cannot tell.
    """
    if img.format == "PNG" and data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 24:
        return data[24]  # IHDR is always the first chunk; its 9th data byte is the bit depth
    if img.format == "TIFF":
        samples = getattr(img, "tag_v2", {}).get(258, 1)
        return max(samples) if isinstance(samples, tuple) else int(samples)
    if img.mode.startswith("I;16"):
        return 16
    return 32 if img.mode in ("I", "F") else 8


def tiff_without_orientation(tiff: bytes) -> bytes:
    """A classic TIFF whose first IFD says orientation 1, so a decoder returns pixels as stored.

    OpenCV's TIFF reader applies the orientation tag even with ``IMREAD_UNCHANGED`` (unlike its
    PNG reader); patching the tag makes both behave alike. Other files are returned unchanged.
    """
    order = {b"II*\x00": "little", b"MM\x00*": "big"}.get(tiff[:4])
    if order is None or len(tiff) < 8:
        return tiff
    ifd = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        if int.from_bytes(tiff[entry : entry + 2], order) == ORIENTATION:
            patched = bytearray(tiff)
            patched[entry + 8 : entry + 10] = (1).to_bytes(2, order)  # SHORT, left-justified
            return bytes(patched)
    return tiff


_PNG_PIXEL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"})


def png_pixel_chunks(png: bytes) -> bytes:
    """The PNG with only the chunks that define its pixels (IHDR, PLTE, tRNS, IDAT, IEND).

    For OpenCV's 16-bit decode: metadata was read by Pillow already, and libpng prints a
    warning on stderr for every damaged ancillary chunk (iCCP, eXIf, text) it parses.
    A file whose chunk structure does not parse is returned unchanged.
    """
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return png
    kept, pos = [png[:8]], 8
    while pos + 12 <= len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(png):
            return png
        if png[pos + 4 : pos + 8] in _PNG_PIXEL_CHUNKS:
            kept.append(png[pos:end])
        pos = end
    return b"".join(kept)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + kind + payload + crc


def png_with_metadata(png: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """A PNG file with iCCP and eXIf chunks inserted right after IHDR (both must precede IDAT).

    For 16-bit PNGs, which OpenCV writes without metadata. ``exif`` may start with "Exif\\0\\0".
    """
    chunks = b""
    if icc:
        chunks += _png_chunk(b"iCCP", b"sRGB\x00\x00" + zlib.compress(icc))
    if exif:
        chunks += _png_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00"))
    end_of_ihdr = 8 + 8 + 13 + 4  # length + type, 13 data bytes, CRC
    return png[:end_of_ihdr] + chunks + png[end_of_ihdr:]


# ----------------------------------------------------------------------------- ICC profiles


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """LittleCMS's built-in sRGB profile, as embedded in outputs."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@dataclass(frozen=True)
class Shaper:
    """A matrix/TRC (RGB) or TRC (gray) profile: per-channel tone curves, then a 3x3 matrix.

    ``curves`` map device values in [0, 1] to linear light; ``matrix`` maps linear device RGB to
    PCS XYZ (D50), one colorant per column, and is ``None`` for gray profiles.
    """

    curves: tuple[Callable[[np.ndarray], np.ndarray], ...]
    matrix: np.ndarray | None

    def fits(self, mode: str) -> bool:
        """Whether the profile describes pixels of Pillow mode ``mode`` ("L" or "RGB")."""
        return (mode == "RGB" and self.matrix is not None) or (mode == "L" and self.matrix is None)

    def linear_lut(self, channel: int, bits: int) -> np.ndarray:
        """Linear light (float64) of every code ``0 .. 2**bits - 1`` of one channel."""
        top = (1 << bits) - 1
        return np.clip(self.curves[channel](np.arange(top + 1) / top), 0.0, 1.0)


def _tags(icc: bytes) -> dict[bytes, bytes]:
    (count,) = struct.unpack_from(">I", icc, 128)
    tags = {}
    for i in range(count):
        signature, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
        if offset + size > len(icc):
            raise ValueError("tag outside the profile")
        tags[signature] = icc[offset : offset + size]
    return tags


def _s15fixed16(data: bytes, offset: int, count: int) -> np.ndarray:
    return np.array(struct.unpack_from(f">{count}i", data, offset), dtype=np.float64) / 65536.0


def _xyz(tag: bytes) -> np.ndarray:
    if tag[:4] != b"XYZ ":
        raise ValueError("colorant is not an XYZ tag")
    return _s15fixed16(tag, 8, 3)


def _curve(tag: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """A ``curv`` (identity, gamma or table) or ``para`` (ICC functions 0-4) tone curve."""
    if tag[:4] == b"curv":
        (count,) = struct.unpack_from(">I", tag, 8)
        if count == 0:
            return lambda x: x
        if count == 1:
            gamma = struct.unpack_from(">H", tag, 12)[0] / 256.0
            return lambda x: x**gamma
        table = np.array(struct.unpack_from(f">{count}H", tag, 12), dtype=np.float64) / 65535.0
        grid = np.linspace(0.0, 1.0, count)
        return lambda x: np.interp(x, grid, table)
    if tag[:4] == b"para":
        (kind,) = struct.unpack_from(">H", tag, 8)
        count = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}[kind]
        p = [float(v) for v in _s15fixed16(tag, 12, count)]  # so that x / 0 raises
        # Every ICC function as y = (a x + b)^g + e for x >= d, else c x + f.
        g = p[0]
        if kind == 0:
            a, b, c, d, e, f = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
        elif kind in (1, 2):  # below -b/a: 0 (type 1) or the constant p[3] (type 2)
            a, b = p[1], p[2]
            offset = p[3] if kind == 2 else 0.0
            c, d, e, f = 0.0, -b / a, offset, offset
        elif kind == 3:
            a, b, c, d = p[1:5]
            e = f = 0.0
        else:
            a, b, c, d, e, f = p[1:7]
        return lambda x: np.where(x >= d, np.clip(a * x + b, 0.0, None) ** g + e, c * x + f)
    raise ValueError(f"unknown curve type {tag[:4]!r}")


def parse_shaper(icc: bytes) -> Shaper | None:
    """The matrix/TRC content of an ICC profile, or ``None`` if it is not (only) that.

    Profiles with ``A2B*`` tables are LUT-based for a CMM even when they also carry colorants,
    so they return ``None`` too.
    """
    try:
        if len(icc) < 132 or icc[36:40] != b"acsp" or icc[20:24] != b"XYZ ":
            return None
        tags = _tags(icc)
        if any(name in tags for name in (b"A2B0", b"A2B1", b"A2B2")):
            return None
        if icc[16:20] == b"RGB ":
            curves = tuple(_curve(tags[name]) for name in (b"rTRC", b"gTRC", b"bTRC"))
            matrix = np.column_stack([_xyz(tags[name]) for name in (b"rXYZ", b"gXYZ", b"bXYZ")])
            return Shaper(curves, matrix)
        if icc[16:20] == b"GRAY":
            return Shaper((_curve(tags[b"kTRC"]),), None)
    except (KeyError, ValueError, IndexError, ZeroDivisionError, struct.error):
        return None
    return None


@lru_cache(maxsize=1)
def _srgb_shaper() -> Shaper:
    shaper = parse_shaper(srgb_profile())
    assert shaper is not None and shaper.matrix is not None
    return shaper


def is_srgb_profile(icc: bytes) -> bool:
    """Whether a profile is sRGB (or gray with the sRGB curve), so applying it changes nothing."""
    from PIL import ImageCms

    shaper, srgb = parse_shaper(icc), _srgb_shaper()
    if shaper is not None:
        x = np.linspace(0.0, 1.0, 1024)
        same_curves = all(np.allclose(c(x), srgb.curves[0](x), atol=2e-3) for c in shaper.curves)
        same_matrix = shaper.matrix is None or np.allclose(shaper.matrix, srgb.matrix, atol=2e-3)
        return same_curves and same_matrix
    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return False
    return "srgb" in description.lower()


# ----------------------------------------------------------------------------- lightness


@lru_cache(maxsize=2)
def _srgb_linear_lut(bits: int) -> np.ndarray:
    x = np.arange(1 << bits, dtype=np.float64) / ((1 << bits) - 1)
    return np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)


def _lightness_from_luminance(y: np.ndarray) -> np.ndarray:
    f = np.where(y > _EPSILON, np.cbrt(y), _KAPPA_SLOPE * y + 16.0 / 116.0)
    return (116.0 * f - 16.0).astype(np.float32)


def _blockwise(codes: np.ndarray, luminance: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """L* (H, W) float32, computing the luminance of a few rows at a time."""
    height, width = codes.shape[:2]
    out = np.empty((height, width), dtype=np.float32)
    rows = max(1, _BLOCK_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        out[top : top + rows] = _lightness_from_luminance(luminance(codes[top : top + rows]))
    return out


def _bits(codes: np.ndarray) -> int:
    return 16 if codes.dtype == np.uint16 else 8


def _srgb_lightness(codes: np.ndarray) -> np.ndarray:
    lut = _srgb_linear_lut(_bits(codes))
    if codes.ndim == 2:
        return _blockwise(codes, lambda block: lut[block])
    return _blockwise(codes, lambda block: lut[block] @ _Y_FROM_LINEAR_RGB)


def _shaper_lightness(codes: np.ndarray, shaper: Shaper) -> np.ndarray:
    bits = _bits(codes)
    if shaper.matrix is None:
        # A neutral gray is r = g = b = Y in linear sRGB (both white points are the PCS D50).
        gray_lut = shaper.linear_lut(0, bits)
        return _blockwise(codes, lambda block: gray_lut[block])
    luts = [shaper.linear_lut(c, bits) for c in range(3)]
    to_srgb = np.linalg.inv(_srgb_shaper().matrix) @ shaper.matrix  # device linear -> sRGB linear

    def luminance(block: np.ndarray) -> np.ndarray:
        linear = np.stack([luts[c][block[..., c]] for c in range(3)], axis=-1)
        # Clipping to the sRGB gamut is what an 8-bit LittleCMS transform does too.
        return np.clip(linear @ to_srgb.T, 0.0, 1.0) @ _Y_FROM_LINEAR_RGB

    return _blockwise(codes, luminance)


def _to_pil(codes: np.ndarray, mode: str) -> Image.Image:
    if codes.dtype == np.uint16:  # LittleCMS through Pillow is 8-bit: round to the nearest code
        codes = ((codes.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    size = (codes.shape[1], codes.shape[0])
    return Image.frombytes(mode, size, np.ascontiguousarray(codes).tobytes())


def _cms_to_srgb(codes: np.ndarray, mode: str, icc: bytes) -> np.ndarray | None:
    """8-bit sRGB codes (H, W, 3) through LittleCMS, or ``None`` if the profile is unusable."""
    from PIL import ImageCms

    if codes.dtype == np.uint16:
        log.info("ICC profile is LUT-based: converting 16-bit pixels through 8 bits")
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))
        converted = ImageCms.profileToProfile(
            _to_pil(codes, mode), source, target, outputMode="RGB", flags=ImageCms.Flags.NOOPTIMIZE
        )
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError) as err:
        log.warning("ignoring unusable ICC profile (pixels taken as sRGB): %s", err)
        return None
    assert converted is not None
    return np.asarray(converted)


def has_chroma(rgb: np.ndarray) -> bool:
    """Whether RGB codes (H, W, 3) carry real colour rather than gray plus rounding noise."""
    height, width = rgb.shape[:2]
    step = max(1, int(np.sqrt(height * width / 1e6)))  # ~1 MP is plenty to decide
    sample = rgb[::step, ::step].astype(np.int32)
    spread = sample.max(axis=-1) - sample.min(axis=-1)
    top = np.iinfo(rgb.dtype).max
    return bool(np.mean(spread > _CHROMA_TOLERANCE * top) > _CHROMA_FRACTION)


def srgb_lightness(codes: np.ndarray, mode: str, icc: bytes | None) -> tuple[np.ndarray, bool]:
    """(L*, was_color) of decoded pixels.

    ``codes``: ``uint8`` or ``uint16`` of shape (H, W) for ``mode`` "L", (H, W, 3) for "RGB",
    (H, W, 4) ``uint8`` for "CMYK". Returns L* as float32 (H, W) in [0, 100] of the pixels
    converted to sRGB, and whether the pixels had real chroma (gray inputs never do).
    """
    if mode not in ("L", "RGB", "CMYK"):
        raise ValueError(f"unexpected mode {mode!r}")
    source_mode = mode
    if icc and not is_srgb_profile(icc):
        shaper = parse_shaper(icc)
        if shaper is not None and shaper.fits(mode):
            return _shaper_lightness(codes, shaper), mode == "RGB" and has_chroma(codes)
        converted = _cms_to_srgb(codes, mode, icc)
        if converted is not None:
            codes, mode = converted, "RGB"
    if mode == "CMYK":  # no usable profile: Pillow's naive CMYK -> RGB
        codes, mode = np.asarray(_to_pil(codes, "CMYK").convert("RGB")), "RGB"
    return _srgb_lightness(codes), source_mode != "L" and has_chroma(codes)
