"""Raw frames on byte streams, for shell pipelines with ffmpeg.

Input frames are ``gray`` (1 byte per pixel, what ``ffmpeg -pix_fmt gray`` writes) or
``rgb24`` (3 bytes, R G B); output frames are always ``rgb24``. Frames follow each other
with no header, row by row, top row first, exactly ``width * height * bytes`` each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from autocolor.errors import InputImageError, UsageError

#: Bytes per pixel of the accepted input pixel formats (ffmpeg's names).
RAW_FORMATS = {"gray": 1, "rgb24": 3}


def parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` -> ``(640, 480)`` (width, height); a :class:`UsageError` otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or min(int(match.group(1)), int(match.group(2))) < 1:
        raise UsageError(f"--raw wants WIDTHxHEIGHT in pixels, e.g. 640x480; got {text!r}")
    return int(match.group(1)), int(match.group(2))


def read_raw_frames(stream: BinaryIO, width: int, height: int, pix_fmt: str = "gray") -> Iterator[np.ndarray]:
    """Frames from ``stream`` until it ends: ``(H, W)`` uint8 (gray) or ``(H, W, 3)`` uint8 (rgb24).

    Raises:
        InputImageError: the stream ends inside a frame (wrong size or format given).
    """
    if pix_fmt not in RAW_FORMATS:
        raise UsageError(f"unknown raw pixel format {pix_fmt!r}; choose from: {', '.join(RAW_FORMATS)}")
    channels = RAW_FORMATS[pix_fmt]
    frame_bytes = width * height * channels
    shape = (height, width) if channels == 1 else (height, width, channels)
    index = 0
    while True:
        data = _read_exactly(stream, frame_bytes)
        if not data:
            return
        if len(data) < frame_bytes:
            raise InputImageError(
                "-",
                f"raw input ends inside frame {index}: {len(data)} of {frame_bytes} bytes "
                f"({width}x{height} {pix_fmt}); check --raw and --raw-format",
            )
        index += 1
        yield np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    # A pipe returns short reads; keep reading until the frame is whole or the stream ends.
    chunks = []
    remaining = count
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def write_raw_frame(stream: BinaryIO, rgb: np.ndarray) -> None:
    """Write one ``(H, W, 3)`` uint8 frame as rgb24 bytes."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"need (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    stream.write(np.ascontiguousarray(rgb).tobytes())
