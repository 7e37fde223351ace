"""Which files are images we can read, how large a photo may be, and what a file's magic says.

Every format Pillow can decode by itself is read (PNG, JPEG, TIFF, WebP, BMP, GIF, PCX, PPM/PGM/PBM,
JPEG 2000, TGA, PSD, ...); the folder walk takes them by suffix, and :func:`why_not_taken` gives the
reason for every file it leaves, so that nothing in a folder is passed over in silence.

The pixel limit (``--max-pixels``) guards against decompression bombs: a header that claims more
pixels than :func:`default_max_pixels` is refused before any pixel is decoded. The default is sized
to the machine: with the full-resolution colour work streamed in strips, colorizing holds at most
:data:`BYTES_PER_PIXEL` bytes per pixel at peak (a 16-bit RGBA photo; an 8-bit gray JPEG needs
about 5), and a photo may use at most half of the physical memory. The exact per-photo check is the
memory budget (``--max-memory``), made from the header before decoding; this limit only turns
away headers no budget could ever meet.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import warnings
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from autocolor.errors import InputImageError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

#: What Pillow (and its C decoders) raise on damaged files; each becomes an InputImageError.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, MemoryError,
    struct.error, ZeroDivisionError, OverflowError, RuntimeError,
)  # fmt: skip
#: Peak memory per pixel of colorizing the heaviest kind of photo (16-bit RGBA) on the streamed
#: path, bytes: :func:`autocolor.batch.memory.photo_bytes` gives 24.1 there (4.5 for 8-bit gray
#: JPEG -> JPEG). Sized so that a 200-megapixel archive scan passes on a 16 GB laptop.
BYTES_PER_PIXEL = 24
#: Used when the physical memory cannot be read (4 GiB / 2 / 24 B = ~89 megapixels).
FALLBACK_MEMORY = 4 << 30
#: Pillow formats that are listed for reading but cannot decode pixels without an outside
#: program or library handler (Ghostscript, Windows GDI, scientific data handlers) or are not
#: pictures at all (MPEG: Pillow only identifies it).
_NOT_DECODABLE = frozenset({"EPS", "WMF", "MPEG", "HDF5", "BUFR", "GRIB", "IPTC"})

# Leading bytes -> format name, to name the format of a file whose header Pillow cannot parse.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"8BPS", "PSD"),
)


_pillow_limit_lock = threading.Lock()


@contextlib.contextmanager
def no_pillow_pixel_limit() -> Iterator[None]:
    """Pillow's own bomb check off for a header parse (it raises without the dimensions and
    ignores our limit); the caller applies ``max_pixels`` itself before decoding. Under a lock,
    as the limit is a global."""
    from PIL import Image

    with _pillow_limit_lock:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def physical_memory() -> int:
    """Bytes of physical memory of this machine (:data:`FALLBACK_MEMORY` if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # not POSIX, or the values are unavailable
        return FALLBACK_MEMORY


def default_max_pixels() -> int:
    """Largest photo (width x height) this machine colorizes without running out of memory.

    ``$AUTOCOLOR_MAX_PIXELS`` overrides it (the same as ``--max-pixels``).
    """
    override = os.environ.get("AUTOCOLOR_MAX_PIXELS", "").replace("_", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return physical_memory() // 2 // BYTES_PER_PIXEL


@lru_cache(maxsize=1)
def readable_suffixes() -> frozenset[str]:
    """Lower-case suffixes (".png", ".gif", ".jp2", ...) of every format Pillow decodes here."""
    from PIL import Image

    Image.init()  # registers every plugin, so formats added by this Pillow build are included
    return frozenset(
        suffix.lower()
        for suffix, fmt in Image.registered_extensions().items()
        if fmt in Image.OPEN and fmt not in _NOT_DECODABLE
    )


def why_not_taken(name: str) -> str | None:
    """Why a folder walk does not take the file ``name`` (None: it is taken as an image)."""
    if name.startswith("."):
        return "hidden file"
    suffix = os.path.splitext(name)[1].lower()
    if suffix in readable_suffixes():
        return None
    if not suffix:
        return "no file extension, so not taken for an image (give the file itself to try it)"
    return f"{suffix} is not an image format autocolor reads"


def magic_format(data: bytes) -> str | None:
    """The format a file's first bytes announce ("PNG", "TIFF", ...), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _MAGIC if data.startswith(magic)), None)


def open_rgb(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> Image.Image:
    """Decode a file as an upright (EXIF orientation applied) 8-bit RGB image, for datasets.

    The header's size is checked against ``max_pixels`` (default :func:`default_max_pixels`)
    before decoding. Raises :class:`InputImageError` naming the file and the reason for any
    file that cannot be used; training and evaluation report it and go on.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit = default_max_pixels() if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on damaged files: we raise instead
            with open(path, "rb") as handle:
                head = handle.read(16)
                handle.seek(0)
                with no_pillow_pixel_limit():
                    image = Image.open(handle)  # the header only
                with image:
                    width, height = image.size
                    if width * height > limit:
                        raise InputImageError(
                            path, f"too large: {width}x{height} = {width * height:,} pixels exceeds the limit of {limit:,}"
                        )
                    return ImageOps.exif_transpose(image).convert("RGB")
    except InputImageError:
        raise
    except FileNotFoundError as err:
        raise InputImageError(path, "no such file") from err
    except UnidentifiedImageError as err:
        announced = magic_format(head)
        what = (
            f"corrupt {announced} file: its header cannot be parsed (truncated or damaged)"
            if announced
            else "not an image: no known image format matches it"
        )  # the same words as autocolor.imagefile.read_photo
        raise InputImageError(path, what) from err
    except (Image.DecompressionBombError, *DECODE_ERRORS) as err:
        detail = str(err).strip().rstrip(".") or type(err).__name__
        raise InputImageError(path, f"cannot decode ({detail})") from err


def silence_libtiff() -> bool:
    """Stop the libtiff inside Pillow from printing its own error and warning lines on stderr.

    A damaged TIFF then fails with Pillow's exception (our one-line error) alone, instead of
    also leaving lines such as ``TIFFFetchNormalTag: Incorrect count`` in a batch's output.
    Process-wide and best effort (Linux: the library is found among the loaded ones); returns
    whether it worked. The CLI calls it unless ``--debug``.
    """
    import ctypes

    from PIL import _imaging  # noqa: F401 - loads the libtiff that Pillow's decoders use

    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "libtiff" in line and "/" in line}
        for path in paths:
            library = ctypes.CDLL(path)  # already loaded: the same handle, nothing new runs
            library.TIFFSetErrorHandler.argtypes = library.TIFFSetWarningHandler.argtypes = [ctypes.c_void_p]
            library.TIFFSetErrorHandler.restype = library.TIFFSetWarningHandler.restype = ctypes.c_void_p
            library.TIFFSetErrorHandler(None)
            library.TIFFSetWarningHandler(None)
    except (OSError, AttributeError):
        return False
    return bool(paths)
