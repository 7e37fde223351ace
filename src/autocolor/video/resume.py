"""Resumable runs: a film is colorized in segments kept beside the output until it is whole.

With ``resume`` on, frames are encoded into segment files in a hidden work folder
``.<output name>.parts/`` beside the output: NUT files with the video only, B-frames off so
that at every join a packet's decode time is its presentation time. A segment counts once its
file has been renamed into place and its record written (frames, last timestamp, and the
temporal state to continue from). Run again with the same source, range, model and settings,
the complete segments are kept, the state saved with the last one is restored and decoding goes
on from the frame after it, so the result is the same as an uninterrupted run. At the end the
segments' packets are remuxed (not re-encoded) into the output with the audio copied, written
atomically, and the folder is removed. Anything else in the plan (another source file, a
changed file, another range or setting) empties the folder first.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from autocolor.errors import OutputError
from autocolor.video.avimport import import_av
from autocolor.video.reader import VideoInfo
from autocolor.video.writer import _SKIP_TAGS, AudioCopier, open_output

#: Frames per segment: at most this much work (10 s at 25 frames/s) is redone after an interrupt.
SEGMENT_FRAMES = 250
_PLAN = "plan.json"


@dataclass(frozen=True)
class Segment:
    """A complete segment: ``index``, frame count, the last frame's timestamp and rotation."""

    index: int
    frames: int
    last_pts: int
    last_time: float
    rotation: int = 0


def work_folder(output: str | Path) -> Path:
    """The hidden folder beside ``output`` that holds its segments."""
    target = Path(output)
    return target.parent / f".{target.name}.parts"


class WorkFolder:
    """The segments of one output and the plan they were made under."""

    def __init__(self, output: str | Path, plan: dict[str, Any]) -> None:
        self.path = work_folder(output)
        self.plan = plan

    def open(self) -> list[Segment]:
        """Create the folder, or keep its complete segments when its plan is this run's."""
        try:
            if self.path.is_dir() and self._saved_plan() != self.plan:
                shutil.rmtree(self.path)
            self.path.mkdir(exist_ok=True)
            (self.path / _PLAN).write_text(json.dumps(self.plan, sort_keys=True))
        except OSError as exc:
            raise OutputError(self.path, f"cannot use the work folder: {exc.strerror or exc}") from exc
        return self.segments()

    def _saved_plan(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / _PLAN).read_text())
        except (OSError, ValueError):
            return None

    def segments(self) -> list[Segment]:
        """Complete segments, in order, up to the first gap."""
        found = []
        while True:
            record = self._record(len(found))
            if not record.exists() or not self.video(len(found)).exists():
                return found
            try:
                found.append(Segment(**json.loads(record.read_text())))
            except (OSError, ValueError, TypeError):
                return found

    def video(self, index: int) -> Path:
        return self.path / f"segment-{index:05d}.nut"

    def temporary(self, index: int) -> Path:
        return self.path / f"segment-{index:05d}.part.nut"

    def _record(self, index: int) -> Path:
        return self.path / f"segment-{index:05d}.json"

    def _state(self, index: int) -> Path:
        return self.path / f"segment-{index:05d}.state.npz"

    def commit(self, segment: Segment, state: dict[str, np.ndarray]) -> None:
        """Make a finished segment count: file into place, then state, then its record last."""
        os.replace(self.temporary(segment.index), self.video(segment.index))
        with open(self._state(segment.index), "wb") as handle:
            np.savez(handle, **state)
        self._record(segment.index).write_text(json.dumps(asdict(segment)))

    def state(self, index: int) -> dict[str, np.ndarray]:
        """The temporal state saved with segment ``index`` (empty when there was none)."""
        with np.load(self._state(index)) as saved:
            return {name: saved[name] for name in saved.files}

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def join_segments(
    segments: Sequence[Path],
    output: str | Path,
    info: VideoInfo,
    *,
    start: float | None,
    audio: AudioCopier | None,
    rotation: int = 0,
) -> list[str]:
    """Remux the segments' video packets, in order, into ``output`` with the audio copied in.

    Returns the codecs of the audio streams the output format cannot hold (left out).
    """
    av = import_av()
    offset = start or 0.0
    first = av.open(str(segments[0]))

    def add_video(container: Any) -> Any:
        stream = container.add_stream_from_template(first.streams.video[0])
        stream.codec_context.framerate = info.fps  # the segments' muxer keeps its own rate field
        if "avi" in container.format.name:  # AVI counts frames: one tick per frame
            stream.time_base = Fraction(1) / info.fps
        stream.metadata.update({k: v for k, v in info.video_metadata.items() if k not in _SKIP_TAGS})
        if rotation and hasattr(stream, "set_display_rotation"):
            stream.set_display_rotation(rotation)
        return stream

    try:
        container, stream, refused = open_output(str(output), info, add_video, audio)
    finally:
        first.close()
    frame_clock = Fraction(1) / info.fps if "avi" in container.format.name else None
    last = -1
    try:
        for path in segments:
            with av.open(str(path)) as part:
                for packet in part.demux(part.streams.video[0]):
                    if packet.size == 0 or packet.pts is None:
                        continue
                    if audio is not None:
                        audio.mux_until(container, float(packet.pts * packet.time_base) + offset)
                    if frame_clock is not None:  # count frames as VideoWriter does (floor, increasing)
                        last = max(last + 1, math.floor(packet.pts * packet.time_base / frame_clock + 1e-6))
                        packet.pts = packet.dts = last
                        packet.duration = 1
                        packet.time_base = frame_clock
                    packet.stream = stream
                    container.mux(packet)
        if audio is not None:
            audio.mux_until(container, float("inf"))
        return refused
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise OutputError(output, f"cannot join the segments: {exc}") from exc
    finally:
        container.close()
