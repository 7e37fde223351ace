"""Flicker as a warping error: how much a pixel's colour changes along the motion.

``warping_error(ab_t, ab_prev, flow, mask)`` is the mean, over the pixels of frame ``t`` where
the flow is trusted, of the Euclidean ab distance (Lab units) between frame ``t`` and frame
``t - 1`` warped onto it along the backward flow. A perfectly steady colorization of a scene
whose colours do not change scores 0; per-frame colorization scores its frame-to-frame jitter.

The flow can be known (a synthetic clip knows where every pixel moved) or estimated by
:func:`estimated_flow`, which uses OpenCV's Farneback flow at full resolution, on purpose a
different algorithm from the DIS flow the smoother follows, so that the metric does not grade
the smoother with its own flow.
"""

from __future__ import annotations

import cv2
import numpy as np

from autocolor.video.flow import consistent, to_uint8, warp


def warping_error(ab: np.ndarray, ab_previous: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Mean ab distance between frame ``t`` and frame ``t - 1`` warped along ``flow``.

    Args:
        ab: ``(2, H, W)`` frame ``t``'s a*, b* (Lab units).
        ab_previous: ``(2, H, W)`` frame ``t - 1``'s.
        flow: ``(H, W, 2)`` backward flow of frame ``t`` (pixels; ``x + flow[x]`` in ``t - 1``).
        mask: bool ``(H, W)``, the pixels where the flow is right (consistent, not occluded).

    Returns:
        Lab units, ``>= 0``; ``nan`` when the mask is empty.
    """
    ab = np.asarray(ab, dtype=np.float32)
    if ab.shape != np.shape(ab_previous) or ab.ndim != 3 or ab.shape[0] != 2:
        raise ValueError(f"need two (2, H, W) ab arrays, got {ab.shape} and {np.shape(ab_previous)}")
    if flow.shape != (*ab.shape[1:], 2) or mask.shape != ab.shape[1:]:
        raise ValueError(f"flow {flow.shape} / mask {mask.shape} do not fit ab {ab.shape}")
    if not mask.any():
        return float("nan")
    warped = warp(ab_previous, flow)
    distance = np.hypot(ab[0] - warped[0], ab[1] - warped[1])
    return float(distance[mask].mean(dtype=np.float64))


def farneback(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Farneback flow ``source -> target`` of two ``(H, W)`` L* images, float32 ``(H, W, 2)``."""
    flow = cv2.calcOpticalFlowFarneback(
        to_uint8(source), to_uint8(target), None, pyr_scale=0.5, levels=4, winsize=15,
        iterations=3, poly_n=5, poly_sigma=1.1, flags=0,
    )  # fmt: skip
    return np.asarray(flow, dtype=np.float32)


def estimated_flow(lightness: np.ndarray, lightness_previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward flow of frame ``t`` and its trusted pixels, for :func:`warping_error`.

    Args:
        lightness, lightness_previous: ``(H, W)`` L* of frames ``t`` and ``t - 1``.

    Returns:
        ``(flow, mask)``: ``(H, W, 2)`` float32 and bool ``(H, W)``, the pixels passing the
        forward-backward test (:func:`autocolor.video.flow.consistent`).
    """
    backward = farneback(lightness, lightness_previous)
    forward = farneback(lightness_previous, lightness)
    return backward, consistent(backward, forward)


class FlickerMeter:
    """Mean warping error over a clip, fed one frame at a time (memory: one frame).

    ``add(ab, flow, mask)`` with the flow from this frame to the previous one (ignored for the
    first frame); :attr:`value` is the mean over frame pairs, each pair weighted equally.
    """

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._errors: list[float] = []

    def add(self, ab: np.ndarray, flow: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        if self._previous is not None:
            if flow is None or mask is None:
                raise ValueError("every frame after the first needs its flow and mask")
            error = warping_error(ab, self._previous, flow, mask)
            if not np.isnan(error):
                self._errors.append(error)
        self._previous = np.asarray(ab, dtype=np.float32)

    @property
    def value(self) -> float:
        """Mean warping error (Lab units); ``nan`` before two frames."""
        return float(np.mean(self._errors)) if self._errors else float("nan")
