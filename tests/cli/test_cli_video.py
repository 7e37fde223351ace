"""``autocolor colorize`` on videos and raw frames (tiny random network, real PyAV)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from autocolor.cli import main

pytest.importorskip("av")

from tests.video.clips import make_clip, probe  # noqa: E402

TINY = ["--model", "cic.lite_tiny", "--random-weights", "--device", "cpu"]


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["colorize", *args, *TINY], input=input, catch_exceptions=False)


def test_video_default_name_skip_overwrite_and_range(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "reel.mov", frames=25)
    first = run(str(source))
    assert first.exit_code == 0, first.output
    target = tmp_path / "reel_color.mov"
    assert probe(target)["frames"] == 25 and probe(target)["audio"] == ["aac"]
    again = run(str(source))
    assert again.exit_code == 0 and "skipped" in again.stderr and "--overwrite" in again.stderr
    part = run(str(source), "--start", "0.2", "--end", "0:00.6", "--overwrite", "--smoothing", "0")
    assert part.exit_code == 0, part.output
    assert probe(target)["frames"] == 10


def test_several_videos_to_a_folder_with_json_and_a_failure(tmp_path: Path) -> None:
    good = make_clip(tmp_path / "a.mkv", frames=6, audio=None)
    bad = tmp_path / "b.mp4"
    bad.write_bytes(b"junk" * 50)
    result = run(str(good), str(bad), "-o", str(tmp_path / "out"), "--json")
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["input"], r["status"]) for r in lines] == [(str(good), "ok"), (str(bad), "failed")]
    assert lines[0]["model"] == "cic.lite_tiny" and "cannot read video" in lines[1]["error"]
    assert probe(tmp_path / "out" / "a.mkv")["frames"] == 6
    assert sorted(os.listdir(tmp_path / "out")) == ["a.mkv"]
    assert f"{bad}: cannot read video" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["photo.png", "--start", "3"], "--start: for videos only"),
        (["reel.mp4", "photo.png"], "separate runs"),
        (["reel.mp4", "-o", "-"], "cannot go to stdout"),
        (["reel.mp4", "--start", "2", "--end", "1"], "must come after"),
        (["reel.mp4", "--start", "soon"], "not a time"),
        (["-", "--raw", "64by48"], "WIDTHxHEIGHT"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_raw_frames_to_a_file(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (3, 16, 24), dtype=np.uint8)
    target = tmp_path / "color.rgb"
    result = run("-", "--raw", "24x16", "-o", str(target), input=frames.tobytes())
    assert result.exit_code == 0, result.output
    assert target.stat().st_size == 3 * 16 * 24 * 3
    assert sorted(os.listdir(tmp_path)) == ["color.rgb"]


def test_help_lists_the_video_options() -> None:
    result = CliRunner().invoke(main, ["colorize", "--help"])
    for option in ("--start", "--end", "--smoothing", "--raw", "--raw-format", "--video-codec", "--resume", "reel.mp4"):
        assert option in result.output


def test_truncated_raw_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    frame = np.zeros((16, 24), np.uint8).tobytes()
    result = run("-", "--raw", "24x16", "-o", str(tmp_path / "c.rgb"), input=frame + frame[:-1])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "ends inside frame 1: 383 of 384 bytes" in result.stderr
    assert os.listdir(tmp_path) == []  # the partial output was not kept


def test_two_videos_with_one_name_do_not_share_an_output(tmp_path: Path) -> None:
    first = make_clip(tmp_path / "a" / "reel.mp4", frames=3, audio=None)
    second = make_clip(tmp_path / "b" / "reel.mp4", frames=3, audio=None)
    result = run(str(first), str(second), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert f"also the output of {first}" in result.stderr
    assert probe(tmp_path / "out" / "reel.mp4")["frames"] == 3


@pytest.mark.parametrize(("extra", "flag"), [
    (["--shard", "1/2"], "--shard"), (["--hint", "1,1,#ff0000"], "--hint"), (["--hint-spread", "0.2"], "--hint-spread"),
])
def test_photo_only_options_are_refused_for_videos(tmp_path: Path, extra: list[str], flag: str) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=2, audio=None)
    result = run(str(source), *extra)
    assert result.exit_code == 2 and f"{flag}: for photos only" in result.stderr
    assert not (tmp_path / "reel_color.mp4").exists()


def test_audio_the_output_cannot_hold_is_left_out_with_a_warning(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=4, audio="aac")
    result = run(str(source), "-o", str(tmp_path / "reel.webm"))
    assert result.exit_code == 0, result.output
    assert "audio (aac) cannot go into .webm" in result.stderr and "try .mkv" in result.stderr
    after = probe(tmp_path / "reel.webm")
    assert after["frames"] == 4 and after["audio"] == []


def test_resume_flag_runs_in_segments_and_cleans_up(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "reel.mp4", frames=8)
    result = run(str(source), "--resume")
    assert result.exit_code == 0, result.output
    assert probe(tmp_path / "reel_color.mp4")["frames"] == 8
    assert sorted(os.listdir(tmp_path)) == ["reel.mp4", "reel_color.mp4"]  # no .parts folder left
