"""Encode colour frames into a video file, copying the source's audio packets unchanged.

* Timing: each frame is written with the source's own timestamp (shifted so that ``--start``
  becomes 0) in the source's time base, so the frame rate, variable frame rates and the
  duration are kept.
* Audio: every audio stream the output format can hold is remuxed packet by packet from a
  second demuxer on the source file (never decoded or re-encoded), interleaved with the video
  as it is written, so nothing is buffered beyond a few packets.
* Metadata: the container's tags (title, date, comment, ...) and the streams' tags (language,
  ...) are copied, except those the muxer writes itself (brands, encoder).
* Atomic: everything goes to a hidden temporary file in the output's folder, renamed over the
  output only when complete; a failure or an interrupt removes it, so an output path only
  ever holds a whole video.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from autocolor.errors import OutputError, UsageError
from autocolor.video.avimport import import_av
from autocolor.video.reader import VideoInfo

# Tags that describe the old file's encoding rather than its content; the muxer sets its own.
_SKIP_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder", "handler_name", "vendor_id"})
# Codecs tried per output suffix, best first; the first the PyAV build has is used.
_CODECS = {
    ".webm": ("libvpx-vp9", "libvpx"),
    ".avi": ("mpeg4",),
}
_DEFAULT_CODECS = ("libx264", "mpeg4")
# Encoder settings: visually lossless-ish quality without tuning per clip.
_CODEC_OPTIONS = {
    "libx264": {"crf": "18", "preset": "fast"},
    "libvpx-vp9": {"crf": "30", "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"},
    "libvpx": {"crf": "10", "b": "2M"},
}
# Bits per pixel per frame for encoders without a quality mode here (mpeg4): ~4.6 Mb/s at 720p25.
_BITS_PER_PIXEL = 0.2


def choose_codec(output: str | Path, requested: str | None = None) -> str:
    """The video encoder for ``output``: ``requested`` if the build has it, else by suffix."""
    av = import_av()
    if requested:
        if requested not in av.codecs_available:
            raise UsageError(f"video codec {requested!r} is not in this PyAV build")
        return requested
    for name in _CODECS.get(Path(output).suffix.lower(), _DEFAULT_CODECS):
        if name in av.codecs_available:
            return name
    raise UsageError(f"no video encoder for {Path(output).suffix} in this PyAV build")


@contextlib.contextmanager
def atomic_path(output: str | Path) -> Iterator[Path]:
    """A temporary path beside ``output`` (same suffix), renamed to ``output`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed and the
    exception propagates; an existing ``output`` is only replaced by a complete file.
    """
    target = Path(output)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent)
    except OSError as exc:
        raise OutputError(target, f"cannot create a file in {target.parent}: {exc.strerror or exc}") from exc
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        # mkstemp makes the file private (0600); a finished video gets the usual umask mode.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class AudioCopier:
    """Audio packets of a source file in ``[start, end)``, shifted by ``-start``, for remuxing.

    Opens its own demuxer on the source so the audio is read alongside the video, not
    buffered. Packets that start before ``start`` are dropped (a cut falls between packets:
    at most one packet, ~20 ms for AAC, of silence at the head of a ``--start`` clip).
    """

    def __init__(self, source: str | Path, start: float | None, end: float | None) -> None:
        av = import_av()
        self._container: Any = av.open(str(source), "r")
        self.streams = list(self._container.streams.audio)
        self.start, self.end = start or 0.0, end
        self._packets: Iterator[Any] | None = None
        self._pending: Any = None
        self.outputs: dict[int, Any] = {}  # source stream index -> output stream

    def add_streams(self, container: Any) -> list[str]:
        """Add an output stream per source audio stream the format accepts; returns the refused ones."""
        refused = []
        for stream in self.streams:
            try:
                out = container.add_stream_from_template(stream)
            except ValueError:
                refused.append(stream.codec_context.name)
                continue
            out.metadata.update({k: v for k, v in stream.metadata.items() if k not in _SKIP_TAGS})
            self.outputs[stream.index] = out
        if self.outputs and self.start:
            self._container.seek(int(self.start * 1_000_000), backward=True)  # AV_TIME_BASE units
        if self.outputs:
            wanted = [s for s in self.streams if s.index in self.outputs]
            self._packets = iter(self._container.demux(wanted))
        return refused

    def drop_streams(self) -> list[str]:
        """Forget the output streams (their container was abandoned); returns their codecs."""
        names = [stream.codec_context.name for stream in self.streams if stream.index in self.outputs]
        self.outputs.clear()
        self._packets, self._pending = None, None
        return names

    def mux_until(self, container: Any, until: float) -> None:
        """Mux the source packets that start before ``until`` seconds (source clock)."""
        while self._packets is not None:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                self._packets = None
                return
            if packet.pts is None or packet.size == 0:  # flush markers of the demuxer
                continue
            time = float(packet.pts * packet.time_base)
            if self.end is not None and time >= self.end:
                self._packets = None
                return
            if time >= until:
                self._pending = packet
                return
            if self.start and time < self.start - 1e-6:
                continue
            shift = round(self.start / packet.time_base)
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = self.outputs[packet.stream.index]
            container.mux(packet)

    def close(self) -> None:
        self._container.close()


class VideoWriter:
    """Encodes frames to ``path``; with ``audio`` the source's audio is copied in alongside.

    The header is written here, so a container that refuses the audio (e.g. Opus in .mov) is
    found at once: the file is then reopened without audio and :attr:`refused_audio` names it.

    Args:
        path: the file to write (usually the temporary path of :func:`atomic_path`).
        info: the source's :class:`VideoInfo` (size, frame rate, time base, metadata).
        codec: encoder name (see :func:`choose_codec`).
        offset: seconds subtracted from every timestamp (``--start``).
        audio: the source's audio packets, or ``None`` for no audio.
        b_frames: ``False`` makes every packet's decode time its presentation time (segments
            of a resumable run are joined by remuxing, which needs that at the joins).
        rotation: display rotation (degrees counter-clockwise) of the source's frames, kept so
            phone videos stand upright (PyAV >= 16; ignored before).
    """

    def __init__(
        self,
        path: str | Path,
        info: VideoInfo,
        codec: str,
        *,
        offset: float = 0.0,
        audio: AudioCopier | None = None,
        b_frames: bool = True,
        rotation: int = 0,
    ) -> None:
        self.path = str(path)
        self.info = info
        self._offset = round(offset / info.time_base) if offset else 0
        self._audio = audio
        self._last_pts: int | None = None
        self.frames = 0

        def add_video(container: Any) -> Any:
            stream = self._add_video_stream(container, codec)
            if not b_frames:
                stream.codec_context.max_b_frames = 0
            if rotation and hasattr(stream, "set_display_rotation"):
                stream.set_display_rotation(rotation)
            return stream

        self._container, self._stream, self.refused_audio = open_output(self.path, info, add_video, audio)
        # Formats without timestamps (AVI) count frames: their time base must be one frame.
        self._time_base = self._stream.codec_context.time_base or info.time_base

    def _add_video_stream(self, container: Any, codec: str) -> Any:
        info = self.info
        stream = container.add_stream(codec, rate=info.fps, options=dict(_CODEC_OPTIONS.get(codec, {})))
        stream.width, stream.height = info.width, info.height
        odd = info.width % 2 or info.height % 2
        # 4:2:0 needs even sides in x264/vpx; odd sizes keep full chroma instead of being cropped.
        stream.pix_fmt = "yuv444p" if odd and codec in ("libx264", "libvpx-vp9") else "yuv420p"
        frame_counting = "avi" in container.format.name
        stream.codec_context.time_base = 1 / info.fps if frame_counting else info.time_base
        if info.sample_aspect_ratio:  # anamorphic footage keeps its display shape
            stream.codec_context.sample_aspect_ratio = info.sample_aspect_ratio
        if codec not in _CODEC_OPTIONS:
            stream.bit_rate = int(_BITS_PER_PIXEL * info.width * info.height * float(info.fps))
        # swscale converts RGB -> YUV with the BT.601 matrix in limited range: say so in the file.
        stream.codec_context.colorspace = 6  # AVCOL_SPC_SMPTE170M
        stream.codec_context.color_range = 1  # AVCOL_RANGE_MPEG
        stream.metadata.update({k: v for k, v in info.video_metadata.items() if k not in _SKIP_TAGS})
        return stream

    def write(self, rgb: np.ndarray, pts: int) -> None:
        """Encode one ``(H, W, 3)`` uint8 frame at source timestamp ``pts`` (source time base)."""
        av = import_av()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        # Floor, then strictly increasing: a frame-counting clock (AVI) shifted by a --start that
        # falls between frames must not give two frames one slot.
        stamp = math.floor((pts - self._offset) * self.info.time_base / self._time_base + 1e-6)
        if self._last_pts is not None and stamp <= self._last_pts:
            stamp = self._last_pts + 1
        frame.pts = self._last_pts = stamp
        frame.time_base = self._time_base
        if self._audio is not None:
            self._audio.mux_until(self._container, float(pts * self.info.time_base))
        self._mux(self._stream.encode(frame))
        self.frames += 1

    def _mux(self, packets: list[Any]) -> None:
        av = import_av()
        try:
            self._container.mux(packets)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(self.path, f"cannot write video: {exc}") from exc

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio, write the trailer."""
        try:
            self._mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.mux_until(self._container, float("inf"))
        finally:
            self._container.close()

    def abort(self) -> None:
        """Close without flushing (the file is being discarded)."""
        with contextlib.suppress(Exception):
            self._container.close()


def open_output(
    path: str, info: VideoInfo, add_video: Any, audio: AudioCopier | None
) -> tuple[Any, Any, list[str]]:
    """Open ``path`` for writing with the source's tags, a video stream made by ``add_video``
    (``container -> stream``) and the audio streams of ``audio``, and write the header.

    Returns ``(container, video stream, refused audio codecs)``. When the header cannot be
    written with the audio, the file is opened again without it and every audio codec is refused.
    """
    av = import_av()
    refused: list[str] = []
    for with_audio in (True, False):
        try:
            container = av.open(path, "w")
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise OutputError(path, f"cannot write video: {exc}") from exc
        try:
            container.metadata.update({k: v for k, v in info.metadata.items() if k not in _SKIP_TAGS})
            stream = add_video(container)
            if audio is not None and with_audio:
                refused = audio.add_streams(container)
            container.start_encoding()
            return container, stream, refused
        except (av.FFmpegError, ValueError) as exc:
            container.close()
            if audio is None or not with_audio or not audio.outputs:
                raise OutputError(path, f"cannot write video: {exc}") from exc
            refused += audio.drop_streams()
    raise AssertionError("unreachable")  # pragma: no cover


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask
