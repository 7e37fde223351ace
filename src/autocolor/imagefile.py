"""Read and write photos: 8/16-bit, alpha, EXIF orientation, ICC -> sRGB, atomic writes, stdio.

Reading gives a :class:`Photo` whose ``lightness`` is the full-resolution CIE L* of the upright
sRGB pixels; writing takes the pipeline's full-resolution sRGB result and restores alpha, bit
depth and metadata. Bit depth comes from the file (the PNG header, TIFF ``BitsPerSample`` or
Pillow's 16-bit modes), never from pixel values. Pillow decodes everything (and validates the
whole file), except 16-bit colour PNG/TIFF pixels, which Pillow reduces to 8 bits and OpenCV
decodes at full precision.

Metadata on write: EXIF is kept with orientation 1 (the pixels are already upright). Pixels are
sRGB after reading, so an input that carried an ICC profile gets an sRGB profile on output
(untagged inputs stay untagged, which viewers take as sRGB anyway). 16-bit PNGs get their
``iCCP``/``eXIf`` chunks added by hand; 16-bit TIFFs (written by OpenCV) carry no metadata.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import stat
import sys
import tempfile
import warnings
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from autocolor.errors import InputImageError, OutputError, UsageError
from autocolor.imageformats import DECODE_ERRORS, default_max_pixels, magic_format, no_pillow_pixel_limit
from autocolor.imagemeta import (
    apply_orientation,
    exif_to_keep,
    png_pixel_chunks,
    srgb_lightness,
    stored_bit_depth,
    stored_orientation,
    tiff_without_orientation,
)
from autocolor.photo import Photo

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.imageencode import Layout

#: An encoded file: its bytes, or its consecutive pieces.
Encoded = Union[bytes, memoryview, Sequence[Union[bytes, memoryview]]]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}
)
MIN_SIDE = 8  # smaller images have nothing for a network to see
STDIO = "-"

_FORMAT_OF_SUFFIX = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".webp": "WEBP", ".bmp": "BMP",
}
_WRITABLE = ("PNG", "JPEG", "TIFF", "WEBP", "BMP")
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
_DECODE_ERRORS = DECODE_ERRORS
# Pillow mode -> the mode we decode it as; "transparency" in img.info adds alpha.
_DECODE_AS = {
    "1": "L", "L": "L", "LA": "LA", "La": "LA", "P": "RGB", "PA": "RGBA", "RGB": "RGB",
    "RGBX": "RGB", "RGBA": "RGBA", "RGBa": "RGBA", "YCbCr": "RGB", "CMYK": "CMYK",
}
_WITH_TRANSPARENCY = {"L": "LA", "P": "RGBA", "RGB": "RGBA"}


# ----------------------------------------------------------------------------- reading


def read_photo(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> Photo:
    """Decode an image file ("-" reads stdin) into a :class:`Photo`.

    ``max_pixels`` (width x height) guards against decompression bombs; the default is sized to
    this machine's memory (:func:`autocolor.imageformats.default_max_pixels`). It is checked
    from the header before any pixel is decoded. Multi-frame files (GIF, animated WebP,
    multi-page TIFF) give their first frame. Raises
    :class:`InputImageError` with a short reason for anything that is not a usable image.
    """
    source = str(path)
    name = "<stdin>" if source == STDIO else source
    data = _read_bytes(source, name)
    img = _open(data, name, default_max_pixels() if max_pixels is None else max_pixels)
    # Pillow turns TIFFs upright itself while loading (and drops their tag); read it before.
    orientation = stored_orientation(img) if img.format == "TIFF" else 0
    try:
        img.load()  # a full decode: a truncated file fails here, not halfway through the pipeline
    except _DECODE_ERRORS as err:
        raise InputImageError(name, f"truncated or corrupt image data ({_short(err)})") from err
    orientation = orientation or stored_orientation(img)
    pillow_upright = orientation != 1 and stored_orientation(img) == 1
    depth = stored_bit_depth(img, data)
    if depth not in (1, 2, 4, 8, 16):
        raise InputImageError(name, f"unsupported: {depth}-bit samples (only 8 and 16 bits)")
    bits = 16 if depth == 16 else 8
    codes, mode, alpha, bits, upright = _decode_pixels(
        img, data, bits, name, pillow_upright, orientation
    )
    icc = img.info.get("icc_profile") or None
    turn = 1 if upright else orientation
    if alpha is not None:
        alpha = apply_orientation(alpha.astype(np.float32) / np.iinfo(alpha.dtype).max, turn)
    lightness, table, was_color = None, None, False
    if mode == "L":
        # L* is a function of the gray code alone: convert every possible code once (the same
        # conversion as for the pixels, so the same values) and keep the codes.
        every_code = np.arange(1 << (8 * codes.itemsize), dtype=codes.dtype)[None]
        table = srgb_lightness(every_code, "L", icc)[0][0]
        codes = apply_orientation(codes, turn)
    else:
        lightness, was_color = srgb_lightness(codes, mode, icc)
        lightness, codes = apply_orientation(lightness, turn), None
    return Photo(
        source=source,
        lightness=lightness,
        codes=codes,
        lightness_table=table,
        alpha=alpha,
        bit_depth=bits,
        format=img.format or "PNG",
        exif=exif_to_keep(img),
        icc_profile=icc,
        was_color=was_color,
    )


def peek_header(path: str | os.PathLike[str]) -> tuple[int, int, str, int, int]:
    """``(width, height, mode, bits, file_bytes)`` of an image file from its header only.

    Nothing is decoded and no size limit applies (callers judge the size). Raises
    :class:`OSError` / Pillow's errors when the file is not a readable image.
    """
    with open(path, "rb") as file:
        head = file.read(1 << 16)  # PNG's IHDR and nearly always TIFF's first IFD
        size = os.fstat(file.fileno()).st_size
    with no_pillow_pixel_limit(), warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            width, height = img.size
            return width, height, img.mode, (16 if stored_bit_depth(img, head) == 16 else 8), size


def _short(err: BaseException) -> str:
    return str(err).strip().rstrip(".") or type(err).__name__


def _read_bytes(source: str, name: str) -> bytes:
    if source == STDIO:
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise InputImageError(name, "stdin is not a binary stream")
        data = stream.read()
    else:
        if os.path.isdir(source):
            raise InputImageError(name, "is a directory, not an image")
        try:
            with open(source, "rb") as file:
                data = file.read()
        except FileNotFoundError as err:
            raise InputImageError(name, "no such file") from err
        except PermissionError as err:
            raise InputImageError(name, "permission denied") from err
        except OSError as err:
            raise InputImageError(name, f"cannot read: {err.strerror or err}") from err
    if not data:
        raise InputImageError(name, "empty file (0 bytes)")
    return data


def check_pixels(name: str, width: int, height: int, max_pixels: int | None = None) -> None:
    """Refuse a ``width`` x ``height`` photo above ``max_pixels`` (default: the machine's limit)
    with an :class:`InputImageError` that names the limit; called before anything is decoded."""
    limit = default_max_pixels() if max_pixels is None else max_pixels
    if width * height > limit:
        raise InputImageError(
            name,
            f"too large: {width}x{height} = {width * height:,} pixels exceeds the limit of "
            f"{limit:,} (possible decompression bomb; --max-pixels raises the limit)",
        )


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Parse the header only; check size limits before anything is decoded."""
    try:
        with no_pillow_pixel_limit(), warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as err:
        announced = magic_format(data)
        if announced is not None:  # Pillow tried that format's parser and it gave up
            reason = f"corrupt {announced} file: its header cannot be parsed (truncated or damaged)"
            raise InputImageError(name, reason) from err
        raise InputImageError(name, "not an image: no known image format matches it") from err
    except _DECODE_ERRORS as err:
        raise InputImageError(name, f"corrupt image header ({_short(err)})") from err
    width, height = img.size
    check_pixels(name, width, height, max_pixels)
    if min(width, height) < MIN_SIDE:
        raise InputImageError(
            name, f"too small: {width}x{height} px (each side needs {MIN_SIDE} px or more)"
        )
    return img


def _decode_pixels(
    img: Image.Image, data: bytes, bits: int, name: str, pillow_upright: bool, orientation: int
) -> tuple[np.ndarray, str, np.ndarray | None, int, bool]:
    """(codes, mode, alpha codes, bits, upright) of a loaded image.

    codes are (H, W) for mode "L", (H, W, 3) for "RGB", (H, W, 4) for "CMYK"; ``upright`` says
    whether they are already turned by the EXIF orientation.
    """
    if bits == 16:
        if img.mode.startswith("I;16") or img.mode == "I":
            return np.asarray(img).astype(np.uint16), "L", None, 16, pillow_upright
        decoded = _opencv_16bit(img, data, pillow_upright and orientation >= 5)
        if decoded is not None:
            return (*decoded, 16, False)
        log.warning("%s: 16-bit %s pixels could not be decoded at 16 bits; using 8", name, img.mode)
    mode = _WITH_TRANSPARENCY.get(img.mode, "") if "transparency" in img.info else ""
    mode = mode or _DECODE_AS.get(img.mode, "")
    if not mode:
        raise InputImageError(name, f"unsupported pixel mode {img.mode!r}")
    try:
        pixels = np.asarray(img if img.mode == mode else img.convert(mode))
    except _DECODE_ERRORS as err:
        raise InputImageError(name, f"cannot convert {img.mode} pixels ({_short(err)})") from err
    if mode == "LA":
        return pixels[..., 0], "L", pixels[..., 1], 8, pillow_upright
    if mode == "RGBA":
        return pixels[..., :3], "RGB", pixels[..., 3], 8, pillow_upright
    return pixels, mode, None, 8, pillow_upright


def _opencv_16bit(
    img: Image.Image, data: bytes, swapped: bool
) -> tuple[np.ndarray, str, np.ndarray | None] | None:
    """(codes, mode, alpha) of 16-bit L/LA/RGB/RGBA pixels as stored, or None if OpenCV fails.

    ``swapped``: Pillow's size is already the upright one with width and height exchanged.
    """
    if img.mode not in ("L", "LA", "RGB", "RGBA"):
        return None
    # IMREAD_UNCHANGED keeps 16 bits and alpha; EXIF orientation is applied later, by us.
    stored = tiff_without_orientation(data) if img.format == "TIFF" else png_pixel_chunks(data)
    decoded = cv2.imdecode(np.frombuffer(stored, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    height, width = img.size if swapped else img.size[::-1]
    if decoded is None or decoded.dtype != np.uint16 or decoded.shape[:2] != (height, width):
        return None
    if decoded.ndim == 2:
        return decoded, "L", None
    alpha = decoded[..., -1] if decoded.shape[2] in (2, 4) else None
    if decoded.shape[2] in (1, 2) or img.mode in ("L", "LA"):  # OpenCV may widen gray to BGR
        return np.ascontiguousarray(decoded[..., 0]), "L", alpha
    return np.ascontiguousarray(decoded[..., 2::-1]), "RGB", alpha  # BGR(A) -> RGB


# ----------------------------------------------------------------------------- writing


def output_format(
    path: str | os.PathLike[str], format: str | None, *, default: str | None = None
) -> str:
    """The Pillow format name to write: ``format`` (e.g. "jpg", "PNG") if given, else the extension.

    For stdout ("-") without ``format`` it is ``default`` (the input's format) when that can be
    written, else PNG. Raises :class:`UsageError` for an unknown ``format`` and
    :class:`OutputError` for an unknown extension.
    """
    if format is not None:
        name = format.strip().lstrip(".").upper()
        name = _FORMAT_ALIASES.get(name, name)
        if name not in _WRITABLE:
            choices = ", ".join(f.lower() for f in _WRITABLE)
            raise UsageError(f"unknown output format {format!r}; choose one of {choices}")
        return name
    if str(path) == STDIO:
        return default if default in _WRITABLE else "PNG"
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMAT_OF_SUFFIX:
        known = " ".join(sorted(SUPPORTED_SUFFIXES))
        what = f"unknown image extension {suffix!r}" if suffix else "no file extension"
        raise OutputError(path, f"{what}; use one of {known} or give a format")
    return _FORMAT_OF_SUFFIX[suffix]


def write_photo(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    like: Photo,
    *,
    format: str | None = None,
    quality: int = 95,
) -> Path | None:
    """Write float sRGB ``rgb`` (H, W, 3) in [0, 1] with ``like``'s alpha, bit depth and metadata.

    ``rgb`` must have ``like``'s (upright) size. "-" writes the encoded file to stdout and
    returns None; otherwise the file is written atomically and its path returned. Raises
    :class:`OutputError` when it cannot be written (the destination is then untouched).
    """
    height, width = like.shape
    if rgb.shape != (height, width, 3):
        raise ValueError(f"rgb must have shape {(height, width, 3)}, got {rgb.shape}")
    fmt = output_format(path, format, default=like.format)
    try:
        data = encode(rgb, like, fmt, quality=quality)
    except (OSError, ValueError, cv2.error) as err:
        raise OutputError(path, f"cannot encode {fmt}: {_short(err)}") from err
    return write_bytes(path, data)


def write_codes(
    path: str | os.PathLike[str], codes: np.ndarray, like: Photo, fmt: str, layout: Layout, *, quality: int = 95
) -> Path | None:
    """Like :func:`write_photo`, from output codes already in ``layout``
    (:func:`autocolor.imageencode.output_layout` of ``fmt``, see :meth:`Colorizer.render`)."""
    from autocolor.imageencode import encode_codes

    if codes.shape[:2] != like.shape or codes.shape[2] != layout.channels:
        raise ValueError(f"codes must have shape {(*like.shape, layout.channels)}, got {codes.shape}")
    try:
        data = encode_codes(codes, like, fmt, layout, quality=quality)
    except (OSError, ValueError, cv2.error) as err:
        raise OutputError(path, f"cannot encode {fmt}: {_short(err)}") from err
    return write_bytes(path, data)


def write_bytes(path: str | os.PathLike[str], data: Encoded) -> Path | None:
    """Write an encoded file atomically ("-": to stdout, returning None). Raises :class:`OutputError`.

    ``data`` is the file's bytes, or its consecutive pieces (written one after the other, so an
    encoder's buffer need not be copied to insert metadata).
    """
    if str(path) == STDIO:
        _write_stdout(data)
        return None
    destination = Path(path)
    atomic_write(destination, data)
    return destination


def encode(rgb: np.ndarray, like: Photo, fmt: str, *, quality: int = 95) -> bytes:
    """The bytes of an image file in format ``fmt`` (see :func:`write_photo`)."""
    from autocolor.imageencode import encode_codes, output_layout

    layout = output_layout(fmt, like)
    top = (1 << layout.bits) - 1
    channels = [np.clip(rgb, 0.0, 1.0)[..., ::-1] if layout.order == "BGR" else np.clip(rgb, 0.0, 1.0)]
    if layout.alpha:
        assert like.alpha is not None
        channels.append(np.clip(like.alpha, 0.0, 1.0)[..., None])
    codes = np.rint(np.concatenate(channels, axis=-1) * top).astype(layout.dtype)
    return b"".join(encode_codes(codes, like, fmt, layout, quality=quality))


def _pieces(data: Encoded) -> Sequence[bytes | memoryview]:
    return [data] if isinstance(data, (bytes, bytearray, memoryview)) else data


def _write_stdout(data: Encoded) -> None:
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        raise OutputError("<stdout>", "stdout is not a binary stream")
    try:
        for piece in _pieces(data):
            stream.write(piece)
        stream.flush()
    except OSError as err:
        raise OutputError("<stdout>", f"cannot write: {_short(err)}") from err


def _new_file_mode() -> int:
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(destination: Path, data: Encoded) -> None:
    """Write ``data`` to a temporary file beside ``destination``, fsync, then rename over it.

    A reader never sees a half-written file, and on any failure the temporary file is removed
    and an existing ``destination`` is left as it was. Raises :class:`OutputError`.
    """
    directory = destination.parent
    if destination.is_dir():
        raise OutputError(destination, "is a directory")
    if not directory.is_dir():
        raise OutputError(destination, f"directory {str(directory)!r} does not exist")
    try:
        mode = stat.S_IMODE(destination.stat().st_mode)  # replacing a file keeps its permissions
    except OSError:
        mode = _new_file_mode()
    try:
        # ".<name>.<pid>.XXXXXXXX.tmp": hidden, and a later run can tell (autocolor.batch.claims)
        # that a leftover's writer is dead before it removes it.
        fd, temporary = tempfile.mkstemp(
            prefix=f".{destination.name}.{os.getpid()}.", suffix=".tmp", dir=directory
        )
    except OSError as err:
        reason = "permission denied" if isinstance(err, PermissionError) else _short(err)
        raise OutputError(destination, f"cannot write in {str(directory)!r}: {reason}") from err
    try:
        with os.fdopen(fd, "wb") as file:
            for piece in _pieces(data):
                file.write(piece)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, destination)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise OutputError(destination, err.strerror or _short(err)) from err
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, so best effort.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file (links, spellings resolved); "-" is never a file."""
    if STDIO in (str(a), str(b)):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:  # at least one does not exist yet
        return Path(a).resolve() == Path(b).resolve()
