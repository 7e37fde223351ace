"""The streamed full-resolution path: equal to the whole-image path, whatever the strips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from autocolor.color.keeplab import lightness_ab_to_rgb
from autocolor.color.upsample import upsample_ab
from autocolor.imageencode import Layout
from autocolor.photo import Photo
from autocolor.pipeline import resize_lightness
from autocolor.render import render_codes, shrink_for_network, shrink_lightness


def scan(height: int, width: int, seed: int = 0) -> Photo:
    """An 8-bit gray photo held as codes (as read_photo keeps gray files), with edges and texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    gray = 120 + 70 * np.sin(x / 23.0) * np.cos(y / 17.0) + 50 * ((x // 40 + y // 30) % 2) + rng.normal(0, 8, (height, width))
    codes = np.clip(gray, 0, 255).astype(np.uint8)
    table = (np.arange(256, dtype=np.float32) / 255.0 * 100.0).astype(np.float32)  # any monotone table
    return Photo("scan.png", codes=codes, lightness_table=table)


def network_ab(h: int = 16, w: int = 16, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ab = cv2.GaussianBlur(rng.uniform(-80, 80, (h, w, 2)).astype(np.float32), (0, 0), 1.5)
    return np.ascontiguousarray(np.moveaxis(ab, -1, 0) * 2.5)  # saturated: some colours out of gamut


@pytest.mark.parametrize("method", ["guided", "bilinear"])
def test_streamed_equals_unstreamed(method: str) -> None:
    photo = scan(203, 157)
    ab = network_ab()
    whole = render_codes(photo, ab, method=method, rows=photo.shape[0]).astype(np.int16)
    for rows, threads in ((1, 1), (7, 1), (16, 3)):
        streamed = render_codes(photo, ab, method=method, rows=rows, threads=threads).astype(np.int16)
        assert np.abs(streamed - whole).max() <= 1  # <= 1/255: float summation order only
    # ... and the whole-image reference (float upsampling, torch Lab -> sRGB keeping L*).
    lightness = photo.lightness
    reference = np.rint(lightness_ab_to_rgb(lightness, upsample_ab(ab, lightness, method=method)) * 255)
    difference = np.abs(whole - reference)
    # Off by more than a rounding only where the chroma search of an out-of-gamut colour ends a
    # 1/256 step apart (the Lab gamut boundary is not quite convex): a handful of pixels.
    assert np.mean(difference <= 1) > 0.999 and np.mean(difference > 3) < 1e-4


def test_codes_and_float_lightness_render_the_same() -> None:
    photo = scan(64, 80)
    floats = Photo("scan.png", lightness=photo.lightness)
    ab = network_ab()
    assert np.array_equal(render_codes(photo, ab, rows=9), render_codes(floats, ab, rows=9))


def test_layouts_bgr_alpha_and_16_bits() -> None:
    photo = scan(40, 50)
    photo.alpha = np.linspace(0, 1, 40 * 50, dtype=np.float32).reshape(40, 50)
    ab = network_ab()
    rgb = render_codes(photo, ab)
    bgra = render_codes(photo, ab, layout=Layout(order="BGR", alpha=True))
    assert bgra.shape == (40, 50, 4) and np.array_equal(bgra[..., 2::-1], rgb)
    assert np.array_equal(bgra[..., 3], np.rint(photo.alpha * 255).astype(np.uint8))
    deep = render_codes(photo, ab, layout=Layout(bits=16))
    assert deep.dtype == np.uint16 and np.abs(deep / 257.0 - rgb).max() <= 1


def test_photo_smaller_than_the_ab_map_falls_back_to_bilinear() -> None:
    photo = scan(12, 40)
    codes = render_codes(photo, network_ab(16, 16), rows=5)
    assert codes.shape == (12, 40, 3)


def test_network_input_is_bit_identical_to_resizing_the_whole_lightness() -> None:
    photo = scan(301, 257)
    whole = resize_lightness(torch.from_numpy(photo.lightness)[None, None], (64, 48))
    assert torch.equal(shrink_for_network(photo, (64, 48), rows=13), whole)
    small = scan(20, 30)  # enlarged instead
    assert torch.equal(shrink_for_network(small, (32, 32), rows=3),
                       resize_lightness(torch.from_numpy(small.lightness)[None, None], 32))


def test_shrink_lightness_is_area_average() -> None:
    photo = scan(90, 120)
    expected = cv2.resize(photo.lightness, (16, 12), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(shrink_lightness(photo, (12, 16), rows=11), expected, atol=1e-4)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown upsampling"):
        render_codes(scan(20, 20), network_ab(), method="nearest")
    with pytest.raises(ValueError, match="shape"):
        render_codes(scan(20, 20), np.zeros((3, 4, 4), np.float32))
