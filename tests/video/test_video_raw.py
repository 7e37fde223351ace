"""Raw frames on byte streams: sizes, short reads, truncation, and a real pipe through the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autocolor.errors import InputImageError, UsageError
from autocolor.video.raw import parse_size, read_raw_frames, write_raw_frame

SRC = str(Path(__file__).resolve().parents[2] / "src")


class Trickle(io.RawIOBase):
    """A pipe that hands out at most 7 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk, self._data = bytes(self._data[: min(7, size)]), self._data[min(7, size) :]
        return chunk


def test_parse_size() -> None:
    assert parse_size("640x480") == (640, 480)
    assert parse_size(" 32X16 ") == (32, 16)
    for bad in ("640", "0x480", "axb", "640x480x3"):
        with pytest.raises(UsageError, match="WIDTHxHEIGHT"):
            parse_size(bad)


def test_frames_are_split_exactly_even_from_short_reads() -> None:
    frames = [np.full((3, 4), i, np.uint8) for i in range(3)]
    got = list(read_raw_frames(Trickle(b"".join(f.tobytes() for f in frames)), 4, 3, "gray"))
    assert len(got) == 3 and all(np.array_equal(a, b) for a, b in zip(got, frames))
    rgb = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    (back,) = read_raw_frames(io.BytesIO(rgb.tobytes()), 2, 2, "rgb24")
    np.testing.assert_array_equal(back, rgb)
    out = io.BytesIO()
    write_raw_frame(out, rgb)
    assert out.getvalue() == rgb.tobytes()


def test_truncated_stream_names_the_frame() -> None:
    with pytest.raises(InputImageError, match="ends inside frame 1: 5 of 12 bytes"):
        list(read_raw_frames(io.BytesIO(bytes(12 + 5)), 4, 3, "gray"))
    with pytest.raises(UsageError):
        list(read_raw_frames(io.BytesIO(b""), 4, 3, "yuv420p"))


def test_raw_pipe_through_a_real_subprocess() -> None:
    """What `ffmpeg ... -f rawvideo -pix_fmt gray - | autocolor colorize - --raw WxH` does."""
    width, height, count = 40, 24, 5
    rng = np.random.default_rng(0)
    base = rng.integers(20, 230, (height, width), dtype=np.uint8)
    frames = [np.roll(base, i, axis=1) for i in range(count)]
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-m", "autocolor", "colorize", "-", "--raw", f"{width}x{height}",
         "--model", "cic.lite_tiny", "--random-weights", "--device", "cpu", "-q"],
        input=b"".join(f.tobytes() for f in frames), capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert len(done.stdout) == count * width * height * 3
    out = np.frombuffer(done.stdout, np.uint8).reshape(count, height, width, 3)
    # The frame's own lightness is kept: a gray input's L* comes back within 8-bit rounding.
    from autocolor.imagemeta import srgb_lightness

    for frame, colour in zip(frames, out):
        lightness_in, _ = srgb_lightness(frame, "L", None)
        lightness_out, _ = srgb_lightness(colour, "RGB", None)
        assert np.abs(lightness_out - lightness_in).mean() < 1.0
