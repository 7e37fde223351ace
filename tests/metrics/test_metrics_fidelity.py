"""RMSE in ab, PSNR and SSIM on 8-bit RGB: known answers and symmetry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autocolor.metrics.fidelity import (
    ab_squared_error_sum,
    mse_uint8,
    psnr_from_mse,
    psnr_uint8,
    rmse_ab,
    ssim_uint8,
    to_uint8,
)


def _image(seed: int, shape: tuple[int, int] = (24, 20)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)


def test_identical_images() -> None:
    img = _image(0)
    ab = np.random.default_rng(0).uniform(-60, 60, size=(2, 5, 5))
    assert rmse_ab(ab, ab.copy()) == 0.0
    assert psnr_uint8(img, img.copy()) == math.inf
    assert ssim_uint8(img, img.copy()) == pytest.approx(1.0)


def test_constant_ab_shift_gives_its_length() -> None:
    gt = np.random.default_rng(1).uniform(-60, 60, size=(2, 7, 3))
    pred = gt + np.array([3.0, -4.0])[:, None, None]
    assert rmse_ab(pred, gt) == pytest.approx(5.0, abs=1e-12)
    total, count = ab_squared_error_sum(pred, gt)
    assert count == 21 and total == pytest.approx(25.0 * 21)


def test_psnr_of_a_one_level_difference() -> None:
    a = np.full((8, 8, 3), 100, dtype=np.uint8)
    b = a + 1
    assert mse_uint8(a, b) == 1.0
    assert psnr_uint8(a, b) == pytest.approx(20 * math.log10(255.0), abs=1e-12)
    assert psnr_from_mse(0.0) == math.inf


def test_float_inputs_are_quantised_first() -> None:
    np.testing.assert_array_equal(to_uint8(np.array([0.0, 1.0, 0.2, -0.1, 1.3])), [0, 255, 51, 0, 255])
    img = _image(2)
    # A float image within half a level of the uint8 one is the same 8-bit image: PSNR inf.
    assert psnr_uint8(img / 255.0 + 0.4 / 255.0, img) == math.inf


def test_metrics_are_symmetric() -> None:
    a, b = _image(3), _image(4)
    ab1 = np.random.default_rng(5).normal(0, 30, size=(2, 6, 6))
    ab2 = np.random.default_rng(6).normal(0, 30, size=(2, 6, 6))
    assert rmse_ab(ab1, ab2) == rmse_ab(ab2, ab1)
    assert psnr_uint8(a, b) == psnr_uint8(b, a)
    assert ssim_uint8(a, b) == pytest.approx(ssim_uint8(b, a), abs=1e-12)
    assert ssim_uint8(a, b) < 0.5  # unrelated noise images are far from identical


def test_ssim_rejects_tiny_images_and_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="11 px"):
        ssim_uint8(_image(7, (8, 30)), _image(8, (8, 30)))
    with pytest.raises(ValueError):
        ssim_uint8(_image(7), _image(8, (20, 24)))
