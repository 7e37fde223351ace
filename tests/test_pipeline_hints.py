"""Hints through the pipeline and the decoders: they reach hint-aware networks, and only those."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor.decode import DecodeOptions, accepts_hints, predict_ab
from autocolor.errors import UsageError
from autocolor.hints import HintMaps, parse_hint
from autocolor.imagefile import read_photo
from autocolor.models import create_model
from autocolor.pipeline import Colorizer, colorize


def lightness(height: int = 40, width: int = 60) -> np.ndarray:
    ramp = np.linspace(20, 80, width, dtype=np.float32)[None, :].repeat(height, 0)
    return ramp + np.linspace(-10, 10, height, dtype=np.float32)[:, None]


@pytest.fixture(scope="module")
def guided() -> Colorizer:
    return Colorizer("cic.tiny_regression", "cpu", pretrained=False)


def test_siggraph17_declares_hints_and_eccv16_does_not() -> None:
    assert accepts_hints(create_model("cic.tiny_regression"))
    assert accepts_hints(create_model("cic.siggraph17"))
    assert not accepts_hints(create_model("cic.tiny"))


def test_hints_reach_the_network_and_change_the_colours_where_given(guided: Colorizer) -> None:
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    hook = guided.net.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append((args[1], args[2])) if len(args) == 3 else None, with_kwargs=True
    )
    try:
        automatic = guided.predict_ab(lightness())
        hinted = guided.predict_ab(lightness(), [parse_hint("30,20,#1f3a93", radius=2)])
    finally:
        hook.remove()
    assert len(seen) == 1  # automatic colorization calls the network without hints
    hints, mask = seen[0]
    assert hints.shape == (1, 2, 64, 64) and mask.shape == (1, 1, 64, 64) and mask.sum() == 25
    assert hints[0, 1, 32, 32] < -30  # navy: strongly negative b*
    assert not np.allclose(automatic, hinted)


def test_empty_hints_are_automatic_colorization(guided: Colorizer) -> None:
    automatic = guided.predict_ab(lightness())
    np.testing.assert_array_equal(guided.predict_ab(lightness(), []), automatic)
    np.testing.assert_array_equal(guided.predict_ab(lightness(), HintMaps.zeros(64, 64)), automatic)


def test_maps_at_the_network_input_are_passed_as_given(guided: Colorizer) -> None:
    maps = HintMaps.zeros(64, 64)
    maps.ab[:, 10:16, 10:16] = torch.tensor([40.0, 40.0])[:, None, None]
    maps.mask[:, 10:16, 10:16] = 1
    assert not np.allclose(guided.predict_ab(lightness(), maps), guided.predict_ab(lightness()))
    with pytest.raises(ValueError, match="hint maps"):
        guided.predict_ab(lightness(), HintMaps.zeros(32, 32).__class__(torch.ones(2, 32, 32), torch.ones(1, 32, 32)))


def test_a_model_without_hints_refuses_them_in_one_line() -> None:
    automatic_only = Colorizer("cic.tiny", "cpu", pretrained=False)
    assert not automatic_only.accepts_hints
    with pytest.raises(UsageError, match="^model cic.tiny cannot take colour hints$"):
        automatic_only.predict_ab(lightness(), [parse_hint("1,1,#ff0000")])
    automatic_only.predict_ab(lightness(), [])  # no hints: fine


def test_hints_outside_the_photo_are_usage_errors(guided: Colorizer) -> None:
    with pytest.raises(UsageError, match="outside the 60x40 image"):
        guided.predict_ab(lightness(), [parse_hint("60,10,#ff0000")])


def test_decoder_level_checks() -> None:
    net = create_model("cic.tiny").eval()
    small = torch.full((1, 1, 64, 64), 50.0)
    hints = (torch.zeros(1, 2, 64, 64), torch.zeros(1, 1, 64, 64))
    with pytest.raises(UsageError, match="cannot take colour hints"):
        predict_ab(net, small, DecodeOptions(hints=hints))
    guided_net = create_model("cic.tiny_regression").eval()
    with pytest.raises(ValueError, match="hints must be"):
        predict_ab(guided_net, small, DecodeOptions(method="ab", hints=(hints[0][:, :, :32], hints[1])))
    out = predict_ab(guided_net, small, DecodeOptions(method="ab", hints=hints))
    assert out.shape == (1, 2, 64, 64)


def test_colorize_file_with_hints(tmp_path: Path) -> None:
    gray = (lightness() * 2.55).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "in.png")
    photo = read_photo(tmp_path / "in.png")
    hints = [parse_hint("50%,50%,#b22222", radius=4)]
    out = colorize(tmp_path / "in.png", tmp_path / "out.png", model="cic.tiny_regression", device="cpu",
                   pretrained=False, hints=hints)
    assert out is not None and Path(out).exists()
    rgb = Colorizer("cic.tiny_regression", "cpu", pretrained=False).colorize_photo(photo, hints)
    written = np.asarray(Image.open(out), dtype=np.float32) / 255
    assert np.abs(written - rgb).max() < 1.5 / 255


def test_spread_makes_a_hint_hold_where_given_and_off_leaves_the_network_alone() -> None:
    from autocolor.hints import HintSpread

    flat = np.full((64, 64), 50.0, dtype=np.float32)
    hint = [parse_hint("32,32,lab:0,-40", radius=2)]
    spreading = Colorizer("cic.tiny_regression", "cpu", pretrained=False, hint_spread=HintSpread(reach=1.0, floor=0.01))
    plain = Colorizer("cic.tiny_regression", "cpu", pretrained=False, hint_spread=None)
    spread_ab, plain_ab = spreading.predict_ab(flat, hint), plain.predict_ab(flat, hint)
    # A random network ignores most of the hint; spread, the whole flat photo takes it.
    assert abs(spread_ab[1].mean() - (-40)) < 2.0 and abs(spread_ab[0].mean()) < 2.0
    assert abs(plain_ab[1].mean() - (-40)) > 10.0
    # Without hints the two colorizers are the same.
    np.testing.assert_array_equal(spreading.predict_ab(flat), plain.predict_ab(flat))


def test_bin_models_take_hints_as_evidence_on_their_distribution() -> None:
    from autocolor.hints import HintSpread

    flat = np.full((64, 64), 50.0, dtype=np.float32)
    flat[:, 32:] = 90.0  # a bright right half: a strong edge
    hint = [parse_hint("10,32,lab:0,-40", radius=2)]
    with_evidence = Colorizer("cic.base", "cpu", pretrained=False, size=64, hint_spread=HintSpread(reach=0.1, floor=0.05))
    residual_only = Colorizer("cic.base", "cpu", pretrained=False, size=64,
                              hint_spread=HintSpread(reach=0.1, floor=0.05, evidence=0.0))
    a, b = with_evidence.predict_ab(flat, hint), residual_only.predict_ab(flat, hint)
    assert not np.allclose(a, b)
    for ab in (a, b):  # the hint holds where it is given ...
        assert abs(ab[1, 28:36, 6:14].mean() - (-40)) < 6
    # ... and the evidence does not reach across the edge.
    automatic = with_evidence.predict_ab(flat)
    assert np.abs(a[:, :, 48:] - automatic[:, :, 48:]).max() < 3
