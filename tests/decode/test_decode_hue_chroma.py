"""Hue/chroma decoding: histogram statistics, fading, HSV reconstruction, the registered decoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import hsv2rgb, rgb2hsv

from autocolor.decode import DecodeOptions, predict_ab
from autocolor.decode.hue_chroma import (
    circular_mean_hue,
    decode_histograms,
    histogram_expectation,
    histogram_median,
    histogram_mode,
    histogram_sample,
    hsv_to_rgb,
    hue_chroma_to_ab,
    hue_chroma_to_rgb,
    predict_histograms,
    rgb_to_hue_chroma,
)
from autocolor.errors import UsageError
from autocolor.models import create_model

BINS = 32


def _hist(masses: dict[int, float], h: int = 1, w: int = 1) -> torch.Tensor:
    """A ``(1, 32, h, w)`` histogram with the given bin masses at every pixel."""
    hist = torch.zeros(1, BINS, h, w, dtype=torch.float64)
    for k, p in masses.items():
        hist[:, k] = p
    return hist


def _circular_distance(a: float, b: float) -> float:
    d = abs(a - b) % 1.0
    return min(d, 1.0 - d)


@pytest.mark.parametrize("k", [0, 7, 31])
def test_one_hot_chroma_gives_that_bin_centre(k: int) -> None:
    hist = _hist({k: 1.0})
    centre = (k + 0.5) / BINS
    for stat in (histogram_median, histogram_expectation, histogram_mode):
        assert stat(hist).item() == pytest.approx(centre)


def test_median_expectation_and_mode_differ_as_they_should() -> None:
    hist = _hist({2: 0.45, 10: 0.15, 30: 0.4})
    assert histogram_mode(hist).item() == pytest.approx(2.5 / BINS)
    assert histogram_median(hist).item() == pytest.approx(10.5 / BINS)  # cumsum first >= 0.5
    expected_mean = (0.45 * 2.5 + 0.15 * 10.5 + 0.4 * 30.5) / BINS
    assert histogram_expectation(hist).item() == pytest.approx(expected_mean)


def test_circular_mean_wraps_around_zero() -> None:
    hue, cc = circular_mean_hue(_hist({0: 0.5, 31: 0.5}))
    assert _circular_distance(hue.item(), 0.0) < 1e-9  # not 0.5, the arithmetic mean
    masses = {30: 0.5, 31: 0.25, 1: 0.25}
    hue, _ = circular_mean_hue(_hist(masses))
    phasor = sum(p * np.exp(2j * np.pi * (k + 0.5) / BINS) for k, p in masses.items())
    assert hue.item() == pytest.approx(np.angle(phasor) / (2 * np.pi) % 1.0)
    assert 0.9 < hue.item() < 1.0
    assert cc.item() <= 1.0 / BINS


def test_chromatic_fading_reduces_chroma_when_hue_is_uncertain() -> None:
    chroma_hist = _hist({12: 1.0})
    certain = _hist({5: 1.0})  # cc = 1/32 > 0.03: no fading
    split = _hist({5: 0.5, 21: 0.5})  # opposite hues: cc = 0, faded to gray
    uniform = _hist({k: 1.0 / BINS for k in range(BINS)})
    spread = _hist({2: 0.25, 5: 0.5, 8: 0.25})  # spread: cc just below the 0.03 threshold
    c_certain = decode_histograms(certain, chroma_hist, "median")[1].item()
    c_split = decode_histograms(split, chroma_hist, "median")[1].item()
    c_uniform = decode_histograms(uniform, chroma_hist, "median")[1].item()
    c_spread = decode_histograms(spread, chroma_hist, "median")[1].item()
    assert c_certain == pytest.approx(12.5 / BINS)
    assert c_split == pytest.approx(0.0, abs=1e-9) and c_uniform == pytest.approx(0.0, abs=1e-9)
    cc = circular_mean_hue(spread)[1].item()
    assert c_spread == pytest.approx(12.5 / BINS * cc / 0.03) and 0 < c_spread < c_certain
    # Fading is the median default only, and can be switched either way.
    assert decode_histograms(split, chroma_hist, "expectation")[1].item() == pytest.approx(12.5 / BINS)
    unfaded = decode_histograms(split, chroma_hist, "median", fading=False)[1]
    assert unfaded.item() == pytest.approx(12.5 / BINS)


def test_sampling_is_reproducible_and_follows_the_histogram() -> None:
    hist = _hist({3: 0.25, 7: 0.75}, h=40, w=50)
    draws = [histogram_sample(hist, torch.Generator().manual_seed(s)) for s in (11, 11, 12)]
    torch.testing.assert_close(draws[0], draws[1])
    assert not torch.equal(draws[0], draws[2])
    values = set(np.round(draws[0].numpy().ravel() * BINS - 0.5).astype(int).tolist())
    assert values == {3, 7}
    share = (draws[0] == 7.5 / BINS).double().mean().item()
    assert share == pytest.approx(0.75, abs=0.05)


def test_hsv_to_rgb_matches_scikit_image() -> None:
    rng = np.random.default_rng(0)
    hsv = rng.random((1, 3, 20, 30))
    hsv[0, 0, 0, :6] = [0.0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6]  # sector boundaries
    ours = hsv_to_rgb(torch.from_numpy(hsv)).numpy()[0].transpose(1, 2, 0)
    np.testing.assert_allclose(ours, hsv2rgb(hsv[0].transpose(1, 2, 0)), atol=1e-10)


def test_rgb_to_hue_chroma_matches_scikit_image() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.random((20, 30, 3))
    hue, chroma = rgb_to_hue_chroma(torch.from_numpy(rgb.transpose(2, 0, 1))[None])
    np.testing.assert_allclose(hue[0, 0].numpy(), rgb2hsv(rgb)[..., 0], atol=1e-10)
    np.testing.assert_allclose(chroma[0, 0].numpy(), rgb.max(-1) - rgb.min(-1), atol=1e-12)
    gray_hue, gray_chroma = rgb_to_hue_chroma(torch.full((1, 3, 2, 2), 0.4))
    assert gray_hue.abs().max() == 0 and gray_chroma.abs().max() == 0


def test_hsv_reconstruction_follows_the_official_formula() -> None:
    hue = torch.tensor([0.0, 0.33, 0.6]).view(1, 1, 1, 3)
    chroma = torch.tensor([0.3, 0.2, 0.1]).view(1, 1, 1, 3)
    gray = torch.tensor([0.5, 0.4, 0.3]).view(1, 1, 1, 3)
    rgb = hue_chroma_to_rgb(hue, chroma, gray)
    top, bottom = rgb.max(dim=1).values, rgb.min(dim=1).values
    torch.testing.assert_close(top, (gray + chroma / 2)[:, 0])  # V = g + c / 2
    torch.testing.assert_close(top - bottom, chroma[:, 0])  # chroma = max - min
    back_hue, _ = rgb_to_hue_chroma(rgb)
    torch.testing.assert_close(back_hue, hue, atol=1e-5, rtol=0)
    ab = hue_chroma_to_ab(hue, chroma, gray)
    assert ab[0, 0, 0, 0] > 20  # red: a* strongly positive
    neutral = hue_chroma_to_ab(hue, torch.zeros_like(chroma), gray)
    assert neutral.abs().max() < 0.01  # ~0.003: the rounded D65 white of the Lab constants


def test_unknown_method_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="median"):
        decode_histograms(_hist({0: 1.0}), _hist({0: 1.0}), "annealed_mean")


def test_predict_histograms_scales_pads_and_returns_histograms() -> None:
    torch.manual_seed(0)
    net = create_model("larsson.tiny")  # canvas 64, short/long side limits 64
    lightness = torch.rand(1, 1, 60, 120) * 100
    with torch.no_grad():
        hist_h, hist_c, gray = predict_histograms(net, lightness)
    assert hist_h.shape == (1, 32, 32, 64) and hist_c.shape == (1, 32, 32, 64)  # scale 64 / 120
    assert gray.shape == (1, 1, 32, 64) and 0 <= gray.min() and gray.max() <= 1
    torch.testing.assert_close(hist_h.sum(dim=1), torch.ones(1, 32, 64))
    torch.testing.assert_close(hist_c.sum(dim=1), torch.ones(1, 32, 64))
    with torch.no_grad():
        unscaled = predict_histograms(net, lightness, official_scaling=False)[0]
    assert unscaled.shape == (1, 32, 60, 120)


def test_registered_decoder_returns_ab_and_samples_reproducibly() -> None:
    torch.manual_seed(0)
    net = create_model("larsson.tiny")
    lightness = torch.rand(2, 1, 64, 64) * 100
    with torch.no_grad():
        ab = predict_ab(net, lightness, DecodeOptions(method="median", temperature=1.0))
        first = predict_ab(net, lightness, DecodeOptions("sample", 1.0, torch.Generator().manual_seed(3)))
        again = predict_ab(net, lightness, DecodeOptions("sample", 1.0, torch.Generator().manual_seed(3)))
    assert ab.shape == (2, 2, 64, 64) and torch.isfinite(ab).all()
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, ab)
    with pytest.raises(UsageError):
        predict_ab(net, lightness, DecodeOptions(method="annealed_mean"))
