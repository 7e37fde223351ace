"""Colorize a stream of frames: the photo path per frame, with the temporal state in between.

Per frame: L* of the frame -> :meth:`Colorizer.predict_ab_low` (the network's ab at its own
resolution) -> :class:`TemporalState` (blend with the colour carried along the flow) ->
:meth:`Colorizer.upsample_ab` (guided by the full-res L*) -> sRGB with the frame's own L*.
Only the current frame and the state's low-resolution arrays are held, so memory does not
grow with the length of the video.

Library use::

    from autocolor.video import colorize_video
    colorize_video("reel.mp4", "reel_color.mp4")                  # bundled model, smoothing on
    colorize_video("reel.mp4", "part.mkv", start=60, end=90, temporal=None)   # per-frame
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from autocolor.errors import OutputError
from autocolor.imagefile import same_file
from autocolor.imagemeta import srgb_lightness
from autocolor.metrics.fidelity import to_uint8
from autocolor.pipeline import DEFAULT_MODEL, Colorizer, lightness_ab_to_rgb
from autocolor.video.raw import read_raw_frames, write_raw_frame
from autocolor.video.reader import VideoReader
from autocolor.video.resume import SEGMENT_FRAMES, Segment, WorkFolder, join_segments
from autocolor.video.temporal import TemporalSettings, TemporalState
from autocolor.video.writer import AudioCopier, VideoWriter, atomic_path, choose_codec

#: Called after every frame with the number of frames done so far.
FrameCallback = Callable[[int], None]


def frame_lightness(codes: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 3)`` uint8 sRGB -> ``(H, W)`` float32 L* in ``[0, 100]``.

    The photo path's conversion (luminance of linear sRGB); frames whose three channels are
    equal (black-and-white film) take the 3x cheaper one-channel lookup, with the same result.
    """
    if codes.ndim == 3 and np.array_equal(codes[..., 0], codes[..., 1]) and np.array_equal(
        codes[..., 1], codes[..., 2]
    ):
        codes = codes[..., 0]
    lightness, _ = srgb_lightness(np.ascontiguousarray(codes), "L" if codes.ndim == 2 else "RGB", None)
    return lightness


class VideoColorizer:
    """A :class:`Colorizer` plus a temporal state: colorizes frames in order.

    Args:
        colorizer: the loaded model and decoding settings (the photo path).
        temporal: smoothing settings; ``None`` colorizes every frame on its own (per-frame).
    """

    def __init__(self, colorizer: Colorizer, temporal: TemporalSettings | None = None) -> None:
        self.colorizer = colorizer
        self.state = TemporalState(temporal) if temporal is not None else None

    def reset(self) -> None:
        """Start a new sequence (a new file, or a known cut)."""
        if self.state is not None:
            self.state.reset()

    def ab(self, lightness: np.ndarray) -> np.ndarray:
        """``(H, W)`` L* of the next frame -> its full-res ``(2, H, W)`` float32 ab (Lab units)."""
        ab_low = self.colorizer.predict_ab_low(lightness)
        if self.state is not None:
            ab_low = self.state.update(lightness, ab_low)
        return self.colorizer.upsample_ab(ab_low, lightness)

    def frame(self, codes: np.ndarray) -> np.ndarray:
        """Next frame, ``(H, W)`` or ``(H, W, 3)`` uint8 -> ``(H, W, 3)`` uint8 sRGB with its own L*."""
        lightness = frame_lightness(codes)
        return to_uint8(lightness_ab_to_rgb(lightness, self.ab(lightness)))

    def fingerprint(self) -> str:
        """Everything that decides the output colours, as text (a resumed run must match it)."""
        c = self.colorizer
        settings = self.state.settings if self.state is not None else None
        return repr((c.model_name, c.size, c.decoding, c.temperature, c.upsample, c.seed, c.extra, settings))

    def frames(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Colorize a sequence lazily (one frame in memory at a time)."""
        for codes in frames:
            yield self.frame(codes)


@dataclass
class VideoResult:
    """What a run did: output path (``None`` for a stream), frames written, seconds, audio kept."""

    output: str | None
    frames: int
    seconds: float
    audio_streams: int = 0
    refused_audio: tuple[str, ...] = ()

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def default_video_output(path: str | Path) -> Path:
    """``<stem>_color<suffix>`` beside the input."""
    source = Path(path)
    return source.with_name(f"{source.stem}_color{source.suffix}")


def colorize_video_file(
    runner: VideoColorizer,
    source: str | Path,
    output: str | Path,
    *,
    start: float | None = None,
    end: float | None = None,
    codec: str | None = None,
    audio: bool = True,
    resume: bool = False,
    segment_frames: int = SEGMENT_FRAMES,
    on_start: Callable[[int | None], None] | None = None,
    on_frame: FrameCallback | None = None,
) -> VideoResult:
    """Colorize ``source`` into ``output`` (atomically; an existing ``output`` is replaced).

    Args:
        runner: the colorizer with its temporal state (reset here: a file is a new sequence).
        source, output: video paths; the output's container comes from its suffix.
        start, end: seconds of the source to colorize; default: all of it.
        codec: video encoder (default by suffix: H.264, VP9 for .webm, MPEG-4 for .avi).
        audio: copy the source's audio streams (packets remuxed, not re-encoded).
        resume: work in segments of ``segment_frames`` kept beside the output, so that the same
            call after an interrupt goes on where it stopped (:mod:`autocolor.video.resume`).
        on_start: called once with the estimated frame count (``None`` if unknown).
        on_frame: called after each frame with the count so far.

    Raises:
        InputImageError, OutputError, UsageError, MissingExtraError.
    """
    if same_file(source, output):
        raise OutputError(output, "is the input file; refusing to overwrite an input")
    began = time.perf_counter()
    chosen = choose_codec(output, codec)
    runner.reset()
    if resume:
        return _in_segments(runner, source, Path(output), start, end, chosen, audio, segment_frames,
                            on_start, on_frame, began)  # fmt: skip
    with VideoReader(source, start=start, end=end) as reader:
        if on_start is not None:
            on_start(reader.info.frames_between(start, end))
        copier = AudioCopier(source, start, end) if audio else None
        writer = None
        try:
            with atomic_path(output) as temporary:
                try:
                    for frame in reader.frames():
                        if writer is None:  # opened at the first frame: it carries the rotation
                            writer = VideoWriter(temporary, reader.info, chosen, offset=start or 0.0, audio=copier,
                                                 rotation=frame.rotation)  # fmt: skip
                        writer.write(runner.frame(frame.rgb), frame.pts)
                        if on_frame is not None:
                            on_frame(writer.frames)
                    if writer is None:
                        raise OutputError(output, "no frames in the requested range; nothing written")
                except BaseException:
                    if writer is not None:
                        writer.abort()
                    raise
                writer.close()
        finally:
            if copier is not None:
                copier.close()
    return VideoResult(
        str(output),
        writer.frames,
        time.perf_counter() - began,
        audio_streams=len(copier.outputs) if copier is not None else 0,
        refused_audio=tuple(writer.refused_audio),
    )


def _in_segments(
    runner: VideoColorizer,
    source: str | Path,
    output: Path,
    start: float | None,
    end: float | None,
    codec: str,
    audio: bool,
    segment_frames: int,
    on_start: Callable[[int | None], None] | None,
    on_frame: FrameCallback | None,
    began: float,
) -> VideoResult:
    """:func:`colorize_video_file` with ``resume``: segments in a work folder, then one join."""
    stat = os.stat(source)
    plan = {"source": os.path.abspath(source), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "start": start, "end": end, "codec": codec, "settings": runner.fingerprint(),
            "segment_frames": segment_frames}  # fmt: skip
    work = WorkFolder(output, plan)
    done = work.open()
    if done and runner.state is not None:
        runner.state.restore(work.state(done[-1].index))
    count = sum(segment.frames for segment in done)
    with VideoReader(source, start=start, end=end) as reader:
        if on_start is not None:
            on_start(reader.info.frames_between(start, end))
        if on_frame is not None and count:
            on_frame(count)
        index, in_segment, writer, last = len(done), 0, None, None
        try:
            for frame in reader.frames(after=done[-1].last_time if done else None):
                if writer is None:
                    writer = VideoWriter(work.temporary(index), reader.info, codec, offset=start or 0.0,
                                         b_frames=False, rotation=frame.rotation)  # fmt: skip
                writer.write(runner.frame(frame.rgb), frame.pts)
                last, in_segment, count = frame, in_segment + 1, count + 1
                if on_frame is not None:
                    on_frame(count)
                if in_segment == segment_frames:
                    writer.close()
                    work.commit(Segment(index, in_segment, last.pts, last.time, last.rotation), _snapshot(runner))
                    index, in_segment, writer = index + 1, 0, None
            if writer is not None and last is not None:
                writer.close()
                work.commit(Segment(index, in_segment, last.pts, last.time, last.rotation), _snapshot(runner))
                writer = None
        except BaseException:
            if writer is not None:
                writer.abort()
                work.temporary(index).unlink(missing_ok=True)
            raise
        segments = work.segments()
        if not segments:
            raise OutputError(output, "no frames in the requested range; nothing written")
        copier = AudioCopier(source, start, end) if audio else None
        try:
            with atomic_path(output) as temporary:
                refused = join_segments([work.video(s.index) for s in segments], temporary, reader.info, start=start,
                              audio=copier, rotation=segments[0].rotation)  # fmt: skip
        finally:
            if copier is not None:
                copier.close()
    work.remove()
    return VideoResult(str(output), count, time.perf_counter() - began,
                       audio_streams=len(copier.outputs) if copier is not None else 0,
                       refused_audio=tuple(refused))  # fmt: skip


def _snapshot(runner: VideoColorizer) -> dict[str, np.ndarray]:
    return runner.state.snapshot() if runner.state is not None else {}


def colorize_raw_stream(
    runner: VideoColorizer,
    source: BinaryIO,
    sink: BinaryIO,
    size: tuple[int, int],
    pix_fmt: str = "gray",
    *,
    on_frame: FrameCallback | None = None,
) -> VideoResult:
    """Raw frames in (``gray`` or ``rgb24``, ``size = (width, height)``), rgb24 frames out."""
    began = time.perf_counter()
    runner.reset()
    count = 0
    for rgb in runner.frames(read_raw_frames(source, *size, pix_fmt)):
        write_raw_frame(sink, rgb)
        count += 1
        if on_frame is not None:
            on_frame(count)
    sink.flush()
    return VideoResult(None, count, time.perf_counter() - began)


def colorize_video(
    source: str | Path,
    output: str | Path | None = None,
    *,
    model: str = DEFAULT_MODEL,
    temporal: TemporalSettings | None = TemporalSettings(),  # noqa: B008 - frozen, shared safely
    start: float | None = None,
    end: float | None = None,
    codec: str | None = None,
    audio: bool = True,
    resume: bool = False,
    on_frame: FrameCallback | None = None,
    **options: Any,
) -> VideoResult:
    """Colorize one video file (see :func:`colorize_video_file`); ``options`` go to :class:`Colorizer`.

    ``output`` defaults to ``<stem>_color<suffix>`` beside the input.
    """
    target = Path(output) if output is not None else default_video_output(source)
    if not os.path.exists(source):
        # Fail before the model loads.
        from autocolor.errors import InputImageError

        raise InputImageError(source, "no such file")
    runner = VideoColorizer(Colorizer(model, **options), temporal)
    return colorize_video_file(
        runner, source, target, start=start, end=end, codec=codec, audio=audio, resume=resume, on_frame=on_frame
    )
