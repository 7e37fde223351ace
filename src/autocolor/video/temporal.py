"""Temporal state between the decoder and the upsampler: steady colours from frame to frame.

Per-frame colorization flickers because every frame's colours are decided afresh. The state
keeps the colour it output for the previous frame (the network's low-resolution ab, after
smoothing) and, for each new frame:

1. estimates the flow from the new frame to the previous one on their lightness (DIS, both
   directions: :mod:`autocolor.video.flow`) on a grid ``k`` times the ab grid, with ``k`` the
   smallest integer giving a shorter side of at least ``flow_side`` pixels (the network's ab
   is coarse, 64 x 64 for cic.lite; flow on that alone misses sub-cell motion), then averages
   flow and confidence down to the ab grid;
2. warps the kept ab along it, so each pixel gets the colour its point had a frame ago;
3. scores every pixel's trust in that warp, ``confidence = inside * exp(-(fb/tol)^2) *
   exp(-(dL/light_sigma)^2)``: ``fb`` is the forward-backward round-trip miss (occlusions and
   bad matches), ``tol = flow_tolerance + 0.05 |flow|`` grows with the motion, ``dL`` is the
   lightness the warp gets wrong after removing the frame's median change (film flicker
   changes the exposure of a whole frame; that is no reason to distrust the flow);
4. outputs ``w * warped + (1 - w) * new`` with ``w = strength * confidence``.

A frame whose mean confidence falls below ``cut_threshold`` is a scene cut: the state resets
and the frame's own prediction is output unchanged. ``strength`` sets the memory: a pixel
tracked with full confidence keeps ``strength^k`` of the colour from ``k`` frames ago, so the
default 0.9 averages over about ``(1 + s) / (1 - s) = 19`` frames and divides independent
frame-to-frame colour noise by ``sqrt(1 + s) / (1 - s)``, about 14.

Defaults were chosen on benchmarks/bench_video.py's two clips (network outputs cached, so only
the state varied); smoothed flicker, synthetic / photo pan-zoom, in Lab units: the first
settings tried (strength 0.85, light_sigma 6, DIS "fast") 0.28 / 0.65; light_sigma 10: 0.24 /
0.62; strength 0.9: 0.22 / 0.57; DIS "medium": 0.20 / 0.48 (per-frame: 0.83 / 1.68). A flow
grid of 256 instead of 128 gained 0.01-0.02 for 5x the flow time. AuC moved by -0.03 / +0.18
points with every setting (smoothing averages the network's frame-to-frame errors).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from autocolor.video import DEFAULT_STRENGTH
from autocolor.video.flow import FlowEstimator, forward_backward_error, inside, warp

#: DIS needs a side of at least 12 pixels; smaller grids are scaled up for the flow.
MIN_FLOW_SIDE = 16


@dataclass(frozen=True)
class TemporalSettings:
    """Knobs of :class:`TemporalState` (units in brackets).

    Attributes:
        strength: largest weight of the carried colour, in ``[0, 1)``; 0 = per-frame.
        flow_tolerance: forward-backward miss (pixels of the ab grid) at which confidence
            falls to ``1/e`` for a still pixel; fast motion gets 5 % of its length on top.
        light_sigma: warped-lightness error (L* units) at which confidence falls to ``1/e``.
        cut_threshold: mean confidence (``[0, 1]``) under which a frame starts a new scene.
        preset: DIS preset (``ultrafast``, ``fast``, ``medium``).
        flow_side: smallest shorter side (pixels) of the grid the flow is computed on.
    """

    strength: float = DEFAULT_STRENGTH
    flow_tolerance: float = 1.0
    light_sigma: float = 10.0
    cut_threshold: float = 0.3
    preset: str = "medium"
    flow_side: int = 128

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {self.strength}")
        if self.flow_tolerance <= 0 or self.light_sigma <= 0:
            raise ValueError("flow_tolerance and light_sigma must be > 0")
        if not 0.0 <= self.cut_threshold <= 1.0:
            raise ValueError(f"cut_threshold must be in [0, 1], got {self.cut_threshold}")
        if self.flow_side < MIN_FLOW_SIDE:
            raise ValueError(f"flow_side must be >= {MIN_FLOW_SIDE}, got {self.flow_side}")


def confidence(
    current: np.ndarray,
    previous: np.ndarray,
    backward: np.ndarray,
    forward: np.ndarray,
    settings: TemporalSettings,
) -> np.ndarray:
    """Trust in the warp of ``previous`` onto ``current``: float32 ``(h, w)`` in ``[0, 1]``.

    Args:
        current, previous: ``(h, w)`` L* of the two frames.
        backward: flow ``current -> previous``; ``forward``: flow ``previous -> current``.
        settings: the tolerances.
    """
    fb_miss = forward_backward_error(backward, forward)
    tolerance = settings.flow_tolerance + 0.05 * np.hypot(backward[..., 0], backward[..., 1])
    seen = inside(backward)
    light_error = current - warp(previous, backward)
    # Remove the frame-wide exposure change (film flicker, fades) before judging the match.
    offset = float(np.median(light_error[seen])) if seen.any() else 0.0
    light_error -= offset
    score = np.exp(-((fb_miss / tolerance) ** 2)) * np.exp(-((light_error / settings.light_sigma) ** 2))
    return np.where(seen, score, 0.0).astype(np.float32)


class TemporalState:
    """Carries low-resolution ab from frame to frame along optical flow (see the module docstring).

    Use one per shot sequence (one video); :meth:`update` must see the frames in order.
    """

    def __init__(self, settings: TemporalSettings | None = None) -> None:
        self.settings = settings or TemporalSettings()
        self._flow = FlowEstimator(self.settings.preset)
        self._lightness: np.ndarray | None = None
        self._ab: np.ndarray | None = None
        #: Frames seen, scene cuts detected (resets after the first frame), last mean confidence.
        self.frames = 0
        self.cuts = 0
        self.last_confidence = 0.0

    def reset(self) -> None:
        """Forget the carried colour: the next frame is output as predicted."""
        self._lightness = None
        self._ab = None

    def snapshot(self) -> dict[str, np.ndarray]:
        """What the next frame is blended with (empty after a reset): to save with a segment."""
        if self._lightness is None or self._ab is None:
            return {}
        return {"lightness": self._lightness.copy(), "ab": self._ab.copy()}

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        """Continue from a :meth:`snapshot` (an empty one resets)."""
        if not snapshot:
            self.reset()
            return
        self._lightness = np.asarray(snapshot["lightness"], dtype=np.float32)
        self._ab = np.asarray(snapshot["ab"], dtype=np.float32)

    def update(self, lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Blend this frame's predicted ab with the colour carried from the previous frame.

        Args:
            lightness: ``(H, W)`` full-resolution L* of the frame.
            ab: ``(2, h, w)`` the network's ab for this frame (Lab units), on its own grid.

        Returns:
            ``(2, h, w)`` float32 smoothed ab, which is also what the next frame is blended with.
        """
        ab = np.asarray(ab, dtype=np.float32)
        if ab.ndim != 3 or ab.shape[0] != 2 or np.ndim(lightness) != 2:
            raise ValueError(f"need (H, W) lightness and (2, h, w) ab, got {np.shape(lightness)} and {ab.shape}")
        height, width = ab.shape[1:]
        scale = flow_scale((height, width), np.shape(lightness), self.settings.flow_side)
        small = resize_area(lightness, (height * scale, width * scale))
        self.frames += 1
        previous, carried = self._lightness, self._ab
        out = ab
        if previous is not None and carried is not None and previous.shape == small.shape:
            if self.settings.strength > 0:
                backward = self._flow(small, previous)
                forward = self._flow(previous, small)
                trust = confidence(small, previous, backward, forward, self.settings)
                self.last_confidence = float(trust.mean())
                if self.last_confidence < self.settings.cut_threshold:
                    self.cuts += 1
                else:
                    # Flow vectors shrink with the grid; confidence is averaged over each ab cell.
                    flow = resize_area(backward, (height, width)) / np.float32(scale)
                    weight = self.settings.strength * resize_area(trust, (height, width))
                    out = weight * warp(carried, flow) + (1.0 - weight) * ab
        self._lightness, self._ab = small, out.astype(np.float32, copy=False)
        return self._ab


def flow_scale(grid: tuple[int, int], frame: tuple[int, int], flow_side: int) -> int:
    """Integer factor from the ab grid to the flow grid.

    The smallest giving a shorter side of ``flow_side`` pixels, but no finer than the frame
    itself (nothing to gain beyond it), and never below :data:`MIN_FLOW_SIDE` (DIS's limit).
    """
    short = min(grid)
    wanted = -(-flow_side // short)  # ceil division
    finest = max(1, min(frame) // short)
    return max(-(-MIN_FLOW_SIDE // short), min(wanted, finest))


def resize_area(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` or ``(H, W, C)`` float image area-resampled to ``shape = (h, w)``, float32."""
    height, width = shape
    source = np.asarray(image, dtype=np.float32)
    if source.shape[:2] == (height, width):
        return source
    return cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)
