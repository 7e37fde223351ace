"""The memory budget of a batch (``--max-memory``): parsing, per-photo estimates, admission.

A photo in flight holds its decoded lightness (1 byte per pixel for 8-bit gray files, 2 for
16-bit gray, 4 for others, plus 4 for alpha) and, while it is written, its output codes and
encoded file; the full-resolution colour work itself runs in strips of a few hundred kilobytes
(:mod:`autocolor.render`), so the photo's size, not the method, sets its memory. Before a reader
decodes a file it reserves that estimate from a :class:`MemoryBudget`; it waits while other
photos hold the budget, so a folder of huge scans is worked through a few at a time, and a photo
that could not fit even alone is refused before any pixel is decoded (which also guards against
decompression bombs).
"""

from __future__ import annotations

import os
import re
import threading

from autocolor.errors import UsageError

#: Default ``--max-memory``: fits a laptop, and a 200-megapixel gray scan.
DEFAULT_MAX_MEMORY = "2G"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)
# Smallest budget left for photos once the model is loaded; below it nothing useful runs.
MIN_PHOTO_BUDGET = 32 << 20


def parse_size(text: str) -> int:
    """``"2G"``, ``"1.5GB"``, ``"512M"``, ``"800MiB"``, ``"1000000"`` -> bytes (binary units).

    Raises:
        UsageError: not a positive size.
    """
    match = _SIZE.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise UsageError(f"--max-memory {text!r}: expected a size such as 2G, 1.5G or 800M")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_size(size: int) -> str:
    """Bytes -> ``"1.9 GB"`` / ``"350 MB"`` (binary units) for messages."""
    return f"{size / (1 << 30):.1f} GB" if size >= 1 << 30 else f"{size / (1 << 20):.0f} MB"


def resident_bytes() -> int:
    """The process's resident memory now (Linux ``/proc``), else its peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def photo_bytes(width: int, height: int, *, mode: str, bits: int, file_bytes: int, output_png: bool = False) -> int:
    """Estimated peak memory (bytes) of one photo in flight, from its header.

    Args:
        width, height: pixels.
        mode: Pillow's mode of the file (``"L"``, ``"RGB"``, ``"RGBA"``, ...).
        bits: 8 or 16 bits per sample.
        file_bytes: size of the file, held while it is decoded.
        output_png: the output is PNG/TIFF (an encoded file nearly as large as its codes)
            rather than JPEG/WebP.
    """
    pixels = width * height
    sample = 2 if bits == 16 else 1
    gray = mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "P") and not mode.startswith("RGB")
    alpha = mode in ("LA", "RGBA", "PA", "La", "RGBa")
    channels = (1 if gray else 3) + alpha
    decoded = pixels * channels * sample
    held = pixels * (sample if gray and mode != "P" else 4) + (4 * pixels if alpha else 0)
    out_sample = sample if output_png else 1
    output = pixels * (3 + alpha) * out_sample
    encoded = output if output_png else pixels // 2
    # Decoding: the file, Pillow's image and the array made from it; writing: the photo, the
    # codes and the encoded bytes (the strips and the enlarged maps are small beside them).
    return max(file_bytes + 2 * decoded + held, held + output + encoded)


class MemoryBudget:
    """Bytes that photos in flight may hold; :meth:`reserve` blocks until there is room.

    A single reservation larger than the whole budget is never granted (check
    :meth:`fits` first); any reservation is granted when nothing else is held.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held = 0
        self._cond = threading.Condition()

    def fits(self, size: int) -> bool:
        """Whether ``size`` bytes could ever be reserved."""
        return size <= self.limit

    def reserve(self, size: int, *, cancelled: threading.Event | None = None) -> bool:
        """Wait until ``size`` bytes are free and take them; False if ``cancelled`` is set first."""
        with self._cond:
            while self._held and self._held + size > self.limit:
                if cancelled is not None and cancelled.is_set():
                    return False
                self._cond.wait(timeout=0.1)
            self._held += size
            return True

    def release(self, size: int) -> None:
        with self._cond:
            self._held = max(0, self._held - size)
            self._cond.notify_all()

    @property
    def held(self) -> int:
        return self._held


def give_back_free_memory() -> None:
    """Return memory freed by earlier stages (decoding, the network pass) to the system.

    glibc keeps freed blocks in its arenas (one per thread that allocated), so without this the
    resident size of a run includes, on top of the photo in hand, whatever the previous stages
    freed. Called before each full-resolution render; a no-op where ``malloc_trim`` is missing.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_TRIM: list[object] = []


def _malloc_trim():  # noqa: ANN202 - a ctypes function or None
    if not _TRIM:
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _TRIM.append(libc.malloc_trim)
        except (OSError, AttributeError):
            _TRIM.append(None)
    return _TRIM[0]
