"""The runner over whole files with a tiny random network: output, timing, memory, errors."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")

from autocolor.errors import OutputError  # noqa: E402
from autocolor.pipeline import Colorizer  # noqa: E402
from autocolor.video.runner import (  # noqa: E402
    VideoColorizer,
    colorize_video,
    colorize_video_file,
    frame_lightness,
)
from autocolor.video.temporal import TemporalSettings  # noqa: E402

from .clips import make_clip, probe  # noqa: E402

SRC = str(Path(__file__).resolve().parents[2] / "src")
TINY = {"model": "cic.lite_tiny", "pretrained": False, "device": "cpu"}


@pytest.fixture(scope="module")
def tiny() -> Colorizer:
    return Colorizer("cic.lite_tiny", "cpu", pretrained=False)


def test_colorize_video_end_to_end(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=12)
    seen: list[int] = []
    result = colorize_video(source, on_frame=seen.append, **TINY)
    target = tmp_path / "reel_color.mp4"
    assert result.output == str(target) and result.frames == 12 and result.audio_streams == 1
    assert seen == list(range(1, 13))
    before, after = probe(source), probe(target)
    assert after["frames"] == 12 and after["fps"] == 25 and after["audio"] == ["aac"]
    assert after["duration"] == pytest.approx(before["duration"], abs=0.05)
    assert sorted(os.listdir(tmp_path)) == ["reel.mp4", "reel_color.mp4"]  # no temporary left


def test_frames_keep_their_lightness_and_get_colour(tiny: Colorizer) -> None:
    runner = VideoColorizer(tiny, TemporalSettings())
    gray = np.tile(np.linspace(10, 240, 64, dtype=np.uint8), (48, 1))
    for shift in range(3):
        codes = np.roll(gray, shift, axis=1)
        rgb = runner.frame(np.repeat(codes[..., None], 3, axis=2))
        assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
        assert np.abs(frame_lightness(rgb) - frame_lightness(codes)).mean() < 1.0
    assert runner.state is not None and runner.state.frames == 3
    # A tinted frame goes through the RGB path of the photo pipeline, not the gray shortcut.
    tinted = np.stack([gray, gray, (gray * 0.8).astype(np.uint8)], axis=-1)
    assert not np.allclose(frame_lightness(tinted), frame_lightness(gray))


def test_memory_does_not_grow_with_the_length(tmp_path: Path, tiny: Colorizer) -> None:
    """Peak traced memory (numpy buffers, Python objects) of a 5x longer clip stays the same."""
    short = make_clip(tmp_path / "short.mp4", frames=30, size=(128, 96), audio="aac")
    long = make_clip(tmp_path / "long.mp4", frames=150, size=(128, 96), audio="aac")
    runner = VideoColorizer(tiny, TemporalSettings())
    colorize_video_file(runner, short, tmp_path / "warm.mp4")  # first-call caches out of the way

    def peak(source: Path) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            colorize_video_file(runner, source, tmp_path / f"{source.stem}_out.mp4")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    short_peak, long_peak = peak(short), peak(long)
    frame_bytes = 128 * 96 * 3
    # Holding every frame of the long clip would add 120 * frame_bytes (4.4 MB) at least.
    assert long_peak < short_peak + 10 * frame_bytes, (short_peak, long_peak)
    assert probe(tmp_path / "long_out.mp4")["frames"] == 150


def test_a_failure_midway_leaves_no_output(tmp_path: Path, tiny: Colorizer) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=10)
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous run")

    class Broken(VideoColorizer):
        def frame(self, codes: np.ndarray) -> np.ndarray:
            if self.state is not None and self.state.frames >= 4:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C at frame 5
            return super().frame(codes)

    with pytest.raises(KeyboardInterrupt):
        colorize_video_file(Broken(tiny, TemporalSettings()), source, target)
    assert target.read_bytes() == b"previous run"
    assert sorted(os.listdir(tmp_path)) == ["out.mp4", "reel.mp4"]


def test_refusals(tmp_path: Path, tiny: Colorizer) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=5, audio=None)
    runner = VideoColorizer(tiny, None)
    with pytest.raises(OutputError, match="is the input file"):
        colorize_video_file(runner, source, source)
    with pytest.raises(OutputError, match="no frames"):
        colorize_video_file(runner, source, tmp_path / "late.mp4", start=30.0, end=31.0)
    assert not (tmp_path / "late.mp4").exists()


def test_missing_pyav_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=3, audio=None)
    # sys.modules["av"] = None makes `import av` raise ImportError, as on a machine without it.
    code = (
        "import sys; sys.modules['av'] = None\n"
        "from autocolor.cli import main\n"
        f"main(['colorize', {str(source)!r}, '--model', 'cic.lite_tiny', '--random-weights', '--device', 'cpu'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "autocolor[video]" in done.stderr and "reel.mp4" in done.stderr
    assert not (tmp_path / "reel_color.mp4").exists()
