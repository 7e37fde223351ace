"""The "gcp" decoder: class handling, automatic choice, seeded diversity, directions, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autocolor.decode import DecodeOptions, decoding_methods, predict_ab
from autocolor.decode.gcp import SHIFT_RANGE, latent_shift
from autocolor.errors import UsageError
from autocolor.models import create_model
from autocolor.models.gcp import TINY, GCPColorizer
from autocolor.models.gcp.choose import choose_classes
from autocolor.pipeline import Colorizer


@pytest.fixture(scope="module")
def net() -> GCPColorizer:
    torch.manual_seed(0)
    return create_model("gcp.tiny")


@pytest.fixture(scope="module")
def lightness() -> torch.Tensor:
    return torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(3)) * 100


def _decode(net: GCPColorizer, lightness: torch.Tensor, method: str = "gcp", seed: int | None = None,
            **extra: object) -> torch.Tensor:  # fmt: skip
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.inference_mode():
        return predict_ab(net, lightness, DecodeOptions(method=method, generator=generator, extra=dict(extra)))


def test_methods() -> None:
    assert decoding_methods("gcp") == ("gcp", "sample", "mode")


def test_explicit_class_equals_the_network_forward(net: GCPColorizer, lightness: torch.Tensor) -> None:
    ab = _decode(net, lightness, class_id=4)
    assert ab.shape == (1, 2, 64, 64) and ab.dtype == torch.float32
    torch.testing.assert_close(ab, net(lightness, torch.tensor([4])))
    torch.testing.assert_close(_decode(net, lightness, "mode", class_id="4"), ab)  # "mode" = deterministic
    assert not torch.allclose(_decode(net, lightness, class_id=5), ab)


def test_class_names_are_resolved(net: GCPColorizer, lightness: torch.Tensor) -> None:
    with pytest.raises(UsageError, match="out of range"):
        _decode(net, lightness, class_id="golden retriever")  # id 207: the tiny net has 10 classes
    with pytest.raises(UsageError, match="no ImageNet class"):
        _decode(net, lightness, class_id="no such thing")
    with pytest.raises(UsageError, match="2 classes for 1 images"):
        _decode(net, lightness, class_id=[1, 2])


def test_automatic_class_is_the_chosen_one_and_reported(net: GCPColorizer, lightness: torch.Tensor) -> None:
    report: dict[str, object] = {}
    ab = _decode(net, lightness, chosen=report, class_candidates=2)
    choice = choose_classes(net, lightness, 2)
    assert report == {"class_ids": choice.class_ids.tolist(), "candidates": choice.candidates.tolist()}
    torch.testing.assert_close(ab, net(lightness, choice.class_ids))


def test_sample_is_reproducible_per_seed_and_diverse(net: GCPColorizer, lightness: torch.Tensor) -> None:
    a = _decode(net, lightness, "sample", seed=1, class_id=3)
    torch.testing.assert_close(_decode(net, lightness, "sample", seed=1, class_id=3), a)
    b = _decode(net, lightness, "sample", seed=2, class_id=3)
    base = _decode(net, lightness, class_id=3)
    assert (a - b).abs().mean() > 1e-3 and (a - base).abs().mean() > 1e-3


def test_sample_noise_is_z_plus_standard_normal(net: GCPColorizer) -> None:
    options = DecodeOptions(method="sample", generator=torch.Generator().manual_seed(7))
    shift = latent_shift(net, 2, options, torch.device("cpu"))
    expected = torch.randn(2, net.latent_dim, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(shift, expected)
    truncated = DecodeOptions(method="sample", generator=torch.Generator().manual_seed(7), extra={"truncation": 0.5})
    assert latent_shift(net, 64, truncated, torch.device("cpu")).abs().max() <= 0.5
    assert latent_shift(net, 1, DecodeOptions(method="gcp"), torch.device("cpu")) is None


def test_direction_moves_along_the_deformator(net: GCPColorizer, lightness: torch.Tensor) -> None:
    device = torch.device("cpu")
    shift = latent_shift(net, 1, DecodeOptions(method="gcp", extra={"direction": 2, "strength": 8.0}), device)
    torch.testing.assert_close(shift[0], net.deformator.shift(2, 8.0, net.latent_dim))
    moved = _decode(net, lightness, direction=2, strength=8.0, class_id=1)
    torch.testing.assert_close(moved, net(lightness, torch.tensor([1]), z_shift=shift))
    # Sampling along a direction without a strength draws it from the seed, within the official range.
    sampled = latent_shift(net, 3, DecodeOptions(method="sample", generator=torch.Generator().manual_seed(1),
                                                 extra={"direction": 2}), device)  # fmt: skip
    unit = net.deformator.shift(2, 1.0, net.latent_dim)
    strengths = sampled @ unit / unit.dot(unit)
    torch.testing.assert_close(sampled, strengths[:, None] * unit[None])  # pure direction, no noise
    assert strengths.abs().max() <= SHIFT_RANGE and len(set(strengths.tolist())) == 3


def test_bad_options_are_usage_errors(net: GCPColorizer, lightness: torch.Tensor) -> None:
    with pytest.raises(UsageError, match="strength"):
        _decode(net, lightness, direction=1, class_id=0)  # deterministic walk needs a strength
    with pytest.raises(UsageError, match="needs --direction"):
        _decode(net, lightness, strength=3.0, class_id=0)
    with pytest.raises(UsageError, match="direction must be in"):
        _decode(net, lightness, direction=net.deformator.dim, strength=1.0, class_id=0)
    with pytest.raises(UsageError, match="unknown GCP option"):
        _decode(net, lightness, classs=1)
    with pytest.raises(UsageError, match="truncation"):
        _decode(net, lightness, "sample", seed=0, truncation=0, class_id=0)
    with pytest.raises(UsageError, match="decoding 'annealed_mean' does not apply"):
        predict_ab(net, lightness, DecodeOptions(method="annealed_mean"))


def test_pipeline_keeps_full_resolution_and_seeds(net: GCPColorizer) -> None:
    rng = np.random.default_rng(0)
    photo_l = (rng.random((45, 70)) * 100).astype(np.float32)
    colorizer = Colorizer(net, "cpu", size=TINY.resolution, decoding="sample", seed=5, extra={"class_id": 2})
    ab = colorizer.predict_ab(photo_l)
    assert ab.shape == (2, 45, 70) and np.isfinite(ab).all()
    np.testing.assert_allclose(colorizer.predict_ab(photo_l), ab)
    rgb = colorizer.colorize_lightness(photo_l)
    assert rgb.shape == (45, 70, 3)
