"""Tiny test clips written with PyAV: moving bars on a gradient, optional sine audio, tags."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def clip_frame(index: int, width: int, height: int) -> np.ndarray:
    """Frame ``index``: a gray ramp with a bright bar moving 2 px per frame, ``(H, W, 3)`` uint8."""
    ramp = np.linspace(30, 200, width, dtype=np.float32)[None, :].repeat(height, 0)
    x = (2 * index) % max(width - 8, 1)
    ramp[:, x : x + 8] = 240
    gray = ramp.astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def make_clip(
    path: Path,
    *,
    frames: int = 20,
    size: tuple[int, int] = (64, 48),
    fps: int = 25,
    audio: str | None = "aac",
    title: str | None = "test reel",
    rotation: int = 0,
    sample_aspect_ratio: Fraction | None = None,
    ticks: list[int] | None = None,
) -> Path:
    """Write a clip (codec by suffix: VP9 for .webm, MPEG-4 for .avi, else H.264).

    Audio (``"aac"``, ``"libopus"``, ``"mp3"``... or ``None``): a 440 Hz mono tone as long as the video.
    ``ticks``: each frame's timestamp in 1/fps units (a variable frame rate); default 0, 1, 2, ...
    """
    import av

    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    codec = {".webm": "libvpx-vp9", ".avi": "mpeg4"}.get(suffix, "libx264")
    with av.open(str(path), "w") as container:
        if title:
            container.metadata["title"] = title
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        if sample_aspect_ratio:
            video.codec_context.sample_aspect_ratio = sample_aspect_ratio
        sound = None
        if audio:
            sound = container.add_stream(audio, rate=48000)
            sound.layout = "mono"
            sound.metadata["language"] = "eng"
        samples = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(clip_frame(i, width, height), format="rgb24")
            frame.pts, frame.time_base = (ticks[i] if ticks else i), Fraction(1, fps)
            container.mux(video.encode(frame))
            while sound is not None and samples < (i + 1) * 48000 // fps:
                size_ = sound.codec_context.frame_size or 1024
                t = (samples + np.arange(size_)) / 48000
                tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
                chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 48000, samples
                samples += size_
                container.mux(sound.encode(chunk))
        container.mux(video.encode(None))
        if sound is not None:
            container.mux(sound.encode(None))
    return path


def probe(path: Path) -> dict[str, object]:
    """What a test checks of a file: streams, frame count, fps, durations, tags."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        times = [float(f.time) for f in container.decode(video)]
    with av.open(str(path)) as container:
        audio = container.streams.audio
        audio_packets = sum(1 for p in container.demux(audio) if p.size) if audio else 0
        return {
            "frames": len(times),
            "times": times,
            "fps": container.streams.video[0].average_rate,
            "size": (container.streams.video[0].width, container.streams.video[0].height),
            "duration": container.duration / 1e6 if container.duration else None,
            "audio": [s.codec_context.name for s in audio],
            "audio_packets": audio_packets,
            "audio_language": [s.metadata.get("language") for s in audio],
            "metadata": {k.lower(): v for k, v in container.metadata.items()},
        }
