"""The warping-error flicker metric on pairs whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autocolor.video.flicker import FlickerMeter, estimated_flow, warping_error

from .test_video_flow import texture


def test_steady_colour_that_moves_with_the_scene_scores_zero_and_jitter_scores_its_size() -> None:
    ab_prev = np.stack([texture(seed=2) - 50, texture(seed=3) - 50])
    flow = np.zeros((96, 128, 2), np.float32)
    flow[..., 0] = -2  # scene moved 2 px right
    ab = np.roll(ab_prev, 2, axis=2)
    mask = np.ones((96, 128), bool)
    mask[:, :2] = False
    assert warping_error(ab, ab_prev, flow, mask) == pytest.approx(0.0, abs=1e-4)
    shifted = ab.copy()
    shifted[0] += 3.0
    shifted[1] -= 4.0  # every pixel's colour jumps by (3, -4): distance 5
    assert warping_error(shifted, ab_prev, flow, mask) == pytest.approx(5.0, abs=1e-3)
    assert math.isnan(warping_error(ab, ab_prev, flow, np.zeros_like(mask)))
    with pytest.raises(ValueError):
        warping_error(ab, ab_prev[:, :10], flow, mask)


def test_estimated_flow_finds_the_motion_and_flags_the_border() -> None:
    previous = texture(seed=4)
    current = np.roll(previous, 3, axis=1)
    flow, mask = estimated_flow(current, previous)
    assert np.median(flow[10:-10, 10:-10, 0]) == pytest.approx(-3.0, abs=0.3)
    assert mask[10:-10, 10:-10].mean() > 0.8
    assert not mask[:, :2].any()


def test_meter_averages_pairs() -> None:
    meter = FlickerMeter()
    assert math.isnan(meter.value)
    still = np.zeros((8, 8, 2), np.float32)
    every = np.ones((8, 8), bool)
    meter.add(np.zeros((2, 8, 8), np.float32))
    meter.add(np.full((2, 8, 8), 3.0, np.float32), still, every)  # jump of sqrt(18)
    meter.add(np.full((2, 8, 8), 3.0, np.float32), still, every)  # no change
    assert meter.value == pytest.approx(math.sqrt(18) / 2)
    with pytest.raises(ValueError):
        meter.add(np.zeros((2, 8, 8), np.float32))
