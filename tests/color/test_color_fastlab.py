"""Strip-wise Lab -> sRGB codes: scikit-image's formulas, the reference's gamut rule, any strip."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import lab2rgb, rgb2lab

from autocolor.color.fastlab import LabRowsEncoder
from autocolor.color.keeplab import lightness_ab_to_rgb


def encode(lightness: np.ndarray, ab: np.ndarray, *, rows: int, bits: int = 8, order: str = "RGB") -> np.ndarray:
    height, width = lightness.shape
    encoder = LabRowsEncoder(width, rows, bits=bits, order=order)
    out = np.empty((height, width, 3), np.uint8 if bits == 8 else np.uint16)
    for top in range(0, height, rows):
        encoder.encode(lightness[top : top + rows], ab[0, top : top + rows].copy(), ab[1, top : top + rows].copy(), out[top : top + rows])
    encoder.flush()
    return out


@pytest.mark.parametrize("bits", [8, 16])
def test_in_gamut_colours_match_scikit_image(bits: int) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0.02, 0.98, (30, 40, 3))  # in gamut by construction
    lab = rgb2lab(rgb)
    lightness, ab = lab[..., 0].astype(np.float32), np.moveaxis(lab[..., 1:], -1, 0).astype(np.float32)
    top = (1 << bits) - 1
    expected = np.rint(np.clip(lab2rgb(lab), 0, 1) * top)
    got = encode(lightness, ab, rows=7, bits=bits)
    assert np.abs(got - expected).max() <= (1 if bits == 8 else 24)  # 24/65535 < 1/2000


def test_out_of_gamut_keeps_lightness_like_the_reference_in_any_strips() -> None:
    rng = np.random.default_rng(1)
    lightness = rng.uniform(0, 100, (24, 50)).astype(np.float32)
    ab = rng.uniform(-120, 120, (2, 24, 50)).astype(np.float32)  # mostly far out of gamut
    reference = np.rint(lightness_ab_to_rgb(lightness, ab) * 255)
    whole = encode(lightness, ab, rows=24)
    assert np.array_equal(encode(lightness, ab, rows=5), whole)
    assert np.array_equal(encode(lightness, ab, rows=1), whole)  # single out-of-gamut pixels too
    difference = np.abs(whole - reference)
    assert np.mean(difference <= 1) > 0.995 and difference.max() <= 3  # bisection ties only
    kept = rgb2lab(whole / 255.0)[..., 0]
    assert np.abs(kept - lightness).max() < 0.6  # L* survives up to 8-bit rounding


def test_bgr_order_is_rgb_reversed() -> None:
    rng = np.random.default_rng(2)
    lightness = rng.uniform(0, 100, (6, 9)).astype(np.float32)
    ab = rng.uniform(-40, 40, (2, 6, 9)).astype(np.float32)
    assert np.array_equal(encode(lightness, ab, rows=6, order="BGR"), encode(lightness, ab, rows=6)[..., ::-1])


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="bits"):
        LabRowsEncoder(4, 4, bits=12)
    with pytest.raises(ValueError, match="order"):
        LabRowsEncoder(4, 4, order="GBR")
