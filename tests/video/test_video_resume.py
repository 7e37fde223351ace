"""Resumable runs: an interrupted run goes on from its last segment and ends as if never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")

from autocolor.pipeline import Colorizer  # noqa: E402
from autocolor.video.reader import VideoReader  # noqa: E402
from autocolor.video.resume import work_folder  # noqa: E402
from autocolor.video.runner import VideoColorizer, colorize_video_file  # noqa: E402
from autocolor.video.temporal import TemporalSettings  # noqa: E402

from .clips import make_clip, probe  # noqa: E402

SRC = str(Path(__file__).resolve().parents[2] / "src")


class Counting(VideoColorizer):
    """Counts frames colorized; raises KeyboardInterrupt (Ctrl-C) at frame ``stop_at``."""

    def __init__(self, colorizer: Colorizer, stop_at: int | None = None) -> None:
        super().__init__(colorizer, TemporalSettings())
        self.done, self.stop_at = 0, stop_at
        self.states: list[dict[str, np.ndarray]] = []  # the carried state before each frame

    def frame(self, codes: np.ndarray) -> np.ndarray:
        if self.stop_at is not None and self.done == self.stop_at:
            raise KeyboardInterrupt
        self.done += 1
        self.states.append(self.state.snapshot())  # type: ignore[union-attr]
        return super().frame(codes)


def decoded(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [frame.rgb for frame in reader.frames()]


@pytest.fixture(scope="module")
def tiny() -> Colorizer:
    return Colorizer("cic.lite_tiny", "cpu", pretrained=False)


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path: Path, tiny: Colorizer) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=26)
    whole = tmp_path / "whole.mp4"
    straight = Counting(tiny)
    colorize_video_file(straight, source, whole, resume=True, segment_frames=10)
    assert not work_folder(whole).exists()

    target = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        colorize_video_file(Counting(tiny, stop_at=15), source, target, resume=True, segment_frames=10)
    assert not target.exists()
    parts = sorted(os.listdir(work_folder(target)))
    assert "segment-00000.nut" in parts and "segment-00001.nut" not in parts  # 10 kept, 5 dropped
    assert not any(".part." in name for name in parts)

    again = Counting(tiny)
    result = colorize_video_file(again, source, target, resume=True, segment_frames=10)
    assert again.done == 16 and result.frames == 26  # only the frames after segment 0
    assert not work_folder(target).exists()
    before, after = probe(source), probe(target)
    assert after["frames"] == 26 and after["fps"] == 25 and after["audio"] == ["aac"]
    assert after["audio_packets"] == before["audio_packets"]
    np.testing.assert_allclose(after["times"], before["times"], atol=1e-3)
    # The state saved with segment 0 was restored: frame 10 is blended with what it would have
    # been blended with in one go, and the pixels are those of the uninterrupted run.
    assert set(again.states[0]) == {"lightness", "ab"}
    for name in ("lightness", "ab"):
        np.testing.assert_array_equal(again.states[0][name], straight.states[10][name])
    for resumed, straight in zip(decoded(target), decoded(whole), strict=True):
        np.testing.assert_array_equal(resumed, straight)


def test_other_settings_or_range_start_over(tmp_path: Path, tiny: Colorizer) -> None:
    source = make_clip(tmp_path / "reel.mkv", frames=24, audio=None)
    target = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        colorize_video_file(Counting(tiny, stop_at=12), source, target, resume=True, segment_frames=10)
    other = Counting(tiny)
    other.state.settings = TemporalSettings(strength=0.5)  # type: ignore[union-attr]
    colorize_video_file(other, source, target, resume=True, segment_frames=10, start=0.2)
    assert other.done == 19  # nothing reused: frames 5..23
    assert probe(target)["frames"] == 19 and probe(target)["times"][0] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stopped_by_a_signal_then_the_same_command_finishes(tmp_path: Path, signum: int, status: int) -> None:
    """A real process stopped by Ctrl-C or a scheduler's SIGTERM mid-run, then run again (CLI, --resume)."""
    # 60 frames: after the 2nd of 12 segments, 50 frames are left, so the tiny network cannot
    # finish the film before the signal lands (with 30 it sometimes did on an idle machine).
    source = make_clip(tmp_path / "reel.mp4", frames=60)
    command = [sys.executable, "-m", "autocolor", "colorize", str(source), "--resume", "--segment-frames", "5",
               "--model", "cic.lite_tiny", "--random-weights", "--device", "cpu", "-q"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC}
    parts = work_folder(tmp_path / "reel_color.mp4")
    # As from a terminal: SIGINT at its default, so Python turns it into KeyboardInterrupt. A test
    # run started in the background by a non-interactive shell (nohup ... &) inherits SIGINT
    # ignored, and a process that starts with it ignored rightly keeps ignoring it (exit 0).
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 120
    while not (parts / "segment-00001.json").exists():  # two segments done: interrupt now
        assert process.poll() is None and time.monotonic() < deadline, "finished or stuck before the interrupt"
        time.sleep(0.02)
    process.send_signal(signum)
    assert process.wait(timeout=60) == status
    assert not (tmp_path / "reel_color.mp4").exists()
    assert not any(".part." in name for name in os.listdir(parts))  # the unfinished segment is gone
    kept = sum(1 for name in os.listdir(parts) if name.endswith(".json") and name != "plan.json")
    assert 2 <= kept < 12
    done = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    after = probe(tmp_path / "reel_color.mp4")
    assert after["frames"] == 60 and after["audio"] == ["aac"]
    np.testing.assert_allclose(after["times"], probe(source)["times"], atol=1e-3)
    assert not parts.exists()


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".webm", ".avi"])
def test_joined_segments_time_like_a_single_pass(tmp_path: Path, tiny: Colorizer, suffix: str) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=12, audio="aac")
    single, joined = tmp_path / f"single{suffix}", tmp_path / f"joined{suffix}"
    one = colorize_video_file(Counting(tiny), source, single, start=0.1)
    parts = colorize_video_file(Counting(tiny), source, joined, start=0.1, resume=True, segment_frames=5)
    a, b = probe(single), probe(joined)
    assert (a["frames"], a["fps"], a["audio"]) == (b["frames"], b["fps"], b["audio"]) == (a["frames"], 25, a["audio"])
    assert a["frames"] == 9 and one.refused_audio == parts.refused_audio
    np.testing.assert_allclose(a["times"], b["times"], atol=1e-3)
    assert a["duration"] == pytest.approx(b["duration"], abs=0.03)
