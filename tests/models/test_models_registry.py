"""Model registry: names, hiding of tiny variants, errors, and a smoke test of every model."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from autocolor.errors import UnknownModelError
from autocolor.models import create_model, list_models, model_info, register_model
from autocolor.models import registry

# Channels that each output kind must have (docs/architecture.md); other kinds: batch dim only.
KIND_CHANNELS = {"ab_bins": 313, "ab": 2}
SMALL_SIDE = 32  # full-size networks are smoke-tested on small inputs only, to stay in seconds


def test_names_are_family_dot_variant_and_sorted() -> None:
    names = list_models(include_tiny=True)
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", name), name
        info = model_info(name)
        assert info.name == name
        assert info.input_size > 0 and info.temperature > 0
        assert info.description


def test_list_models_hides_tiny_variants_unless_asked() -> None:
    public = list_models()
    everything = list_models(include_tiny=True)
    assert {"cic.eccv16", "cic.siggraph17"} <= set(public)
    assert "cic.tiny" in everything and "cic.tiny" not in public
    assert set(public) == {n for n in everything if not model_info(n).tiny}


def test_cic_metadata() -> None:
    eccv = model_info("cic.eccv16")
    assert (eccv.output_kind, eccv.input_size, eccv.decoding) == ("ab_bins", 256, "annealed_mean")
    assert eccv.temperature == pytest.approx(0.38)
    sig = model_info("cic.siggraph17")
    assert (sig.output_kind, sig.input_size, sig.decoding) == ("ab", 256, "ab")
    assert sig.temperature == 1.0


def test_unknown_name_error_lists_the_known_names() -> None:
    with pytest.raises(UnknownModelError) as excinfo:
        create_model("cic.nope")
    message = str(excinfo.value)
    assert "cic.nope" in message and "cic.eccv16" in message and "cic.siggraph17" in message
    assert excinfo.value.exit_code == 2


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A copy of the registry that the test may extend; the real one is restored afterwards."""
    list_models()  # make sure the families are registered before copying
    copy = dict(registry._REGISTRY)
    monkeypatch.setattr(registry, "_REGISTRY", copy)
    return copy


class _Doubler(nn.Module):
    """Returns twice its input, as two channels."""

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return torch.cat([lightness, lightness], dim=1) * 2


def test_registering_a_name_twice_is_an_error(scratch_registry: dict) -> None:
    with pytest.raises(ValueError, match="cic.eccv16"):
        register_model("cic.eccv16", output_kind="ab", input_size=8, decoding="ab")(_Doubler)
    assert scratch_registry["cic.eccv16"].factory is not _Doubler


def test_registered_factory_is_built_in_eval_mode_with_its_info(scratch_registry: dict) -> None:
    register_model("test.doubler", output_kind="ab", input_size=8, decoding="ab", tiny=True)(
        _Doubler
    )
    assert "test.doubler" in list_models(include_tiny=True)
    assert "test.doubler" not in list_models()
    model = create_model("test.doubler")
    assert isinstance(model, _Doubler) and not model.training
    assert model.model_info.description == "Returns twice its input, as two channels."
    assert torch.equal(model(torch.ones(1, 1, 2, 2)), torch.full((1, 2, 2, 2), 2.0))


def _outputs(result: object) -> list[torch.Tensor]:
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, dict):
        result = list(result.values())
    return [t for t in result if isinstance(t, torch.Tensor)]  # type: ignore[union-attr]


def _example_inputs(model: nn.Module, kind: str, lightness: torch.Tensor) -> tuple:
    """What ``forward`` takes besides L*: the network's own ``example_inputs`` hook if it has one,
    else by output kind (teacher-forced mixtures also take ab at their chroma resolution)."""
    hook = getattr(model, "example_inputs", None)
    if hook is not None:
        return tuple(hook(lightness))
    if kind == "ab_mixture":
        d = int(getattr(model, "downsample", 1))
        n, _, h, w = lightness.shape
        return lightness, torch.zeros(n, 2, h // d, w // d)
    return (lightness,)


def _side(model: nn.Module, tiny: bool, input_size: int) -> int:
    if tiny:
        return input_size
    multiple = max(int(getattr(model, "size_multiple", 1)), int(getattr(model, "downsample", 1)))
    return max(multiple, -(-SMALL_SIDE // multiple) * multiple)


@pytest.mark.parametrize("name", list_models(include_tiny=True))
def test_every_model_runs_forward_and_backward(name: str) -> None:
    """Random weights, batch of 2 in training mode (BatchNorm statistics need > 1 value).

    A family whose forward needs more than L* defines ``example_inputs(lightness) -> tuple``.
    Full-size networks run on 32x32 inputs and only their input layer collects a weight
    gradient (the backward pass still crosses every layer), to keep this test in seconds.
    """
    torch.manual_seed(0)
    info = model_info(name)
    model = create_model(name).train()
    params = [p for p in model.parameters() if p.requires_grad]
    first = params[0]
    if not info.tiny:
        for p in params[1:]:
            p.requires_grad_(False)
    side = _side(model, info.tiny, info.input_size)
    lightness = torch.rand(2, 1, side, side) * 100
    outputs = _outputs(model(*_example_inputs(model, info.output_kind, lightness)))
    assert outputs, f"{name} returned no tensor"
    for out in outputs:
        assert out.shape[0] == 2 and out.dtype == torch.float32
        assert torch.isfinite(out).all()
    if info.output_kind in KIND_CHANNELS:
        assert outputs[0].shape[1] == KIND_CHANNELS[info.output_kind]
    sum(o.sum() for o in outputs).backward()  # type: ignore[union-attr]
    # The gradient must reach the input layer: the whole network is on the backward path.
    assert first.grad is not None and torch.isfinite(first.grad).all()
    assert first.grad.abs().sum() > 0
    if info.tiny:  # and, in the small variants, nearly every parameter is trained
        reached = sum(p.numel() for p in params if p.grad is not None)
        assert reached >= 0.5 * sum(p.numel() for p in params)


def test_family_alias_resolves_in_registry_and_weights() -> None:
    from autocolor import weights
    from autocolor.models.registry import model_info as info_of

    assert info_of("gcp").name == "gcp.imagenet"
    assert weights.spec("gcp").name == "gcp.imagenet"
