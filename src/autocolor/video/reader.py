"""Decode a video file into frames with their timestamps (PyAV, FFmpeg's libraries).

Frames are decoded one at a time, so memory does not depend on the length of the video.
``start``/``end`` (seconds on the file's clock) select a part: the demuxer seeks to the
keyframe before ``start`` and the frames before it are decoded and dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from autocolor.errors import InputImageError, UsageError
from autocolor.video.avimport import import_av

#: Fallback frame rate when a stream declares none (frames without timestamps are spaced by it).
FALLBACK_FPS = Fraction(25)


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 sRGB.
        pts: timestamp in units of :attr:`VideoInfo.time_base`, on the file's clock.
        time: the same in seconds.
        rotation: degrees counter-clockwise the player turns the frame (phone videos), or 0.
    """

    rgb: np.ndarray
    pts: int
    time: float
    rotation: int = 0


@dataclass(frozen=True)
class VideoInfo:
    """What the writer needs to keep the timing, and what the progress bar needs to estimate.

    Attributes:
        width, height: frame size in pixels.
        fps: average frame rate (frames/s).
        time_base: seconds per timestamp unit of the video stream.
        duration: seconds, or ``None`` when the file does not say.
        frames: number of frames in the file, or ``None`` when unknown.
        metadata: the container's tags (title, date, comment, ...).
        video_metadata: the video stream's tags (language, handler name, ...).
        sample_aspect_ratio: shape of a pixel (anamorphic video), or ``None`` for square.
    """

    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    duration: float | None
    frames: int | None
    metadata: dict[str, str] = field(default_factory=dict)
    video_metadata: dict[str, str] = field(default_factory=dict)
    sample_aspect_ratio: Fraction | None = None

    def frames_between(self, start: float | None, end: float | None) -> int | None:
        """Estimated frame count of ``[start, end)``; ``None`` when the length is unknown."""
        if start is None and end is None and self.frames:
            return self.frames
        stop = end if self.duration is None else min(end if end is not None else math.inf, self.duration)
        if stop is None or math.isinf(stop):
            return None
        return max(0, round((stop - (start or 0.0)) * float(self.fps)))


def check_range(start: float | None, end: float | None) -> None:
    """``--start``/``--end`` must be ``0 <= start < end`` (seconds)."""
    if start is not None and start < 0:
        raise UsageError(f"--start must be >= 0 seconds, got {start}")
    if end is not None and end <= (start or 0.0):
        raise UsageError(f"--end ({end} s) must come after --start ({start or 0.0} s)")


class VideoReader:
    """An open video file: :attr:`info`, and :meth:`frames` from ``start`` to ``end``.

    Raises:
        InputImageError: the file cannot be opened, or has no video stream.
        MissingExtraError: PyAV is not installed.
    """

    def __init__(self, path: str | Path, *, start: float | None = None, end: float | None = None) -> None:
        check_range(start, end)
        av = import_av()
        self.path = str(path)
        self.start, self.end = start, end
        try:
            self._container: Any = av.open(self.path, "r")
        except (av.FFmpegError, OSError) as exc:
            raise InputImageError(self.path, f"cannot read video: {_short(exc)}") from exc
        if not self._container.streams.video:
            self._container.close()
            raise InputImageError(self.path, "has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame + slice threads in the decoder
        self.info = self._describe()

    def _describe(self) -> VideoInfo:
        stream, container = self._stream, self._container
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate or FALLBACK_FPS
        time_base = stream.time_base or Fraction(1, 1000)
        if stream.duration:
            duration: float | None = float(stream.duration * time_base)
        elif container.duration:
            duration = container.duration / 1_000_000  # AV_TIME_BASE
        else:
            duration = None
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=Fraction(fps),
            time_base=Fraction(time_base),
            duration=duration,
            frames=stream.frames or None,
            metadata=dict(container.metadata),
            video_metadata=dict(stream.metadata),
            sample_aspect_ratio=stream.codec_context.sample_aspect_ratio or None,
        )

    def frames(self, after: float | None = None) -> Iterator[VideoFrame]:
        """Decoded frames with ``start <= time < end``, in presentation order.

        ``after`` (seconds): only frames later than it (a resumed run goes on from there).
        """
        av = import_av()
        stream, info = self._stream, self.info
        seek = after if after is not None else self.start
        if seek:
            # Seek to the keyframe at or before the first wanted frame; earlier ones are dropped below.
            self._container.seek(int(seek / info.time_base), stream=stream, backward=True)
        frame_step = 1 / info.fps / info.time_base  # timestamp units per frame, for frames without pts
        index = 0
        try:
            for frame in self._container.decode(stream):
                pts = frame.pts if frame.pts is not None else round(index * frame_step)
                index += 1
                time = float(pts * info.time_base)
                if self.start is not None and time < self.start - 1e-6:
                    continue
                if after is not None and time <= after + 1e-6:
                    continue
                if self.end is not None and time >= self.end - 1e-6:
                    break
                rotation = int(getattr(frame, "rotation", 0) or 0)
                yield VideoFrame(frame.to_ndarray(format="rgb24"), int(pts), time, rotation)
        except av.FFmpegError as exc:
            raise InputImageError(self.path, f"cannot decode video: {_short(exc)}") from exc

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split())
