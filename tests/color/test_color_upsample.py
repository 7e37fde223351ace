"""Chroma upsampling: bilinear (torch-aligned) and guided by the full-resolution L*."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autocolor.color.upsample import upsample_ab


def _step_scene(factor: int = 8, size: int = 16, edge: int = 53) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A vertical edge at full-res column ``edge`` (not on a low-res pixel boundary).

    Left: L* 30 with ab (40, 20); right: L* 80 with ab (-30, 50). Returns the full-res L*, the
    true full-res ab, and the ab as a network would see it (area average to low resolution).
    """
    height = width = size * factor
    lightness = np.full((height, width), 30.0, np.float32)
    lightness[:, edge:] = 80.0
    truth = np.empty((2, height, width), np.float32)
    truth[0], truth[1] = 40.0, 20.0
    truth[0, :, edge:], truth[1, :, edge:] = -30.0, 50.0
    low = truth.reshape(2, size, factor, size, factor).mean(axis=(2, 4))
    return lightness, truth, low


def test_bilinear_matches_torch_align_corners_false() -> None:
    rng = np.random.default_rng(0)
    ab = rng.uniform(-80, 80, size=(2, 13, 17)).astype(np.float32)
    lightness = np.zeros((61, 40), np.float32)
    out = upsample_ab(ab, lightness, "bilinear")
    expected = F.interpolate(torch.from_numpy(ab)[None], size=(61, 40), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(out, expected[0].numpy(), atol=1e-3)


@pytest.mark.parametrize("method", ["guided", "bilinear"])
def test_shape_dtype_and_constant_ab(method: str) -> None:
    rng = np.random.default_rng(1)
    lightness = rng.uniform(0, 100, size=(70, 90)).astype(np.float32)
    ab = np.empty((2, 9, 12), np.float64)
    ab[0], ab[1] = 12.5, -40.0
    out = upsample_ab(ab, lightness, method)
    assert out.shape == (2, 70, 90) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], 12.5, atol=1e-3)
    np.testing.assert_allclose(out[1], -40.0, atol=1e-3)


@pytest.mark.parametrize("method", ["guided", "bilinear"])
def test_identity_when_sizes_match(method: str) -> None:
    rng = np.random.default_rng(2)
    ab = rng.uniform(-50, 50, size=(2, 20, 30)).astype(np.float32)
    out = upsample_ab(ab, rng.uniform(0, 100, size=(20, 30)).astype(np.float32), method)
    np.testing.assert_array_equal(out, ab)
    assert out is not ab


def test_guided_edge_is_sharper_than_bilinear() -> None:
    lightness, truth, low = _step_scene()
    guided = upsample_ab(low, lightness, "guided")
    bilinear = upsample_ab(low, lightness, "bilinear")
    err_guided = np.abs(guided - truth).mean()
    err_bilinear = np.abs(bilinear - truth).mean()
    assert err_guided < 0.25 * err_bilinear
    # Width of the transition of a* along a row (columns more than 10% away from both sides).
    row_g, row_b = guided[0, 64], bilinear[0, 64]
    span = 70.0
    width_g = int(np.sum((row_g < 40 - 0.1 * span) & (row_g > -30 + 0.1 * span)))
    width_b = int(np.sum((row_b < 40 - 0.1 * span) & (row_b > -30 + 0.1 * span)))
    assert width_b >= 8 and width_g <= 2
    # The jump sits where L* jumps.
    assert abs(int(np.argmax(np.abs(np.diff(row_g)))) - 52) <= 1


def test_guided_does_not_overshoot_the_local_ab_range() -> None:
    rng = np.random.default_rng(3)
    lightness = rng.uniform(0, 100, size=(96, 96)).astype(np.float32)  # texture unrelated to ab
    lightness[40:50, 40:50] = 100.0  # a highlight
    low = rng.uniform(-20, 20, size=(2, 12, 12)).astype(np.float32)
    out = upsample_ab(low, lightness, "guided")
    assert out.min() >= low.min() - 1e-3 and out.max() <= low.max() + 1e-3


def test_guided_follows_bilinear_where_lightness_is_flat() -> None:
    rng = np.random.default_rng(4)
    low = rng.uniform(-50, 50, size=(2, 8, 8)).astype(np.float32)
    lightness = np.full((64, 64), 55.0, np.float32)
    np.testing.assert_allclose(
        upsample_ab(low, lightness, "guided"), upsample_ab(low, lightness, "bilinear"), atol=1e-3
    )


def test_downsizing_falls_back_to_bilinear() -> None:
    rng = np.random.default_rng(5)
    ab = rng.uniform(-50, 50, size=(2, 32, 32)).astype(np.float32)
    lightness = np.zeros((16, 40), np.float32)
    np.testing.assert_array_equal(upsample_ab(ab, lightness, "guided"), upsample_ab(ab, lightness, "bilinear"))


@pytest.mark.parametrize(
    ("ab_shape", "l_shape", "method", "message"),
    [
        ((3, 4, 4), (8, 8), "guided", r"\(2, h, w\)"),
        ((2, 4, 4), (1, 8, 8), "guided", r"\(H, W\)"),
        ((2, 4, 4), (8, 8), "nearest", "unknown upsampling method"),
    ],
)
def test_rejects_bad_inputs(ab_shape: tuple[int, ...], l_shape: tuple[int, ...], method: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        upsample_ab(np.zeros(ab_shape, np.float32), np.zeros(l_shape, np.float32), method)


def test_guided_beats_bilinear_on_a_photo() -> None:
    import cv2
    from skimage import data
    from skimage.color import rgb2lab

    lab = rgb2lab(data.coffee()).astype(np.float32)  # bundled with scikit-image, 400 x 600
    lightness = np.ascontiguousarray(lab[..., 0])
    truth = np.ascontiguousarray(lab[..., 1:].transpose(2, 0, 1))
    low = np.stack([cv2.resize(c, (75, 50), interpolation=cv2.INTER_AREA) for c in truth])
    errors = {
        method: float(np.sqrt(((upsample_ab(low, lightness, method) - truth) ** 2).sum(0)).mean())
        for method in ("bilinear", "guided")
    }
    assert errors["guided"] < 0.85 * errors["bilinear"], errors
