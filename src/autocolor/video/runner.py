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
    with VideoReader(source, start=start, end=end) as reader:
        if on_start is not None:
            on_start(reader.info.frames_between(start, end))
        copier = AudioCopier(source, start, end) if audio else None
        try:
            with atomic_path(output) as temporary:
                writer = VideoWriter(temporary, reader.info, chosen, offset=start or 0.0, audio=copier)
                try:
                    for frame in reader.frames():
                        writer.write(runner.frame(frame.rgb), frame.pts, frame.rotation)
                        if on_frame is not None:
                            on_frame(writer.frames)
                    if writer.frames == 0:
                        raise OutputError(output, "no frames in the requested range; nothing written")
                except BaseException:
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
        runner, source, target, start=start, end=end, codec=codec, audio=audio, on_frame=on_frame
    )
