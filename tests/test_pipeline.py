"""The pipeline: resize -> network -> decoder -> full-res ab, L* preserved, seeds, errors."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from autocolor import pipeline
from autocolor.color import keeplab
from autocolor.color.lab import rgb_to_lab
from autocolor.errors import OutputError, UnknownModelError, UsageError
from autocolor.imagefile import read_photo
from autocolor.pipeline import Colorizer, colorize, lightness_ab_to_rgb, load_model


def lightness_of(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1))[0].numpy()


def textured_lightness(height: int = 45, width: int = 70, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(5, 95, width, dtype=np.float32)[None, :].repeat(height, 0)
    return np.clip(ramp + rng.normal(0, 8, (height, width)), 0, 100).astype(np.float32)


@pytest.fixture(scope="module")
def tiny() -> Colorizer:
    return Colorizer("cic.tiny", "cpu", pretrained=False)


def test_predict_ab_is_full_resolution_and_runs_the_net_at_its_size(tiny: Colorizer) -> None:
    seen: list[tuple[int, ...]] = []
    hook = tiny.net.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    try:
        ab = tiny.predict_ab(textured_lightness(45, 70))
    finally:
        hook.remove()
    assert seen == [(1, 1, 64, 64)]  # square input of the model's size, aspect ignored
    assert ab.shape == (2, 45, 70) and ab.dtype == np.float32
    assert np.isfinite(ab).all() and np.abs(ab).max() < 128


def test_size_option_changes_the_network_input() -> None:
    colorizer = Colorizer("cic.tiny", "cpu", size=32, pretrained=False)
    seen: list[tuple[int, ...]] = []
    colorizer.net.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    colorizer.predict_ab(textured_lightness(100, 30))
    assert seen == [(1, 1, 32, 32)]


def test_colorized_rgb_keeps_the_input_lightness(tiny: Colorizer) -> None:
    lightness = textured_lightness(37, 91, seed=3)
    rgb = tiny.colorize_lightness(lightness)
    assert rgb.shape == (37, 91, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    assert np.abs(lightness_of(rgb) - lightness).max() < 0.01


def test_out_of_gamut_colours_lose_chroma_not_lightness() -> None:
    lightness = np.tile(np.linspace(0, 100, 101, dtype=np.float32), (3, 1))
    # Far outside sRGB at every lightness: plain RGB clipping would change L* by tens of units.
    ab = np.stack([np.full_like(lightness, 90.0), np.full_like(lightness, -100.0)])
    rgb = lightness_ab_to_rgb(lightness, ab)
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)).numpy()
    assert np.abs(lab[0] - lightness).max() < 0.01
    hue_in = np.arctan2(-100.0, 90.0)
    middle = (lightness > 20) & (lightness < 80)
    assert np.abs(np.arctan2(lab[2], lab[1])[middle] - hue_in).max() < 0.05  # hue kept
    assert np.hypot(lab[1], lab[2])[middle].min() > 10  # still coloured where the gamut allows


def test_chunked_conversion_equals_one_shot(monkeypatch: pytest.MonkeyPatch) -> None:
    lightness = textured_lightness(23, 17)
    rng = np.random.default_rng(1)
    ab = rng.uniform(-60, 60, (2, 23, 17)).astype(np.float32)
    whole = lightness_ab_to_rgb(lightness, ab)
    monkeypatch.setattr(keeplab, "_CHUNK_PIXELS", 40)  # two rows per chunk
    assert np.allclose(lightness_ab_to_rgb(lightness, ab), whole, atol=1e-6)


def test_same_seed_same_colours_whatever_the_batch_order() -> None:
    lightness = textured_lightness()
    other = textured_lightness(seed=9)
    sampler = Colorizer("cic.tiny", "cpu", decoding="sample", seed=11, pretrained=False)
    first = sampler.predict_ab(lightness)
    sampler.predict_ab(other)  # a different photo in between changes nothing
    assert np.array_equal(sampler.predict_ab(lightness), first)
    again = Colorizer("cic.tiny", "cpu", decoding="sample", seed=11, pretrained=False)
    assert np.array_equal(again.predict_ab(lightness), first)
    different = Colorizer("cic.tiny", "cpu", decoding="sample", seed=12, pretrained=False)
    assert not np.array_equal(different.predict_ab(lightness), first)


def test_decoding_and_temperature_defaults(tiny: Colorizer) -> None:
    assert (tiny.decoding, tiny.temperature, tiny.size) == ("annealed_mean", 0.38, 64)
    assert Colorizer("cic.tiny", "cpu", decoding="mean", pretrained=False).temperature == 1.0
    regression = Colorizer("cic.tiny_regression", "cpu", pretrained=False)
    assert regression.decoding == "ab"
    assert regression.predict_ab(textured_lightness(20, 30)).shape == (2, 20, 30)
    lightness = textured_lightness()
    sharp = Colorizer("cic.tiny", "cpu", temperature=0.05, pretrained=False).predict_ab(lightness)
    flat = Colorizer("cic.tiny", "cpu", temperature=5.0, pretrained=False).predict_ab(lightness)
    assert not np.allclose(sharp, flat)


def test_model_decoder_defaults_are_merged_under_given_extras() -> None:
    """pic.deep128 registers mixture_temperature 0.9 as its default; a caller's value wins."""
    assert Colorizer("pic.deep128", "cpu", pretrained=False).extra == {"mixture_temperature": 0.9}
    given = Colorizer("pic.deep128", "cpu", pretrained=False, extra={"mixture_temperature": 1.0})
    assert given.extra == {"mixture_temperature": 1.0}
    assert Colorizer("pic.tiny", "cpu", pretrained=False).extra == {}


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"model": "no.such_model"}, UnknownModelError, "unknown model"),
        ({"model": "cic.tiny", "decoding": "ab"}, UsageError, "does not apply"),
        ({"model": "cic.tiny_regression", "decoding": "mode"}, UsageError, "choose from: ab"),
        ({"model": "cic.tiny", "size": 60}, UsageError, "multiple of 8"),
        ({"model": "cic.tiny", "size": 4}, UsageError, "at least 8"),
        ({"model": "cic.tiny", "temperature": 0.0}, UsageError, "temperature"),
        ({"model": "cic.tiny", "upsample": "nearest"}, UsageError, "upsampling"),
    ],
)
def test_bad_options(kwargs: dict[str, object], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        Colorizer(device="cpu", pretrained=False, **kwargs)  # type: ignore[arg-type]


def test_random_weights_are_seeded_and_leave_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = load_model("cic.tiny", "cpu", pretrained=False)
    assert torch.equal(torch.rand(3), expected_next)
    b = load_model("cic.tiny", "cpu", pretrained=False)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), name
    assert not a.training


def test_a_built_network_can_be_passed_in() -> None:
    class Flat(nn.Module):
        output_kind: ClassVar[str] = "ab"

        def forward(self, lightness: torch.Tensor) -> torch.Tensor:
            return torch.full_like(lightness, 20.0).repeat(1, 2, 1, 1)

    with pytest.raises(ValueError, match="explicit size"):
        Colorizer(Flat(), "cpu")
    colorizer = Colorizer(Flat(), "cpu", size=16, upsample="bilinear")
    assert colorizer.decoding == "ab"
    ab = colorizer.predict_ab(textured_lightness(10, 12))
    assert ab.shape == (2, 10, 12) and np.allclose(ab, 20.0, atol=1e-3)


def test_colorize_file_convenience(tmp_path: Path) -> None:
    src = tmp_path / "gray.png"
    gray = (np.linspace(0, 255, 40 * 50).reshape(40, 50)).astype(np.uint8)
    Image.fromarray(gray, mode="L").save(src)
    written = colorize(src, model="cic.tiny", device="cpu", pretrained=False)
    assert written == tmp_path / "gray_color.png"
    out = read_photo(written)
    assert np.abs(out.lightness - read_photo(src).lightness).max() < 0.5
    assert colorize(src, tmp_path / "x.jpg", model="cic.tiny", device="cpu", pretrained=False) == tmp_path / "x.jpg"
    with pytest.raises(OutputError, match="is the input file"):
        colorize(src, src, model="cic.tiny", device="cpu", pretrained=False)


def test_default_model_is_the_bundled_one() -> None:
    from autocolor.models import model_info

    assert pipeline.DEFAULT_MODEL == "cic.lite"
    assert model_info(pipeline.DEFAULT_MODEL).output_kind == "ab_bins"


def test_network_input_size_keeps_aspect_only_when_the_network_asks() -> None:
    from autocolor.pipeline import network_input_size

    class Square(torch.nn.Module):
        pass

    class Aspect(torch.nn.Module):
        preserves_aspect = True

    assert network_input_size(Square(), 300, 600, 256) == (256, 256)
    assert network_input_size(Aspect(), 300, 600, 256) == (128, 256)
    assert network_input_size(Aspect(), 100, 120, 256) == (100, 120)  # never enlarged


def test_larsson_runs_through_the_pipeline_with_aspect_kept() -> None:
    colorizer = Colorizer("larsson.tiny", device="cpu", pretrained=False)
    lightness = np.linspace(0, 100, 48 * 80, dtype=np.float32).reshape(48, 80)
    ab = colorizer.predict_ab(lightness)
    assert ab.shape == (2, 48, 80) and np.isfinite(ab).all()


def test_pic_nll_matches_the_training_objective_and_cic_has_none() -> None:
    from autocolor.train.pic_objective import PicObjective

    colorizer = Colorizer("pic.tiny", device="cpu", pretrained=False)
    assert colorizer.has_likelihood
    rng = np.random.default_rng(0)
    lightness = rng.uniform(20, 80, (32, 32)).astype(np.float32)
    ab = rng.uniform(-40, 40, (2, 32, 32)).astype(np.float32)
    nats, dims = colorizer.nll(lightness, ab)
    assert dims == 2 * 8 * 8  # pic.tiny: 32 px input, 8x8 chroma
    with torch.no_grad():
        _, metrics = PicObjective(embedding_weight=0.0)(
            colorizer.net, torch.from_numpy(lightness)[None, None], torch.from_numpy(ab)[None]
        )
    assert nats / (dims * np.log(2.0)) == pytest.approx(metrics["bpd"], rel=1e-5)
    assert not Colorizer("cic.tiny", device="cpu", pretrained=False).has_likelihood
