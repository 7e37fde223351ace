"""Optical flow between two lightness images, warping along it, and how far to trust it.

Conventions (all arrays numpy, float32 unless said otherwise):

* A *flow* is ``(h, w, 2)`` in pixels of the grid it was computed on, ``flow[y, x] = (dx, dy)``.
* :func:`backward_flow` ``(current, previous)`` says, for every pixel ``x`` of ``current``, where
  the same point was in ``previous``: ``x + flow[x]``. Warping ``previous``'s values along it
  (:func:`warp`) gives them on ``current``'s pixels.
* Lightness is L* in ``[0, 100]``; the flow algorithms see it as 8-bit (``L* * 2.55``).

Flow comes from OpenCV's DIS (Kroeger et al., ECCV 2016): fast enough to run twice per video
frame at the network's resolution, and already a dependency through opencv-python-headless.
"""

from __future__ import annotations

import cv2
import numpy as np

#: DIS presets by name (ultrafast is too coarse for 256 px grids; medium is ~3x slower than fast).
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def to_uint8(lightness: np.ndarray) -> np.ndarray:
    """``(h, w)`` L* in ``[0, 100]`` -> uint8 ``(h, w)`` on ``[0, 255]`` (what DIS takes)."""
    scaled = np.asarray(lightness, dtype=np.float32) * np.float32(2.55)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


class FlowEstimator:
    """Dense DIS flow; one OpenCV object reused for every frame (it holds its own buffers)."""

    def __init__(self, preset: str = "fast") -> None:
        if preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; choose from: {', '.join(DIS_PRESETS)}")
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow from ``source`` to ``target`` (both ``(h, w)`` L*): ``source[x] ~ target[x + flow[x]]``."""
        if source.shape != target.shape or source.ndim != 2:
            raise ValueError(f"need two (h, w) images of one size, got {source.shape} and {target.shape}")
        flow = self._dis.calc(to_uint8(source), to_uint8(target), None)
        return np.asarray(flow, dtype=np.float32)

    def backward_flow(self, current: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """Where each pixel of ``current`` was in ``previous`` (``x + flow[x]``)."""
        return self(current, previous)


def sample_positions(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(h, w, 2)`` flow -> absolute float32 ``(map_x, map_y)`` for ``cv2.remap``."""
    height, width = flow.shape[:2]
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    return grid_x + flow[..., 0], grid_y + flow[..., 1]


def warp(values: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Bilinearly sample ``values`` at ``x + flow[x]``.

    Args:
        values: ``(h, w)`` or ``(c, h, w)`` array on the grid the flow points into.
        flow: ``(h, w, 2)`` backward flow on the output grid (same ``h, w``).

    Returns:
        float32 of ``values``' shape. Positions outside the image take the nearest edge value;
        :func:`inside` says which ones those are.
    """
    map_x, map_y = sample_positions(flow)
    source = np.asarray(values, dtype=np.float32)
    planes = source[None] if source.ndim == 2 else source
    out = np.stack(
        [cv2.remap(p, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for p in planes]
    )
    return out[0] if source.ndim == 2 else out


def inside(flow: np.ndarray) -> np.ndarray:
    """bool ``(h, w)``: ``x + flow[x]`` lands inside the image (the point was visible before)."""
    height, width = flow.shape[:2]
    map_x, map_y = sample_positions(flow)
    return (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)


def forward_backward_error(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """How far a round trip along the two flows misses its start, in pixels, ``(h, w)``.

    ``backward`` maps ``current -> previous`` and ``forward`` maps ``previous -> current``;
    for a consistent, unoccluded pixel ``backward[x] + forward[x + backward[x]] = 0``.
    Occluded and mismatched pixels give large errors (Sundaram, Brox & Keutzer, ECCV 2010).
    """
    returned = warp(np.moveaxis(forward, -1, 0), backward)  # (2, h, w): forward at x + backward[x]
    return np.hypot(backward[..., 0] + returned[0], backward[..., 1] + returned[1])


def consistent(backward: np.ndarray, forward: np.ndarray, *, slack: float = 0.5) -> np.ndarray:
    """bool ``(h, w)``: pixels whose flow passes Sundaram et al.'s forward-backward test and stays inside.

    The test: ``|b + f'|^2 < 0.01 (|b|^2 + |f'|^2) + slack`` with ``f' = forward`` at ``x + b``.
    """
    returned = np.moveaxis(warp(np.moveaxis(forward, -1, 0), backward), 0, -1)
    miss = ((backward + returned) ** 2).sum(-1)
    scale = (backward**2).sum(-1) + (returned**2).sum(-1)
    return (miss < 0.01 * scale + slack) & inside(backward)
