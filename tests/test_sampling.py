"""Choosing how a model is sampled, GCP class names, and drawing samples (autocolor.sampling)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from autocolor.errors import UsageError
from autocolor.pipeline import DEFAULT_MODEL, Colorizer, resize_lightness
from autocolor.sampling import (
    FALLBACK_METHOD,
    _ReusedOutput,
    default_sample_model,
    draw_samples,
    full_resolution,
    plan_sampling,
    rank_by_likelihood,
    resolve_class,
)


def test_default_model_prefers_a_bundled_sampler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "weights.toml"
    monkeypatch.setenv("AUTOCOLOR_WEIGHTS_TOML", str(manifest))
    entry = (
        '[models."pic.deep128"]\narch = "pic.deep128"\nsources = [{{ {source} }}]\n'
        f'sha256 = "{"0" * 64}"\nformat = "safetensors"\nlicence = "MIT"\n'
    )
    manifest.write_text(entry.format(source='bundled = "pic_deep128.safetensors"'), encoding="utf-8")
    assert default_sample_model() == "pic.deep128"
    manifest.write_text(entry.format(source='url = "https://example.org/pic_deep128.safetensors"'), encoding="utf-8")
    assert default_sample_model() == DEFAULT_MODEL  # downloadable only: not a default
    manifest.write_text("not toml [", encoding="utf-8")
    assert default_sample_model() == DEFAULT_MODEL  # reported later, when weights are loaded


def test_plan_sampling() -> None:
    cic = plan_sampling("cic.tiny")
    assert (cic.decoding, cic.method, cic.temperature, cic.fallback) == ("sample", FALLBACK_METHOD, 0.38, True)
    pic = plan_sampling("pic.tiny", temperature=0.7)
    assert (pic.decoding, pic.method, pic.temperature, pic.fallback) == ("sample", "sample", 0.7, False)
    mode = plan_sampling("cic.tiny", temperature=0)
    assert (mode.decoding, mode.temperature) == ("mode", None)
    with pytest.raises(UsageError, match="cannot draw samples"):
        plan_sampling("cic.tiny_regression")


def test_plan_sampling_mixture_temperature() -> None:
    # PIC plans always name it (1 = the official sampler unless the model has its own default).
    assert plan_sampling("pic.tiny").extra == {"mixture_temperature": 1.0}
    assert plan_sampling("pic.deep128").extra == {"mixture_temperature": 0.9}  # the model's default
    assert plan_sampling("pic.deep128", mixture_temperature=0.5).extra == {"mixture_temperature": 0.5}
    assert "mixture_temperature" not in plan_sampling("cic.tiny").extra
    with pytest.raises(UsageError, match="--mixture-temperature applies only to PIC models, not to cic.tiny"):
        plan_sampling("cic.tiny", mixture_temperature=0.5)
    with pytest.raises(UsageError, match="must be > 0"):
        plan_sampling("pic.tiny", mixture_temperature=0.0)


def test_mixture_temperature_reaches_the_sampler() -> None:
    """draw_samples passes the plan's mixture temperature to the decoder: tau changes the draw,
    and the same tau and seed draw the same sample again."""
    colorizer = Colorizer("pic.tiny", "cpu", pretrained=False)
    lightness = np.linspace(0, 100, 32 * 32, dtype=np.float32).reshape(32, 32)
    official, sharp, sharp_again = (
        next(iter(draw_samples(colorizer, plan_sampling("pic.tiny", mixture_temperature=tau), lightness, [3])))
        for tau in (1.0, 0.3, 0.3)
    )
    assert np.array_equal(sharp.rgb, sharp_again.rgb)
    assert not np.array_equal(official.rgb, sharp.rgb)


def test_resolve_class(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "autocolor.models.gcp.classes"
    assert resolve_class("207") == 207
    monkeypatch.setitem(sys.modules, name, SimpleNamespace(CLASS_NAMES=["tench, Tinca tinca", "goldfish"]))
    assert resolve_class("Goldfish") == 1 and resolve_class("tinca tinca") == 0
    with pytest.raises(UsageError, match="unknown class name"):
        resolve_class("unicorn")

    def class_id(text: str) -> int:
        return {"golden retriever": 207}[text]

    monkeypatch.setitem(sys.modules, name, SimpleNamespace(class_id=class_id))
    assert resolve_class("golden retriever") == 207
    with pytest.raises(UsageError, match="unknown class name"):
        resolve_class("unicorn")
    monkeypatch.setitem(sys.modules, name, None)  # the module cannot be imported
    with pytest.raises(UsageError, match="give the class number"):
        resolve_class("goldfish")


def test_fallback_runs_the_network_once_for_all_samples() -> None:
    colorizer = Colorizer("cic.tiny", "cpu", pretrained=False)
    calls = []
    colorizer.net.register_forward_hook(lambda *_: calls.append(1))
    lightness = np.linspace(0, 100, 40 * 60, dtype=np.float32).reshape(40, 60)
    drawn = list(draw_samples(colorizer, plan_sampling("cic.tiny"), lightness, [0, 1, 2, 3]))
    assert len(calls) == 1 and [d.seed for d in drawn] == [0, 1, 2, 3]
    assert all(d.rgb.shape == (40, 60, 3) and d.bits_per_dim is None for d in drawn)  # no likelihood
    assert not np.array_equal(drawn[0].rgb, drawn[1].rgb)
    # The stand-in is transparent for decoders (attributes) and recomputes on a new input.
    reused = _ReusedOutput(colorizer.net)
    assert reused.output_kind == "ab_bins"
    x = torch.zeros((1, 1, 64, 64))
    with torch.inference_mode():
        reused(x)
        reused(x.clone())  # equal input: reused
        reused(x + 50)

    assert len(calls) == 3


def test_gcp_options_reach_the_decoder_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    # No GCP network is needed to plan: a registry entry of kind "gcp" stands in for one.
    import autocolor.sampling as sampling

    info = SimpleNamespace(output_kind="gcp", decoding="gcp_sample", temperature=1.0, decode_extra={})
    monkeypatch.setattr(sampling, "model_info", lambda name: info)
    monkeypatch.setattr(sampling, "decoding_methods", lambda kind: None)  # the decoder checks itself
    monkeypatch.setitem(sys.modules, "autocolor.models.gcp.classes", SimpleNamespace(CLASS_NAMES=["a", "goldfish"]))
    plan = plan_sampling("gcp.fake", class_ref="goldfish", direction=3, strength=0.5)
    assert (plan.decoding, plan.method, plan.fallback) == ("gcp_sample", "sample", False)
    assert plan.extra == {"class_id": 1, "direction": 3, "strength": 0.5}
    assert plan_sampling("gcp.fake", class_ref="207").extra == {"class_id": 207}
    with pytest.raises(UsageError, match="temperature 0"):
        plan_sampling("gcp.fake", temperature=0)


def test_pic_samples_carry_their_own_bits_per_dim() -> None:
    """The score is -log2 p(drawn chroma | L) per dimension, as the mixture itself gives it."""
    from autocolor.decode.autoregressive import sample_cached
    from autocolor.decode.logistic_mixture import log_prob
    from autocolor.models.pic import normalize_ab

    colorizer = Colorizer("pic.tiny", "cpu", pretrained=False)
    lightness = np.linspace(0, 100, 48 * 40, dtype=np.float32).reshape(48, 40)
    plan = plan_sampling("pic.tiny", temperature=1.0)
    first, second = draw_samples(colorizer, plan, lightness, [4, 5])
    assert first.bits_per_dim is not None and second.bits_per_dim is not None
    assert first.bits_per_dim != second.bits_per_dim and first.bits_per_dim > 0
    # The same draw by hand: sample at the network input, score the levels teacher-forced.
    net = colorizer.net
    with torch.inference_mode():
        small = resize_lightness(torch.from_numpy(lightness)[None, None], colorizer.size)
        ab = sample_cached(net, small, temperature=1.0, generator=torch.Generator().manual_seed(4))
        levels = normalize_ab(ab)
        lp = log_prob(net(small, ab), levels, net.chroma_lightness(small))
    expected = -lp.sum().item() / (lp.numel() * 2 * math.log(2))
    assert first.bits_per_dim == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("count", "batch"), [(2, 16), (5, 16), (5, 2)])
def test_samples_drawn_together_are_each_seeds_lone_sample(count: int, batch: int) -> None:
    """n samples of one photo go through the sampler as batches of up to ``batch``; each
    colorization and its bits/dim are bit-identical to the seed's sample drawn on its own."""
    colorizer = Colorizer("pic.tiny", "cpu", pretrained=False)
    torch.manual_seed(0)  # pretrained=False: random weights; any will do, the same for all draws
    lightness = np.linspace(0, 100, 36 * 44, dtype=np.float32).reshape(36, 44)
    plan = plan_sampling("pic.tiny", temperature=0.8, mixture_temperature=0.8)
    seeds = [7 + 3 * i for i in range(count)]
    calls: list[int] = []
    colorizer.net.embedding.register_forward_hook(lambda *_: calls.append(1))
    together = list(draw_samples(colorizer, plan, lightness, seeds, batch=batch))
    batches = -(-count // batch)
    assert len(calls) == batches + batches  # one embedding per batch to draw, one to score
    assert [d.seed for d in together] == seeds
    for drawn in together:
        (alone,) = draw_samples(colorizer, plan, lightness, [drawn.seed])
        assert np.array_equal(drawn.rgb, alone.rgb) and drawn.bits_per_dim == alone.bits_per_dim
    assert not np.array_equal(together[0].rgb, together[1].rgb)


def test_rank_by_likelihood_draws_each_candidate_once() -> None:
    colorizer = Colorizer("pic.tiny", "cpu", pretrained=False)
    lightness = np.linspace(0, 100, 32 * 32, dtype=np.float32).reshape(32, 32)[::-1].copy()
    plan = plan_sampling("pic.tiny", temperature=1.0)
    ranked = rank_by_likelihood(colorizer, plan, lightness, [0, 1, 2, 3, 4, 5], batch=4)
    assert sorted(d.seed for d in ranked) == [0, 1, 2, 3, 4, 5]
    scores = [d.bits_per_dim for d in ranked]
    assert scores == sorted(scores) and len(set(scores)) == 6
    best = ranked[0]
    (alone,) = draw_samples(colorizer, plan, lightness, [best.seed])
    kept = full_resolution(colorizer, lightness, best)
    assert np.array_equal(kept.rgb, alone.rgb) and kept.bits_per_dim == alone.bits_per_dim
    with pytest.raises(UsageError, match="no likelihood"):
        rank_by_likelihood(Colorizer("cic.tiny", "cpu", pretrained=False), plan_sampling("cic.tiny"), lightness, [0])
