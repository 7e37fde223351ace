"""Flow, warping and the forward-backward test on patterns whose motion is known."""

from __future__ import annotations

import numpy as np
import pytest

from autocolor.video.flow import FlowEstimator, consistent, forward_backward_error, inside, warp


def texture(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """Smooth random texture in L* units (DIS needs texture to lock on)."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 100, (height // 4, width // 4)).astype(np.float32)
    return np.clip(cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC), 0, 100)


def test_warp_moves_values_along_an_integer_flow() -> None:
    values = np.arange(20, dtype=np.float32).reshape(4, 5)
    flow = np.zeros((4, 5, 2), np.float32)
    flow[..., 0] = -1  # each pixel was one to the left before
    moved = warp(values, flow)
    np.testing.assert_allclose(moved[:, 1:], values[:, :-1])
    np.testing.assert_allclose(moved[:, 0], values[:, 0])  # edge replicated, and flagged outside
    assert not inside(flow)[:, 0].any() and inside(flow)[:, 1:].all()
    stacked = warp(np.stack([values, -values]), flow)
    assert stacked.shape == (2, 4, 5)
    np.testing.assert_allclose(stacked[1], -moved)


def test_dis_recovers_a_shift_and_warping_undoes_it() -> None:
    previous = texture()
    current = np.roll(previous, shift=(2, 3), axis=(0, 1))  # moved 3 right, 2 down
    backward = FlowEstimator("medium").backward_flow(current, previous)
    core = (slice(16, -16), slice(16, -16))
    np.testing.assert_allclose(np.median(backward[core][..., 0]), -3.0, atol=0.2)
    np.testing.assert_allclose(np.median(backward[core][..., 1]), -2.0, atol=0.2)
    assert np.abs(warp(previous, backward) - current)[core].mean() < 1.0


def test_forward_backward_flags_an_inconsistent_pair() -> None:
    shift = np.zeros((8, 8, 2), np.float32)
    shift[..., 0] = 1.0
    assert forward_backward_error(shift, -shift).max() == pytest.approx(0.0)
    assert consistent(-shift, shift)[:, 1:].all()
    assert not consistent(-shift, shift)[:, 0].any()  # came from outside the frame
    wrong = np.zeros_like(shift)
    wrong[..., 0] = 3.0  # forward says +3 where backward says -1: 2 px miss
    np.testing.assert_allclose(forward_backward_error(-shift, wrong)[:, 1:], 2.0, atol=1e-5)
    assert not consistent(-shift, wrong).any()


def test_estimator_rejects_mismatched_frames_and_presets() -> None:
    with pytest.raises(ValueError, match="preset"):
        FlowEstimator("warp9")
    with pytest.raises(ValueError, match="one size"):
        FlowEstimator()(np.zeros((16, 16)), np.zeros((16, 20)))
