"""Film: colorize video files or raw frame streams with colours that stay steady.

Modules (imports one way: flow <- temporal, flicker; reader/writer/raw <- runner):

* :mod:`~autocolor.video.flow`: DIS optical flow, warping, forward-backward checks.
* :mod:`~autocolor.video.temporal`: :class:`TemporalState`, between decoder and upsampler.
* :mod:`~autocolor.video.flicker`: the warping-error flicker metric.
* :mod:`~autocolor.video.reader` / :mod:`~autocolor.video.writer`: PyAV decode, encode, audio
  remux, atomic output (the ``autocolor[video]`` extra).
* :mod:`~autocolor.video.raw`: raw frames on stdin/stdout for ffmpeg pipelines.
* :mod:`~autocolor.video.runner`: the per-frame photo path plus the state, over a whole file.

Importing this package is cheap (no torch, no PyAV); the names below load on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Suffixes ``autocolor colorize`` sends to the video runner (anything FFmpeg demuxes works
#: through the Python API; these are the ones recognised by name).
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".m2ts", ".wmv", ".flv", ".ogv", ".3gp"}
)

#: Default weight of the colour carried from frame to frame (``--smoothing``; 0 = per-frame).
DEFAULT_STRENGTH = 0.9

_LAZY = {
    "colorize_video": "autocolor.video.runner",
    "VideoColorizer": "autocolor.video.runner",
    "VideoResult": "autocolor.video.runner",
    "TemporalSettings": "autocolor.video.temporal",
    "TemporalState": "autocolor.video.temporal",
    "warping_error": "autocolor.video.flicker",
}

__all__ = ["DEFAULT_STRENGTH", "VIDEO_SUFFIXES", "is_video_path", *_LAZY]


def is_video_path(path: str | Path) -> bool:
    """Whether ``path``'s suffix is a video container's (case-insensitive)."""
    return Path(str(path)).suffix.lower() in VIDEO_SUFFIXES


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'autocolor.video' has no attribute {name!r}")
