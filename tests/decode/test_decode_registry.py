"""The decoder registry: dispatch on ``output_kind``, method checks, the CIC decoders."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
import torch
from torch import nn

from autocolor import decode
from autocolor.decode import DecodeOptions, check_method, decoding_methods, predict_ab, register_decoder
from autocolor.errors import UsageError
from autocolor.models import create_model

# Three bins: pixel distributions below put 0.6 on bin 0 and 0.4 on bin 1.
GRID = torch.tensor([[10.0, -20.0], [-30.0, 40.0], [80.0, 80.0]])
P_FIRST, P_SECOND = 0.6, 0.4


class TwoBinNet(nn.Module):
    """Stub 'ab_bins' network: every pixel is 60 % bin 0 and 40 % bin 1 of its own grid."""

    output_kind: ClassVar[str] = "ab_bins"

    def __init__(self) -> None:
        super().__init__()
        self.ab_grid = GRID
        self.seen: list[tuple[int, ...]] = []

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(lightness.shape))
        n, _, h, w = lightness.shape
        logits = torch.full((n, 3, h, w), -1e4)
        logits[:, 0] = math.log(P_FIRST)
        logits[:, 1] = math.log(P_SECOND)
        return logits


class AbNet(nn.Module):
    output_kind: ClassVar[str] = "ab"

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return torch.cat((lightness - 50, 50 - lightness), dim=1)


def _lightness(n: int = 1, h: int = 4, w: int = 5) -> torch.Tensor:
    return torch.linspace(0, 100, n * h * w).view(n, 1, h, w)


def test_mode_mean_and_annealed_mean_of_a_known_distribution() -> None:
    net = TwoBinNet()
    light = _lightness(2)
    mode = predict_ab(net, light, DecodeOptions(method="mode"))
    assert mode.shape == (2, 2, 4, 5)
    assert torch.allclose(mode, GRID[0].view(1, 2, 1, 1).expand_as(mode))

    mean = predict_ab(net, light, DecodeOptions(method="mean"))
    expected_mean = P_FIRST * GRID[0] + P_SECOND * GRID[1]
    assert torch.allclose(mean[0, :, 0, 0], expected_mean, atol=1e-3)

    t = 0.38
    w0, w1 = P_FIRST ** (1 / t), P_SECOND ** (1 / t)
    expected_annealed = (w0 * GRID[0] + w1 * GRID[1]) / (w0 + w1)
    annealed = predict_ab(net, light, DecodeOptions(method="annealed_mean", temperature=t))
    assert torch.allclose(annealed[1, :, 3, 4], expected_annealed, atol=1e-3)
    # Annealing moves the estimate from the mean towards the mode.
    assert (annealed[0, :, 0, 0] - GRID[0]).norm() < (mean[0, :, 0, 0] - GRID[0]).norm()
    assert net.seen == [(2, 1, 4, 5)] * 3


def test_sampling_is_seeded_and_draws_bin_centres() -> None:
    net = TwoBinNet()
    light = _lightness(1, 40, 50)

    def draw(seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return predict_ab(net, light, DecodeOptions(method="sample", temperature=1.0, generator=generator))

    first, again, other = draw(1), draw(1), draw(2)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    pixels = first[0].reshape(2, -1).T
    is_first = (pixels - GRID[0]).norm(dim=1) < 1e-4
    is_second = (pixels - GRID[1]).norm(dim=1) < 1e-4
    assert bool((is_first | is_second).all())  # never bin 2 (probability ~0)
    assert abs(is_first.float().mean().item() - P_FIRST) < 0.06  # 2000 pixels


def test_ab_kind_returns_the_network_output() -> None:
    light = _lightness()
    ab = predict_ab(AbNet(), light, DecodeOptions(method="ab"))
    assert torch.equal(ab, torch.cat((light - 50, 50 - light), dim=1))


def test_methods_are_checked_per_kind() -> None:
    assert decoding_methods("ab_bins") == ("annealed_mean", "mean", "mode", "sample")
    assert decoding_methods("ab") == ("ab",)
    with pytest.raises(UsageError, match="'mode' does not apply.*choose from: ab"):
        predict_ab(AbNet(), _lightness(), DecodeOptions(method="mode"))
    with pytest.raises(UsageError, match="choose from: annealed_mean, mean, mode, sample"):
        check_method("ab_bins", "median")


def test_unknown_kind_and_missing_kind_are_bugs() -> None:
    class Plain(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    class Strange(Plain):
        output_kind: ClassVar[str] = "no_such_kind"

    with pytest.raises(TypeError, match="output_kind"):
        predict_ab(Plain(), _lightness(), DecodeOptions())
    with pytest.raises(ValueError, match="no decoder registered for output kind 'no_such_kind'"):
        predict_ab(Strange(), _lightness(), DecodeOptions())


def test_registering_a_new_kind_dispatches_by_kind_not_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "_DECODERS", dict(decode._DECODERS))
    calls: list[DecodeOptions] = []

    @register_decoder("test_kind", methods=("fancy",))
    def fancy(net: nn.Module, lightness: torch.Tensor, options: DecodeOptions) -> torch.Tensor:
        calls.append(options)
        return lightness.new_full((lightness.shape[0], 2, 2, 2), options.extra["class_id"])

    class NewFamily(nn.Module):
        output_kind: ClassVar[str] = "test_kind"

    options = DecodeOptions(method="fancy", extra={"class_id": 7})
    ab = predict_ab(NewFamily(), _lightness(3), options)
    assert ab.shape == (3, 2, 2, 2) and bool((ab == 7).all())
    assert calls == [options]
    assert "test_kind" in decode.decoder_kinds()
    with pytest.raises(ValueError, match="registered twice"):
        register_decoder("test_kind")(fancy)


def test_real_tiny_cic_network_decodes_at_quarter_resolution() -> None:
    torch.manual_seed(0)
    net = create_model("cic.tiny")
    with torch.inference_mode():
        ab = predict_ab(net, _lightness(1, 64, 64), DecodeOptions(method="annealed_mean", temperature=0.38))
    assert ab.shape == (1, 2, 16, 16)
    assert ab.dtype == torch.float32
    assert bool(torch.isfinite(ab).all())
    assert float(ab.abs().max()) <= 128.0  # inside the span of the CIC grid


def test_flip_average_is_the_mean_of_the_photo_and_its_mirror_in_one_pass() -> None:
    class ColumnNet(AbNet):
        """Not mirror-symmetric: ab depends on the column index."""

        calls = 0

        def forward(self, lightness: torch.Tensor) -> torch.Tensor:
            ColumnNet.calls += 1
            cols = torch.arange(lightness.shape[-1], dtype=lightness.dtype).expand_as(lightness)
            return torch.cat((lightness + cols, lightness * 0 + 2 * cols), dim=1)

    light = _lightness(n=2)
    net = ColumnNet()
    plain = predict_ab(net, light, DecodeOptions(method="ab"))
    averaged = predict_ab(net, light, DecodeOptions(method="ab", extra={decode.FLIP_AVERAGE: True}))
    mirrored = predict_ab(net, light.flip(-1), DecodeOptions(method="ab")).flip(-1)
    assert torch.allclose(averaged, (plain + mirrored) / 2)
    assert not torch.allclose(averaged, plain)
    assert ColumnNet.calls == 3  # the averaged call was one batched pass


def test_flip_average_mirrors_the_hints_too() -> None:
    net = create_model("cic.base_tiny", pretrained=False).eval()
    light = _lightness(h=32, w=32)
    hints, mask = torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 32, 32)
    hints[:, :, 4:8, 2:6] = torch.tensor([60.0, -40.0]).view(1, 2, 1, 1)
    mask[:, :, 4:8, 2:6] = 1
    with torch.no_grad():
        for p in net.parameters():  # the tiny net's hint inputs start at zero: make them count
            p.add_(0.05 * torch.randn_like(p))
        options = DecodeOptions(hints=(hints, mask), extra={decode.FLIP_AVERAGE: True})
        averaged = predict_ab(net, light, options)
        own = net(light, hints, mask)
        mirror = net(light.flip(-1), hints.flip(-1), mask.flip(-1)).flip(-1)
    grid = decode._bin_grid(net, light.device)
    from autocolor.decode.bins import annealed_mean

    assert torch.allclose(averaged, annealed_mean((own + mirror) / 2, grid, 0.38), atol=1e-4)
