"""The bundled weights: verified from the package, offline, and colourising for real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autocolor import weights
from autocolor.imagefile import read_photo
from autocolor.pipeline import DEFAULT_MODEL, Colorizer

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "camera.png"


def _bundled_models() -> list[str]:
    return sorted(n for n, s in weights.manifest().items() if any(src.kind == "bundled" for src in s.sources))


def test_default_model_is_bundled() -> None:
    assert DEFAULT_MODEL in _bundled_models()


@pytest.mark.parametrize("name", _bundled_models())
def test_bundled_weights_verify_and_load_offline(name: str) -> None:
    assert weights.verify(name).ok
    state = weights.load_state_dict(name, offline=True)
    assert state and all(np.isfinite(v.float().numpy()).all() for v in state.values())


def test_default_model_paints_the_example_sky_blue_and_keeps_lightness() -> None:
    photo = read_photo(EXAMPLE)  # CC0 photo: open sky above, grass below
    ab = Colorizer(DEFAULT_MODEL, "cpu", offline=True).predict_ab(photo.lightness)
    height = ab.shape[1]
    sky_b = float(ab[1, : height // 6].mean())
    assert sky_b < -5.0, f"sky b* = {sky_b:.1f}, expected blue (negative)"
    chroma = np.hypot(ab[0], ab[1])
    assert float(chroma.mean()) > 5.0  # not a gray output
