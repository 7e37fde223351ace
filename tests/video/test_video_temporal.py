"""The temporal state: colour follows the motion, trust drops where the flow is wrong, cuts reset."""

from __future__ import annotations

import numpy as np
import pytest

from autocolor.video.flow import FlowEstimator
from autocolor.video.temporal import TemporalSettings, TemporalState, confidence, flow_scale

from .test_video_flow import texture


def test_confidence_is_high_on_a_true_match_and_low_where_lightness_disagrees() -> None:
    previous = texture()
    current = np.roll(previous, 3, axis=1)
    flow = FlowEstimator()
    backward, forward = flow(current, previous), flow(previous, current)
    settings = TemporalSettings()
    trust = confidence(current, previous, backward, forward, settings)
    assert trust.shape == current.shape and trust.dtype == np.float32
    assert 0.0 <= trust.min() and trust.max() <= 1.0
    assert np.median(trust[8:-8, 8:-8]) > 0.8
    assert trust[:, :2].mean() < 0.2  # entered from outside the frame
    # A patch that changes its lightness (not a global exposure change) is not trusted there.
    changed = current.copy()
    changed[30:60, 40:80] = 100 - changed[30:60, 40:80]
    trust_changed = confidence(changed, previous, flow(changed, previous), flow(previous, changed), settings)
    assert trust_changed[35:55, 45:75].mean() < 0.3
    # A whole-frame exposure change (film flicker) does not lower trust.
    brighter = np.clip(current + 8.0, 0, 100)
    trust_bright = confidence(brighter, previous, backward, forward, settings)
    assert np.median(trust_bright[8:-8, 8:-8]) > 0.8


def carried_frames(shift: int, frames: int = 6) -> list[np.ndarray]:
    base = texture(96, 128)
    return [np.roll(base, shift * t, axis=1) for t in range(frames)]


def test_colour_is_carried_along_the_motion_and_noise_averages_out() -> None:
    """A moving scene whose per-frame ab is a steady pattern plus noise: the state tracks the
    pattern (it moves with the scene) and divides the frame-to-frame noise."""
    rng = np.random.default_rng(1)
    state = TemporalState(TemporalSettings(strength=0.8, flow_side=96))
    pattern = np.stack([texture(96, 128, seed=5) - 50, 20 - texture(96, 128, seed=6) * 0.4])
    errors_raw, errors_out = [], []
    for t, lightness in enumerate(carried_frames(2, 10)):
        truth = np.roll(pattern, 2 * t, axis=2)
        noisy = truth + rng.normal(0, 6, truth.shape).astype(np.float32)
        out = state.update(lightness, noisy)
        core = (slice(None), slice(10, -10), slice(20, -20))
        errors_raw.append(np.abs(noisy - truth)[core].mean())
        errors_out.append(np.abs(out - truth)[core].mean())
    assert state.cuts == 0 and state.last_confidence > 0.6
    # After a few frames the smoothed ab is much closer to the moving pattern than the input.
    assert np.mean(errors_out[5:]) < 0.6 * np.mean(errors_raw[5:])


def test_first_frame_and_zero_strength_pass_the_prediction_through() -> None:
    lightness = texture()
    ab = np.random.default_rng(0).normal(0, 10, (2, 24, 32)).astype(np.float32)
    state = TemporalState()
    np.testing.assert_array_equal(state.update(lightness, ab), ab)
    off = TemporalState(TemporalSettings(strength=0.0))
    off.update(lightness, ab)
    np.testing.assert_array_equal(off.update(np.roll(lightness, 2, axis=1), ab + 5), ab + 5)


def test_scene_cut_resets_to_the_new_prediction() -> None:
    state = TemporalState()
    first = texture(seed=0)
    ab_first = np.full((2, 24, 32), 30.0, np.float32)
    state.update(first, ab_first)
    state.update(np.roll(first, 1, axis=1), ab_first)
    ab_new = np.full((2, 24, 32), -40.0, np.float32)
    cut = texture(seed=9)  # an unrelated picture: nothing to follow
    np.testing.assert_array_equal(state.update(cut, ab_new), ab_new)
    assert state.cuts == 1 and state.last_confidence < state.settings.cut_threshold
    # ... and smoothing resumes from the new scene.
    follow = state.update(np.roll(cut, 1, axis=1), np.full((2, 24, 32), -20.0, np.float32))
    assert -40.0 < follow[:, 4:-4, 4:-4].mean() < -25.0


def test_reset_and_shape_change_start_over() -> None:
    state = TemporalState()
    ab = np.ones((2, 24, 32), np.float32)
    state.update(texture(), ab)
    state.reset()
    np.testing.assert_array_equal(state.update(np.roll(texture(), 1, axis=1), ab * 7), ab * 7)
    np.testing.assert_array_equal(state.update(texture(48, 64), np.ones((2, 12, 16), np.float32)), 1.0)


@pytest.mark.parametrize(
    "kwargs", [{"strength": 1.0}, {"strength": -0.1}, {"light_sigma": 0}, {"cut_threshold": 2}, {"flow_side": 4}]
)
def test_settings_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TemporalSettings(**kwargs)  # type: ignore[arg-type]


def test_flow_grid_scale() -> None:
    assert flow_scale((64, 64), (720, 1280), 128) == 2  # cic.lite's grid, 720p
    assert flow_scale((64, 64), (100, 100), 256) == 1  # never finer than the frame
    assert flow_scale((8, 8), (48, 64), 128) == 6
    assert flow_scale((4, 4), (6, 6), 128) == 4  # DIS needs 12+ px: 16 at least
