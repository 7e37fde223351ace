"""Names of outputs derived from inputs: ``old.jpg`` -> ``old_color.jpg``, suffix by format."""

from __future__ import annotations

from pathlib import Path

from autocolor.errors import UsageError
from autocolor.imagefile import SUPPORTED_SUFFIXES

_FORMAT_SUFFIX = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif", "webp": ".webp"}


def output_suffix(input_path: str | Path, format: str | None) -> str:
    """Suffix of an output derived from ``input_path``: ``format``'s, else the input's.

    ``.png`` for stdin and for inputs in a format autocolor does not write (GIF, PCX, PPM,
    JPEG 2000, ...): PNG keeps every pixel of those losslessly.
    """
    if format:
        try:
            return _FORMAT_SUFFIX[format.lower()]
        except KeyError:
            raise UsageError(
                f"unknown output format {format!r}; choose from: png, jpg, tif, webp"
            ) from None
    suffix = Path(str(input_path)).suffix
    writable = suffix.lower() in SUPPORTED_SUFFIXES
    return suffix if writable and str(input_path) != "-" else ".png"


def default_output_path(input_path: str | Path, format: str | None = None) -> Path:
    """``<stem>_color<ext>`` beside the input (``ext`` from ``format`` or the input)."""
    path = Path(input_path)
    return path.with_name(f"{path.stem}_color{output_suffix(path, format)}")
