"""CIC networks' forward passes: output geometry, input normalisation, and an independent
functional re-statement of the official computations (strides, dilations, paddings, order)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from autocolor.models import create_model


@pytest.mark.parametrize(("size", "logits"), [((32, 32), (8, 8)), ((40, 24), (10, 6))])
def test_eccv16_logits_are_313_bins_at_quarter_resolution(
    size: tuple[int, int], logits: tuple[int, int]
) -> None:
    model = create_model("cic.eccv16")
    with torch.no_grad():
        out = model(torch.rand(1, 1, *size) * 100)
    assert out.shape == (1, 313, *logits)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    # Raw logits, not a distribution: nothing forces them to be non-negative or to sum to 1.
    assert not torch.allclose(out.sum(dim=1), torch.ones(()))


@pytest.mark.parametrize(
    ("size", "logits"), [((256, 256), (64, 64)), ((64, 96), (16, 24)), ((50, 30), (14, 8))]
)
def test_tiny_has_the_eccv16_geometry(size: tuple[int, int], logits: tuple[int, int]) -> None:
    # Same strides as eccv16, so this also checks 256x256 -> 64x64 and the rounding of odd sizes.
    model = create_model("cic.tiny")
    assert model.model_info.tiny and model.model_info.output_kind == "ab_bins"
    with torch.no_grad():
        out = model(torch.rand(2, 1, *size) * 100)
    assert out.shape == (2, 313, *logits)


# An independent functional re-statement of the official forward passes (strides, dilations,
# paddings, layer order), evaluated on the tiny variants, whose widths are the only difference.
def _conv(x: torch.Tensor, sd: dict, key: str, stride: int = 1, dilation: int = 1) -> torch.Tensor:
    w = sd[f"{key}.weight"]
    return F.conv2d(x, w, sd[f"{key}.bias"], stride, dilation * (w.shape[-1] // 2), dilation)


def _up(x: torch.Tensor, sd: dict, key: str) -> torch.Tensor:
    return F.conv_transpose2d(x, sd[f"{key}.weight"], sd[f"{key}.bias"], stride=2, padding=1)


def _block(x: torch.Tensor, sd: dict, name: str, strides: list[int], dilation: int = 1,
           leading_relu: bool = False) -> torch.Tensor:
    first = 1 if leading_relu else 0
    x = F.relu(x) if leading_relu else x
    for i, stride in enumerate(strides):
        x = F.relu(_conv(x, sd, f"{name}.{first + 2 * i}", stride, dilation))
    bn = f"{name}.{first + 2 * len(strides)}"
    return F.batch_norm(x, sd[f"{bn}.running_mean"], sd[f"{bn}.running_var"],
                        sd[f"{bn}.weight"], sd[f"{bn}.bias"], False, 0.0, 1e-5)


def _trunk(x: torch.Tensor, sd: dict, strides: tuple[int, int, int]) -> tuple[torch.Tensor, ...]:
    c1 = _block(x, sd, "model1", [1, strides[0]])
    sub = (lambda t: t[:, :, ::2, ::2]) if strides == (1, 1, 1) else (lambda t: t)
    c2 = _block(sub(c1), sd, "model2", [1, strides[1]])
    c3 = _block(sub(c2), sd, "model3", [1, 1, strides[2]])
    x = _block(sub(c3), sd, "model4", [1, 1, 1])
    x = _block(x, sd, "model5", [1, 1, 1], dilation=2)
    x = _block(x, sd, "model6", [1, 1, 1], dilation=2)
    return c1, c2, c3, _block(x, sd, "model7", [1, 1, 1])


def reference_eccv16(sd: dict, lightness: torch.Tensor) -> torch.Tensor:
    x = _trunk((lightness - 50) / 100, sd, (2, 2, 2))[-1]
    x = F.relu(_conv(F.relu(_conv(F.relu(_up(x, sd, "model8.0")), sd, "model8.2")), sd, "model8.4"))
    return _conv(x, sd, "model8.6")


def reference_siggraph17(sd: dict, lightness: torch.Tensor, hints: torch.Tensor,
                         mask: torch.Tensor) -> torch.Tensor:
    inputs = torch.cat(((lightness - 50) / 100, hints / 110, mask), dim=1)
    c1, c2, c3, x = _trunk(inputs, sd, (1, 1, 1))
    x = _block(_up(x, sd, "model8up.0") + _conv(c3, sd, "model3short8.0"), sd, "model8", [1, 1],
               leading_relu=True)
    x = _block(_up(x, sd, "model9up.0") + _conv(c2, sd, "model2short9.0"), sd, "model9", [1],
               leading_relu=True)
    x = F.relu(_up(x, sd, "model10up.0") + _conv(c1, sd, "model1short10.0"))
    x = F.leaky_relu(_conv(x, sd, "model10.1"), 0.2)
    return torch.tanh(_conv(x, sd, "model_out.0")) * 110


def calibrate_norms(model: torch.nn.Module, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Set BatchNorm statistics from one batch (so the signal survives 20 layers at random
    init) and randomise their affine parameters; returns the eval-mode state_dict."""
    gen = torch.Generator().manual_seed(2)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average: after one batch, exactly its statistics
            norm.weight.copy_(1 + torch.randn(norm.num_features, generator=gen) * 0.2)
            norm.bias.copy_(torch.randn(norm.num_features, generator=gen) * 0.2)
        model.train()(*inputs)
    return model.eval().state_dict()


def test_eccv16_forward_matches_the_official_computation() -> None:
    model = create_model("cic.tiny")
    lightness = torch.rand(2, 1, 48, 40) * 100
    sd = calibrate_norms(model, lightness)
    with torch.no_grad():
        ours = model(lightness)
        assert torch.allclose(ours, reference_eccv16(sd, lightness), atol=1e-4)
        assert (ours - model(lightness.flip(-1))).abs().max() > 0.1  # the input matters


def test_siggraph17_forward_matches_the_official_computation() -> None:
    model = create_model("cic.tiny_regression")
    lightness = torch.rand(2, 1, 32, 48) * 100
    hints = (torch.rand(2, 2, 32, 48) - 0.5) * 100
    mask = (torch.rand(2, 1, 32, 48) > 0.7).float()
    sd = calibrate_norms(model, lightness, hints, mask)
    with torch.no_grad():
        ours = model(lightness, hints, mask)
        assert torch.allclose(ours, reference_siggraph17(sd, lightness, hints, mask), atol=1e-4)


def capture_first_conv_input(model: torch.nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    hook = model.model1[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    with torch.no_grad():
        model(*inputs)
    hook.remove()
    return seen[0]


def test_eccv16_normalises_lightness_itself() -> None:
    lightness = torch.tensor([0.0, 25.0, 50.0, 100.0]).view(1, 1, 2, 2).repeat(1, 1, 4, 4)
    seen = capture_first_conv_input(create_model("cic.tiny"), lightness)
    assert torch.allclose(seen, (lightness - 50) / 100)
    assert seen.min() == -0.5 and seen.max() == 0.5


def test_siggraph17_normalises_lightness_hints_and_mask() -> None:
    model = create_model("cic.tiny_regression")
    lightness = torch.rand(1, 1, 16, 16) * 100
    hints = (torch.rand(1, 2, 16, 16) - 0.5) * 200
    mask = (torch.rand(1, 1, 16, 16) > 0.5).float()
    seen = capture_first_conv_input(model, lightness, hints, mask)
    assert seen.shape == (1, 4, 16, 16)
    assert torch.allclose(seen[:, :1], (lightness - 50) / 100)
    assert torch.allclose(seen[:, 1:3], hints / 110)
    assert torch.equal(seen[:, 3:], mask)
    # Automatic colorization: no hints means zero hints and a zero mask.
    seen = capture_first_conv_input(model, lightness)
    assert torch.count_nonzero(seen[:, 1:]) == 0


def test_siggraph17_returns_full_resolution_ab_within_110() -> None:
    model = create_model("cic.siggraph17")
    assert model.model_info.output_kind == "ab" and model.model_info.decoding == "ab"
    lightness = torch.rand(1, 1, 32, 48) * 100
    with torch.no_grad():
        out = model(lightness)
        zeros = model(lightness, torch.zeros(1, 2, 32, 48), torch.zeros(1, 1, 32, 48))
    assert out.shape == (1, 2, 32, 48)
    assert out.abs().max() <= 110.0
    assert torch.equal(out, zeros)


def test_siggraph17_rejects_sides_not_multiple_of_8() -> None:
    with pytest.raises(ValueError, match="multiples of 8"):
        create_model("cic.tiny_regression")(torch.rand(1, 1, 36, 32) * 100)


def test_siggraph17_tanh_bound_is_reached_at_110() -> None:
    model = create_model("cic.tiny_regression")
    with torch.no_grad():
        model.model_out[0].bias.copy_(torch.tensor([100.0, -100.0]))  # saturate the tanh
        out = model(torch.rand(1, 1, 16, 16) * 100)
    assert torch.allclose(out[:, 0], torch.full((1, 16, 16), 110.0))
    assert torch.allclose(out[:, 1], torch.full((1, 16, 16), -110.0))
