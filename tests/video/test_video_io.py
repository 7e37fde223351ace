"""Reading and writing video files with real PyAV/FFmpeg: timing, audio, tags, atomic output."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")

from autocolor.errors import InputImageError, OutputError, UsageError  # noqa: E402
from autocolor.video.reader import VideoReader  # noqa: E402
from autocolor.video.writer import AudioCopier, VideoWriter, atomic_path, choose_codec  # noqa: E402

from .clips import clip_frame, make_clip, probe  # noqa: E402


def remux(source: Path, target: Path, start: float | None = None, end: float | None = None) -> None:
    """Decode and re-encode the frames unchanged, copying the audio (the runner's I/O, no model)."""
    with VideoReader(source, start=start, end=end) as reader:
        copier = AudioCopier(source, start, end)
        writer = VideoWriter(target, reader.info, choose_codec(target), offset=start or 0.0, audio=copier)
        for frame in reader.frames():
            writer.write(frame.rgb, frame.pts)
        writer.close()
        copier.close()


@pytest.mark.parametrize(("suffix", "audio"), [(".mp4", "aac"), (".mkv", "aac"), (".mov", "aac"), (".webm", "libopus")])
def test_frames_rate_duration_audio_and_tags_survive(tmp_path: Path, suffix: str, audio: str) -> None:
    source = make_clip(tmp_path / f"in{suffix}", frames=20, audio=audio)
    target = tmp_path / f"out{suffix}"
    remux(source, target)
    before, after = probe(source), probe(target)
    assert after["frames"] == before["frames"] == 20
    assert after["fps"] == before["fps"] == 25
    assert after["size"] == (64, 48)
    np.testing.assert_allclose(np.diff(after["times"]), 0.04, atol=1e-3)  # constant rate kept
    assert after["duration"] == pytest.approx(before["duration"], abs=0.05)
    assert after["audio"] == before["audio"]  # same codec: copied, not re-encoded
    assert after["audio_packets"] == before["audio_packets"]
    assert after["audio_language"] == ["eng"]
    assert after["metadata"]["title"] == "test reel"


def test_variable_frame_rate_timestamps_are_kept(tmp_path: Path) -> None:
    ticks = [0, 1, 2, 5, 6, 7, 12, 13]  # gaps, as in a recording that dropped frames
    source = make_clip(tmp_path / "vfr.mkv", frames=len(ticks), audio=None, ticks=ticks)
    target = tmp_path / "out.mkv"
    remux(source, target)
    np.testing.assert_allclose(probe(target)["times"], np.array(ticks) / 25, atol=1e-3)


def test_pixels_round_trip_through_the_encoder(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "in.mp4", frames=5, audio=None)
    with VideoReader(source) as reader:
        first = next(iter(reader.frames()))
    assert first.rgb.shape == (48, 64, 3) and first.rgb.dtype == np.uint8
    assert np.abs(first.rgb.astype(int) - clip_frame(0, 64, 48)).mean() < 4  # lossy but close


def test_start_end_select_a_part_and_shift_it_to_zero(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "in.mp4", frames=50)
    with VideoReader(source, start=0.4, end=1.2) as reader:
        times = [f.time for f in reader.frames()]
        assert reader.info.frames_between(0.4, 1.2) == 20
    assert times[0] == pytest.approx(0.4) and times[-1] == pytest.approx(1.16) and len(times) == 20
    target = tmp_path / "part.mp4"
    remux(source, target, 0.4, 1.2)
    after = probe(target)
    assert after["frames"] == 20
    assert after["times"][0] == pytest.approx(0.0, abs=1e-3)
    assert after["duration"] == pytest.approx(0.8, abs=0.06)
    full = probe(source)["audio_packets"]
    assert 0.3 * full < after["audio_packets"] < 0.5 * full  # 0.8 s of 2 s of audio


def test_display_rotation_is_kept(tmp_path: Path) -> None:
    import av

    source = make_clip(tmp_path / "phone.mp4", frames=3, audio="aac", rotation=90)
    with VideoReader(source) as reader:
        assert next(iter(reader.frames())).rotation == 90
    with VideoReader(source) as reader:
        frames = list(reader.frames())
        copier = AudioCopier(source, None, None)
        out = tmp_path / "out.mp4"
        writer = VideoWriter(out, reader.info, choose_codec(out), audio=copier, rotation=frames[0].rotation)
        for frame in frames:
            writer.write(frame.rgb, frame.pts)
        writer.close()
        copier.close()
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert next(container.decode(video=0)).rotation == 90


def test_anamorphic_pixels_keep_their_shape(tmp_path: Path) -> None:
    import av
    from fractions import Fraction

    source = make_clip(tmp_path / "wide.mkv", frames=3, audio=None, sample_aspect_ratio=Fraction(4, 3))
    target = tmp_path / "out.mkv"
    remux(source, target)
    with av.open(str(target)) as container:
        assert container.streams.video[0].codec_context.sample_aspect_ratio == Fraction(4, 3)


def test_odd_sized_video_keeps_its_size(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "in.mkv", frames=4, size=(66, 50), audio=None)  # 4:2:0 source, even
    with VideoReader(source) as reader:
        info = reader.info
    odd = type(info)(**{**info.__dict__, "width": 65, "height": 49})
    target = tmp_path / "odd.mkv"
    writer = VideoWriter(target, odd, choose_codec(target))
    for i in range(3):
        writer.write(np.full((49, 65, 3), 100 + i, np.uint8), i * round(1 / 25 / odd.time_base))
    writer.close()
    assert probe(target)["size"] == (65, 49) and probe(target)["frames"] == 3


def test_audio_a_container_refuses_at_its_header_is_left_out(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "in.mkv", frames=6, audio="libopus")  # Opus: fine in .mkv, not in .mov
    target = tmp_path / "out.mov"
    with VideoReader(source) as reader:
        copier = AudioCopier(source, None, None)
        writer = VideoWriter(target, reader.info, choose_codec(target), audio=copier)
        for frame in reader.frames():
            writer.write(frame.rgb, frame.pts)
        writer.close()
        copier.close()
    assert writer.refused_audio == ["opus"]
    assert probe(target)["frames"] == 6 and probe(target)["audio"] == []


def test_avi_counts_frames_at_the_source_rate(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "in.mkv", frames=6, audio=None)  # Matroska's clock: 1/1000 s
    target = tmp_path / "out.avi"
    remux(source, target)
    after = probe(target)
    assert after["fps"] == 25 and after["frames"] == 6
    np.testing.assert_allclose(np.diff(after["times"]), 0.04, atol=1e-3)


def test_codec_choice_by_suffix_and_unknown_codec() -> None:
    import av

    assert choose_codec("x.webm") in ("libvpx-vp9", "libvpx")
    assert choose_codec("x.avi") == "mpeg4"
    assert choose_codec("x.mp4") == ("libx264" if "libx264" in av.codecs_available else "mpeg4")
    with pytest.raises(UsageError, match="not in this PyAV build"):
        choose_codec("x.mp4", "no-such-codec")


def test_unreadable_inputs_fail_with_the_file_name(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(InputImageError, match="junk.mp4: cannot read video"):
        VideoReader(junk)
    with pytest.raises(InputImageError, match="no such|No such"):
        VideoReader(tmp_path / "missing.mp4")
    with pytest.raises(UsageError, match="--end"):
        VideoReader(junk, start=3, end=2)


def test_atomic_path_renames_on_success_and_removes_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as temporary:
            assert temporary.parent == tmp_path and temporary.suffix == ".mp4" and temporary != target
            temporary.write_bytes(b"half a video")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.mp4"]
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.mp4"]
    assert (target.stat().st_mode & 0o777) == 0o666 & ~_umask()
    with pytest.raises(OutputError, match="cannot create"):
        with atomic_path(tmp_path / "no" / "such" / "dir.mp4"):
            pass


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
