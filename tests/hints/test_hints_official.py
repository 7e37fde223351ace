"""Our hints give SIGGRAPH17 the network input the official code gives it, for the same hints.

The reference functions below re-implement, independently of ``autocolor.hints`` and with
scikit-image / OpenCV / NumPy as the official code uses them, the documented steps of:

- the interactive demo (junyanz/interactive-deep-colorization): a click is scaled to the
  256-px input as ``int(x / width * 256)``; the chosen colour is snapped into the gamut of that
  pixel's L* (``lab_gamut.snap_ab``: set L*, Lab -> RGB clipped -> Lab, up to 20 times until the
  L1 change is < 1, then 8-bit RGB); a filled ``cv2.rectangle`` from ``(x - w, y - w)`` to
  ``(x + w, y + w)`` paints that RGB into a hint image and 255 into a mask; the network gets
  ``rgb2lab(hint image)[1:]`` and ``mask > 0``;
- the PyTorch release's simulation (richzhang/colorization-pytorch ``add_color_patches_rand_gt``
  with ``num_points``, ``samp='normal'``, ``use_avg=True``): for each point ``P = choice(Ps)``,
  top-left ``int(clip(normal((H-P+1)/2, (H-P+1)/4), 0, H-P))`` (rows, then columns) from the
  global NumPy RNG, the patch gets its mean ab, the mask 1, ``mask_cent = 0``;
- the converted weights' forward (richzhang/colorization ``colorizers/siggraph17.py``):
  ``cat((L - 50) / 100, ab / 110, mask)``.

Ours is captured at the input of SIGGRAPH17's first block, so it is what the network sees.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
import torch
from skimage import color

from autocolor.hints import Hint, parse_hint, sample_ground_truth_hints
from autocolor.pipeline import Colorizer


# ---------------------------------------------------------------- the official steps, re-implemented
def reference_snap(lightness: float, rgb: np.ndarray) -> np.ndarray:
    """lab_gamut.snap_ab(L, rgb) -> uint8 RGB, step by step."""
    lab = color.rgb2lab(rgb.astype(np.uint8)[None, None, :]).reshape(3)
    for _ in range(20):
        lab[0] = lightness
        previous = lab
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rgb_float = np.clip(color.lab2rgb(lab[None, None, :]).reshape(3), 0, 1)
        lab = color.rgb2lab(rgb_float[None, None, :]).reshape(3)
        if np.abs(lab - previous).sum() < 1:
            break
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = np.clip(color.lab2rgb(lab[None, None, :]).reshape(3), 0, 1)
    return np.round(out * 255).astype(np.uint8)


def reference_demo_input(
    small_l: np.ndarray, photo_size: tuple[int, int], clicks: list[tuple[float, float, str, int]]
) -> np.ndarray:
    """The demo's network input (3, h, w): (L-50)/100, ab/110, mask, for clicks (x, y, #rgb, w)."""
    height, width = photo_size
    size = small_l.shape[0]
    hint_rgb = np.zeros((size, size, 3), np.uint8)
    mask = np.zeros((size, size, 1), np.uint8)
    for x, y, hex_color, w in clicks:
        px, py = int(x / width * size), int(y / height * size)
        rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)
        snapped = reference_snap(float(small_l[py, px]), rgb)
        cv2.rectangle(mask, (px - w, py - w), (px + w, py + w), 255, -1)
        cv2.rectangle(hint_rgb, (px - w, py - w), (px + w, py + w), tuple(int(c) for c in snapped), -1)
    ab = color.rgb2lab(hint_rgb).transpose(2, 0, 1)[1:3]
    hinted = (mask > 0).transpose(2, 0, 1).astype(np.float64)
    return np.concatenate(((small_l[None] - 50) / 100, ab / 110, hinted))


def reference_simulated_hints(ab: np.ndarray, num_points: int, seed: int, sample_ps: list[int]):
    """add_color_patches_rand_gt on one image: (hint_B, mask_B) with ab already / 110."""
    np.random.seed(seed)
    data_b = torch.from_numpy(ab / 110.0)[None]
    n, c, h, w = data_b.shape
    hint_b, mask_b = torch.zeros_like(data_b), torch.zeros(n, 1, h, w, dtype=data_b.dtype)
    for _ in range(num_points):
        p = np.random.choice(sample_ps)
        row = int(np.clip(np.random.normal((h - p + 1) / 2.0, (h - p + 1) / 4.0), 0, h - p))
        col = int(np.clip(np.random.normal((w - p + 1) / 2.0, (w - p + 1) / 4.0), 0, w - p))
        patch = data_b[0, :, row : row + p, col : col + p]
        hint_b[0, :, row : row + p, col : col + p] = patch.mean(dim=(1, 2)).view(c, 1, 1)
        mask_b[0, :, row : row + p, col : col + p] = 1
    mask_b -= 0.0  # mask_cent of the converted Caffe weights
    return hint_b[0].numpy(), mask_b[0].numpy()


# ---------------------------------------------------------------- ours, captured at the network
@pytest.fixture(scope="module")
def siggraph() -> Colorizer:
    return Colorizer("cic.tiny_regression", "cpu", pretrained=False)


def network_input(colorizer: Colorizer, lightness: np.ndarray, hints) -> np.ndarray:
    seen: list[torch.Tensor] = []
    hook = colorizer.net.model1.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    try:
        colorizer.predict_ab(lightness, hints)
    finally:
        hook.remove()
    assert len(seen) == 1
    return seen[0][0].double().numpy()


def photo_lightness(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    rows = np.linspace(8, 92, height)[:, None]
    cols = np.linspace(-20, 20, width)[None, :]
    return np.clip(rows + cols + rng.normal(0, 3, (height, width)), 0, 100).astype(np.float32)


def test_user_points_match_the_demo(siggraph: Colorizer) -> None:
    lightness = photo_lightness(90, 130)  # not square: points scale per axis
    clicks = [
        (10.0, 12.0, "#1f3a93", 2),  # dark navy on a dark pixel
        (129.0, 89.0, "#ffd700", 1),  # last pixel; gold, clipped at the corner
        (64.5, 40.0, "#00ff00", 3),  # saturated green: out of gamut at most L*, snapped
        (70.0, 44.0, "#b22222", 0),  # overlaps the green patch: later hints paint over
        (0.0, 60.0, "#808080", 4),  # gray: a = b = 0 but the mask is still 1
    ]
    hints = [parse_hint(f"{x},{y},{c}", radius=w) for x, y, c, w in clicks]
    ours = network_input(siggraph, lightness, hints)
    small_l = ours[0] * 100 + 50  # the pipeline's own resize of L*, given to both
    reference = reference_demo_input(small_l, lightness.shape, clicks)
    np.testing.assert_array_equal(ours[3], reference[3])  # same mask, pixel for pixel
    assert ours[3].sum() > 0 and set(np.unique(ours[3])) == {0.0, 1.0}
    np.testing.assert_allclose(ours[1:3], reference[1:3], atol=2e-4)  # ab / 110 (Lab to < 0.03)
    np.testing.assert_allclose(ours[0], reference[0], atol=1e-6)


def test_snapping_matches_the_demo_over_many_colours_and_lightnesses() -> None:
    from autocolor.hints import parse_color, snap_ab

    rng = np.random.default_rng(3)
    colours = rng.integers(0, 256, (60, 3))
    lightness = rng.uniform(2, 98, 60)
    hexes = ["#%02x%02x%02x" % tuple(c) for c in colours]
    ab = torch.tensor([parse_color(h) for h in hexes], dtype=torch.float64)
    ours = snap_ab(torch.from_numpy(lightness), ab).numpy()
    for i in range(60):
        expected = color.rgb2lab(reference_snap(lightness[i], colours[i])[None, None])[0, 0, 1:]
        np.testing.assert_allclose(ours[i], expected, atol=0.02, err_msg=f"{hexes[i]} at L*={lightness[i]:.1f}")


@pytest.mark.parametrize("count, seed, sides", [(1, 0, [6]), (10, 1, [6]), (50, 2, [1, 3, 5, 9])])
def test_simulated_hints_match_the_release(siggraph: Colorizer, count: int, seed: int, sides: list[int]) -> None:
    rng = np.random.default_rng(seed + 100)
    true_ab = rng.uniform(-60, 60, (2, 64, 64))
    maps = sample_ground_truth_hints(torch.from_numpy(true_ab).float(), count, np.random.RandomState(seed), sides)
    hint_b, mask_b = reference_simulated_hints(true_ab, count, seed, sides)
    ours = network_input(siggraph, photo_lightness(64, 64), maps)  # tiny_regression's input is 64 px
    np.testing.assert_array_equal(ours[3:], mask_b)
    np.testing.assert_allclose(ours[1:3], hint_b, atol=1e-6)


def test_hint_type_is_what_the_parser_builds() -> None:
    hint = parse_hint("3,4,#102030", radius=1)
    assert isinstance(hint, Hint) and hint.radius == 1
