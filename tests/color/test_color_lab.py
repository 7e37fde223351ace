"""sRGB <-> Lab against scikit-image, on edge colours, layouts and dtypes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from autocolor.color.lab import lab_from_lightness_ab, lab_to_rgb, rgb_to_lab, rgb_to_lightness

# Values just below, at and above the sRGB curve's branch point 0.04045, and colours whose
# linear value sits at the inverse branch point 0.0031308.
_BRANCH = (0.04045 - 1e-6, 0.04045, 0.04045 + 1e-6, 0.0031308 * 12.92)
_EDGE_RGB = np.array(
    [
        [0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1],
        [0.5, 0.5, 0.5],
        *[[v, v, v] for v in _BRANCH],
        *[[v, 1.0, 0.0] for v in _BRANCH],
        *[[0.0, v, 1.0] for v in _BRANCH],
    ],
    dtype=np.float64,
)


def _random_rgb(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, size=(n, 3))


def _as_chw(rgb_rows: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    # (P, 3) -> (3, 1, P)
    return torch.from_numpy(rgb_rows.T[:, None, :].copy()).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rgb_to_lab_matches_skimage(dtype: torch.dtype) -> None:
    rows = np.concatenate([_EDGE_RGB, _random_rgb(500)])
    ours = rgb_to_lab(_as_chw(rows, dtype))
    assert ours.dtype == dtype and ours.shape == (3, 1, len(rows))
    expected = skcolor.rgb2lab(rows[None])[0]
    np.testing.assert_allclose(ours[:, 0].T.double().numpy(), expected, atol=1e-3, rtol=0)


def test_rgb_to_lab_known_values() -> None:
    lab = rgb_to_lab(_as_chw(np.array([[0.0, 0, 0], [1.0, 1, 1], [1.0, 0, 0]]), torch.float64))[:, 0].T
    np.testing.assert_allclose(lab[0].numpy(), [0, 0, 0], atol=1e-6)
    # White is neutral to 5e-3 only: scikit-image's matrix rows do not sum exactly to D65.
    np.testing.assert_allclose(lab[1].numpy(), [100, 0, 0], atol=1e-2)
    np.testing.assert_allclose(lab[2].numpy(), [53.24, 80.09, 67.20], atol=1e-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lab_to_rgb_matches_skimage(dtype: torch.dtype) -> None:
    rng = np.random.default_rng(1)
    # In-gamut colours (from RGB) plus arbitrary Lab, including impossible colours whose z < 0.
    lab_rows = np.concatenate(
        [
            skcolor.rgb2lab(np.concatenate([_EDGE_RGB, _random_rgb(300, 2)])[None])[0],
            np.stack([rng.uniform(0, 100, 300), rng.uniform(-110, 110, 300), rng.uniform(-110, 110, 300)], 1),
            [[10.0, 0.0, 120.0], [50.0, -20.0, 150.0]],
        ]
    )
    ours = lab_to_rgb(_as_chw(lab_rows, dtype))[:, 0].T.double().numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about the clamped negative z values
        expected = skcolor.lab2rgb(lab_rows[None])[0]
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    assert ours.min() >= 0 and ours.max() <= 1


def test_lab_to_rgb_without_clipping_leaves_out_of_gamut_values() -> None:
    lab = torch.tensor([50.0, 100.0, 0.0], dtype=torch.float64).view(3, 1, 1)
    unclipped = lab_to_rgb(lab, clip=False)
    assert float(unclipped.max()) > 1.0 or float(unclipped.min()) < 0.0
    torch.testing.assert_close(lab_to_rgb(lab), unclipped.clamp(0, 1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_layout_and_round_trip(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    rgb = torch.rand(4, 3, 8, 9, generator=generator, dtype=dtype)
    lab = rgb_to_lab(rgb)
    assert lab.shape == (4, 3, 8, 9) and lab.dtype == dtype
    # The batch gives the same numbers as each image alone.
    torch.testing.assert_close(lab[2], rgb_to_lab(rgb[2]))
    expected = skcolor.rgb2lab(rgb.double().permute(0, 2, 3, 1).numpy()).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(lab.double().numpy(), expected, atol=1e-3, rtol=0)
    back = lab_to_rgb(lab)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(back, rgb, atol=tolerance, rtol=0)


def test_round_trip_of_edge_colours() -> None:
    rgb = _as_chw(_EDGE_RGB, torch.float64)
    # Not exact to 1e-9: the CIE-rounded constants (0.008856, 7.787) make the two branches of
    # f and f^-1 meet with a ~1e-8 gap, as in scikit-image.
    torch.testing.assert_close(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-7, rtol=0)


def test_lightness_helpers() -> None:
    rgb = torch.rand(2, 3, 4, 5, generator=torch.Generator().manual_seed(1))
    lab = rgb_to_lab(rgb)
    torch.testing.assert_close(rgb_to_lightness(rgb), lab[:, :1])
    torch.testing.assert_close(lab_from_lightness_ab(lab[:, :1], lab[:, 1:]), lab)


def test_rejects_wrong_channel_count() -> None:
    with pytest.raises(ValueError, match="3 channels"):
        rgb_to_lab(torch.zeros(4, 5, 6))
    with pytest.raises(ValueError, match="3 channels"):
        lab_to_rgb(torch.zeros(1, 2, 5, 6))
