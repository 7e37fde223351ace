"""Colourfulness (Hasler & Suesstrunk), both forms, on images computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autocolor.metrics.colorfulness import colorfulness, colorfulness_both


def test_gray_image_scores_zero_in_both_forms() -> None:
    gray = np.repeat(np.random.default_rng(0).integers(0, 256, size=(12, 9, 1), dtype=np.uint8), 3, axis=2)
    assert colorfulness_both(gray) == {"paper": 0.0, "abs": 0.0}


def test_red_and_blue_halves_by_hand() -> None:
    img = np.zeros((4, 6, 3), dtype=np.uint8)
    img[:2, :, 0] = 255  # red: rg = 255, yb = 127.5
    img[2:, :, 2] = 255  # blue: rg = 0, yb = -255
    # Paper form: rg mean 127.5 std 127.5; yb mean -63.75 std 191.25.
    paper = math.hypot(127.5, 191.25) + 0.3 * math.hypot(127.5, 63.75)
    # Absolute form: |rg| mean 127.5 std 127.5; |yb| mean 191.25 std 63.75.
    absolute = math.hypot(127.5, 63.75) + 0.3 * math.hypot(127.5, 191.25)
    assert colorfulness(img, "paper") == pytest.approx(paper, abs=1e-9)
    assert colorfulness(img, "abs") == pytest.approx(absolute, abs=1e-9)


def test_float_image_equals_its_uint8_version() -> None:
    img = np.random.default_rng(1).integers(0, 256, size=(10, 10, 3), dtype=np.uint8)
    assert colorfulness(img / 255.0) == colorfulness(img)


def test_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variant"):
        colorfulness(np.zeros((2, 2, 3), dtype=np.uint8), "hsv")
