"""Valid image files of many kinds, their structure, and ways to break them (fuzz tests).

:func:`seed_files` makes small valid files in memory: JPEG (gray, RGB, CMYK, progressive, with
EXIF/ICC/XMP), PNG (1-bit, palette with transparency, 16-bit gray and colour, RGBA, with
metadata), TIFF (RGB, CMYK, 16-bit, multi-page), WebP (lossy, lossless, animated), BMP, GIF
(animated), PPM and PCX, at sizes from 1x1 and 1xN up to a few dozen pixels.

:func:`boundaries` lists the structural offsets of a file (chunk, marker, IFD, header edges) so
that truncation can hit every one of them, :func:`length_fields` the header fields that hold a
length, :func:`dimension_fields` those that hold width/height, and :func:`metadata_spans` the byte
ranges of EXIF / ICC / XMP blocks. :class:`Mutation` applies one change and describes it.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageCms

from autocolor.imagemeta import png_with_metadata

XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
    b'<?xpacket end="w"?>'
)


def _pixels(width: int, height: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    base = np.broadcast_to(ramp, (height, width))
    noise = rng.integers(0, 40, size=shape)
    if channels > 1:
        base = base[..., None]
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _save(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _exif(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "FuzzCam"
    exif[0x0132] = "2001:02:03 04:05:06"
    return exif.tobytes()


@lru_cache(maxsize=1)
def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _cv2(suffix: str, codes: np.ndarray) -> bytes:
    ok, data = cv2.imencode(suffix, codes)
    assert ok
    return data.tobytes()


def _animated(fmt: str, frames: list[Image.Image], **options: object) -> bytes:
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], **options)


@lru_cache(maxsize=1)
def seed_files() -> dict[str, bytes]:
    """Name -> bytes of a valid file; the name says format, mode and size (``png_rgb_24x16``)."""
    rgb = Image.fromarray(_pixels(24, 16, 3))
    gray = Image.fromarray(_pixels(24, 16, 1))
    files: dict[str, bytes] = {
        "jpeg_gray_24x16": _save(gray, "JPEG", quality=90),
        "jpeg_rgb_meta_24x16": _save(rgb, "JPEG", exif=_exif(), icc_profile=_icc(), xmp=XMP),
        "jpeg_cmyk_24x16": _save(rgb.convert("CMYK"), "JPEG"),
        "jpeg_progressive_24x16": _save(rgb, "JPEG", progressive=True),
        "jpeg_1x1": _save(Image.new("L", (1, 1), 128), "JPEG"),
        "jpeg_1x40": _save(Image.fromarray(_pixels(1, 40, 1)), "JPEG"),
        "png_gray_24x16": _save(gray, "PNG"),
        "png_rgb_meta_24x16": _save(rgb, "PNG", exif=_exif(3), icc_profile=_icc()),
        "png_rgba_24x16": _save(rgb.convert("RGBA"), "PNG"),
        "png_1bit_24x16": _save(gray.convert("1"), "PNG"),
        "png_palette_trns_24x16": _save(rgb.convert("P"), "PNG", transparency=3),
        "png_gray16_24x16": _cv2(".png", _pixels(24, 16, 1).astype(np.uint16) * 257),
        "png_rgb16_meta_24x16": png_with_metadata(
            _cv2(".png", _pixels(24, 16, 3).astype(np.uint16) * 257), _icc(), _exif(8)
        ),
        "png_40x1": _save(Image.fromarray(_pixels(40, 1, 1)), "PNG"),
        "png_1x1": _save(Image.new("RGB", (1, 1), (9, 99, 199)), "PNG"),
        "tiff_rgb_24x16": _save(rgb, "TIFF", compression="tiff_lzw", exif=_exif(6)),
        "tiff_cmyk_24x16": _save(rgb.convert("CMYK"), "TIFF"),
        "tiff_gray16_24x16": _cv2(".tiff", _pixels(24, 16, 1).astype(np.uint16) * 257),
        "tiff_rgb16_24x16": _cv2(".tiff", _pixels(24, 16, 3).astype(np.uint16) * 257),
        "tiff_multipage_24x16": _animated("TIFF", [rgb, gray.convert("RGB")]),
        "webp_lossy_24x16": _save(rgb, "WEBP", quality=80, icc_profile=_icc(), exif=_exif()),
        "webp_lossless_rgba_24x16": _save(rgb.convert("RGBA"), "WEBP", lossless=True),
        "webp_animated_24x16": _animated("WEBP", [rgb, gray.convert("RGB")], duration=50),
        "bmp_rgb_24x16": _save(rgb, "BMP"),
        "bmp_palette_24x16": _save(rgb.convert("P"), "BMP"),
        "bmp_1x1": _save(Image.new("RGB", (1, 1)), "BMP"),
        "gif_animated_24x16": _animated("GIF", [rgb.convert("P"), gray.convert("P")], duration=50),
        "ppm_rgb_24x16": _save(rgb, "PPM"),
        "pcx_gray_24x16": _save(gray, "PCX"),
    }
    return files


SUFFIX = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "webp": ".webp", "bmp": ".bmp",
          "gif": ".gif", "ppm": ".ppm", "pcx": ".pcx"}  # fmt: skip


def suffix_of(name: str) -> str:
    """The file suffix of a seed name (``"png_rgb_24x16"`` -> ``".png"``)."""
    return SUFFIX[name.split("_", 1)[0]]


# ----------------------------------------------------------------------------- structure


def _png_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset of the length field, type, payload length) of each PNG chunk."""
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        chunks.append((pos, data[pos + 4 : pos + 8], length))
        pos += 12 + length
    return chunks


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(offset of the marker, marker byte, segment length) up to the first SOS."""
    segments, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segments.append((pos, marker, length))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        pos += 2 + length
    return segments


def _riff_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((pos, data[pos : pos + 4], size))
        pos += 8 + size + (size & 1)
    return chunks


def _tiff_entries(data: bytes) -> list[tuple[int, int]]:
    """(offset of the entry, tag) of every entry of the first IFD."""
    if len(data) < 8:
        return []
    order = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", data[4:8])[0]
    if ifd + 2 > len(data):
        return []
    count = struct.unpack(order + "H", data[ifd : ifd + 2])[0]
    return [(ifd + 2 + 12 * i, struct.unpack(order + "H", data[ifd + 2 + 12 * i : ifd + 4 + 12 * i])[0])
            for i in range(count) if ifd + 14 + 12 * i <= len(data)]  # fmt: skip


def boundaries(data: bytes) -> list[int]:
    """Offsets where a structure starts or ends: truncating there cuts between two parts."""
    edges = {0, 1, len(data) // 2, len(data) - 1}
    if data.startswith(b"\x89PNG"):
        edges.add(8)
        for pos, _kind, length in _png_chunks(data):
            edges.update((pos, pos + 4, pos + 8, pos + 8 + length, pos + 12 + length))
    elif data.startswith(b"\xff\xd8"):
        edges.add(2)
        for pos, _marker, length in _jpeg_segments(data):
            edges.update((pos, pos + 2, pos + 4, pos + 2 + length))
        edges.add(data.rfind(b"\xff\xd9"))
    elif data.startswith(b"RIFF"):
        edges.update((4, 8, 12))
        for pos, _kind, size in _riff_chunks(data):
            edges.update((pos, pos + 8, pos + 8 + size))
    elif data[:2] in (b"II", b"MM"):
        edges.update((4, 8))
        for pos, _tag in _tiff_entries(data):
            edges.update((pos, pos + 12))
    elif data.startswith(b"BM"):
        edges.update((14, 18, 54, struct.unpack("<I", data[10:14])[0]))
    elif data.startswith(b"GIF"):
        edges.update((6, 13, data.find(b"\x2c"), data.find(b"\x21\xf9")))
    return sorted(e for e in edges if 0 <= e < len(data))


def length_fields(data: bytes) -> list[tuple[int, str]]:
    """(offset, struct format) of header fields that hold a length or an offset."""
    if data.startswith(b"\x89PNG"):
        return [(pos, ">I") for pos, _kind, _length in _png_chunks(data)]
    if data.startswith(b"\xff\xd8"):
        return [(pos + 2, ">H") for pos, _marker, _length in _jpeg_segments(data)]
    if data.startswith(b"RIFF"):
        return [(4, "<I")] + [(pos + 4, "<I") for pos, _kind, _size in _riff_chunks(data)]
    if data[:2] in (b"II", b"MM"):
        order = "<" if data[:2] == b"II" else ">"
        return [(4, order + "I")] + [(pos + 4, order + "I") for pos, _t in _tiff_entries(data)] + [
            (pos + 8, order + "I") for pos, _t in _tiff_entries(data)
        ]
    if data.startswith(b"BM"):
        return [(2, "<I"), (10, "<I"), (14, "<I"), (34, "<I")]
    return []


def dimension_fields(data: bytes) -> list[tuple[int, str]]:
    """(offset, struct format) of the width/height fields of the header."""
    if data.startswith(b"\x89PNG"):
        return [(16, ">I"), (20, ">I")]
    if data.startswith(b"\xff\xd8"):
        sof = [pos for pos, marker, _ in _jpeg_segments(data) if marker in (0xC0, 0xC1, 0xC2)]
        return [(sof[0] + 5, ">H"), (sof[0] + 7, ">H")] if sof else []
    if data[:2] in (b"II", b"MM"):
        order = "<" if data[:2] == b"II" else ">"
        return [(pos + 8, order + "I") for pos, tag in _tiff_entries(data) if tag in (256, 257)]
    if data.startswith(b"BM"):
        return [(18, "<i"), (22, "<i")]
    if data.startswith(b"RIFF"):
        vp8x = [pos for pos, kind, _ in _riff_chunks(data) if kind == b"VP8X"]
        return [(vp8x[0] + 12, "<I"), (vp8x[0] + 15, "<I")] if vp8x else []
    if data.startswith(b"GIF"):
        return [(6, "<H"), (8, "<H")]
    return []


def metadata_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of EXIF / ICC / XMP payloads in the file."""
    spans = []
    if data.startswith(b"\x89PNG"):
        for pos, kind, length in _png_chunks(data):
            if kind in (b"eXIf", b"iCCP", b"iTXt", b"zTXt", b"tEXt"):
                spans.append((pos + 8, pos + 8 + length))
    elif data.startswith(b"\xff\xd8"):
        for pos, marker, length in _jpeg_segments(data):
            if 0xE1 <= marker <= 0xEF:
                spans.append((pos + 4, pos + 2 + length))
    elif data.startswith(b"RIFF"):
        for pos, kind, size in _riff_chunks(data):
            if kind in (b"EXIF", b"ICCP", b"XMP "):
                spans.append((pos + 8, pos + 8 + size))
    elif data[:2] in (b"II", b"MM"):
        spans.append((8, min(len(data), 8 + 64)))  # IFD0 values: tags *are* the metadata
    return [(a, b) for a, b in spans if a < b <= len(data)]


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every chunk CRC so that a PNG mutation gets past Pillow's CRC check."""
    out = bytearray(data)
    for pos, _kind, length in _png_chunks(data):
        end = pos + 8 + length
        if end + 4 <= len(out):
            out[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(out[pos + 4 : end])) & 0xFFFFFFFF)
    return bytes(out)


# ----------------------------------------------------------------------------- mutations


@dataclass(frozen=True)
class Mutation:
    """One change to a seed file; ``kind`` is the failure class it belongs to."""

    kind: str  # "flip", "truncate", "length", "dimensions", "metadata", "none"
    offsets: tuple[int, ...] = ()
    values: tuple[int, ...] = ()
    fix_crc: bool = True

    def apply(self, data: bytes) -> bytes:
        out = bytearray(data)
        if self.kind == "truncate":
            out = out[: self.offsets[0]]
        elif self.kind in ("flip", "metadata"):
            for offset, value in zip(self.offsets, self.values):
                out[offset % len(out)] ^= value or 0x01
        elif self.kind in ("length", "dimensions"):
            for (offset, fmt), value in zip(_fields(data, self.kind, self.offsets), self.values):
                size = struct.calcsize(fmt)
                if offset + size <= len(out):
                    bits = 8 * size - (1 if fmt.endswith("i") else 0)
                    out[offset : offset + size] = struct.pack(fmt, value % (1 << bits))
        result = bytes(out)
        if self.fix_crc and result.startswith(b"\x89PNG") and self.kind != "truncate":
            result = fix_png_crcs(result)
        return result


def _fields(data: bytes, kind: str, picks: tuple[int, ...]) -> list[tuple[int, str]]:
    fields = length_fields(data) if kind == "length" else dimension_fields(data)
    return [fields[p % len(fields)] for p in picks] if fields else []


# ----------------------------------------------------------------------------- strategies

KINDS = ("none", "flip", "truncate", "length", "dimensions", "metadata")
_INTERESTING = (0, 1, 2, 7, 8, 9, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1)


def mutations(kind: str | None = None):  # noqa: ANN201 - a hypothesis strategy of (name, Mutation)
    """Hypothesis strategy: a seed file's name and one :class:`Mutation` of it."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, Mutation]:
        files = seed_files()
        name = draw(st.sampled_from(sorted(files)))
        data = files[name]
        chosen = kind or draw(st.sampled_from(KINDS))
        spans = metadata_spans(data)
        if chosen == "metadata" and not spans:
            chosen = "flip"
        if chosen == "none":
            return name, Mutation("none")
        if chosen == "truncate":
            cut = draw(st.sampled_from(boundaries(data))) + draw(st.integers(-2, 2))
            return name, Mutation("truncate", (min(max(cut, 0), len(data) - 1),))
        if chosen in ("length", "dimensions"):
            picks = draw(st.lists(st.integers(0, 63), min_size=1, max_size=2))
            value = st.one_of(st.sampled_from(_INTERESTING), st.integers(0, 2**32 - 1))
            values = draw(st.lists(value, min_size=len(picks), max_size=len(picks)))
            return name, Mutation(chosen, tuple(picks), tuple(values))
        low, high = draw(st.sampled_from(spans)) if chosen == "metadata" else (0, len(data))
        count = draw(st.integers(1, 8))
        offsets = draw(st.lists(st.integers(low, high - 1), min_size=count, max_size=count))
        values = draw(st.lists(st.integers(1, 255), min_size=count, max_size=count))
        return name, Mutation(chosen, tuple(offsets), tuple(values), fix_crc=draw(st.booleans()))

    return build()


def reason_class(reason: str) -> str:
    """A failure reason reduced to its class ("too large", "corrupt TIFF file", ...)."""
    head = reason.split("(")[0].split(":")[0].strip()
    return " ".join(head.split()[:4])
