"""cic.base: grows from cic.lite exactly, takes SIGGRAPH17-style hints, and checks its inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from autocolor.models.cic_base import CicBase, HintInput
from autocolor.models.registry import create_model
from autocolor.train.warm_start import warm_start


def _grown(tmp_path: Path) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    lite = create_model("cic.lite_tiny")
    for module in lite.modules():  # non-trivial BatchNorm statistics, as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "lite.safetensors"
    save_file({k: v.contiguous() for k, v in lite.state_dict().items()}, str(path))
    base = create_model("cic.base_tiny")
    fresh = warm_start(base, path, strict=False)
    assert fresh == ["hint_in", "quarter", "deep", "mix8", "hint_skip", "refine_extra"]
    return lite.eval(), base.eval()


def test_grown_from_cic_lite_computes_what_cic_lite_computes(tmp_path: Path) -> None:
    lite, base = _grown(tmp_path)
    lightness = torch.rand(2, 1, 32, 48) * 100
    with torch.no_grad():
        expected = lite(lightness)
        assert expected.shape == (2, 313, 8, 12)
        assert torch.allclose(base(lightness), expected, atol=1e-5)
        # Untrained hint inputs are zero: hints have no effect yet.
        hints = torch.full((2, 2, 32, 48), 40.0)
        assert torch.allclose(base(lightness, hints, torch.ones(2, 1, 32, 48)), expected, atol=1e-5)


def test_new_modules_get_gradients_at_step_zero(tmp_path: Path) -> None:
    _, base = _grown(tmp_path)
    base.train()
    lightness = torch.rand(2, 1, 32, 32) * 100
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 4:8, 4:8] = 1
    base(lightness, torch.full((2, 2, 32, 32), 30.0) * mask, mask).logsumexp(1).mean().backward()
    for name in ("hint_in.conv.weight", "hint_skip.conv.weight", "deep.out.1.1.weight", "refine_extra.0.body.4.1.weight"):
        assert base.get_parameter(name).grad.abs().sum() > 0, name


def test_hints_change_the_output_once_trained() -> None:
    torch.manual_seed(1)
    base = create_model("cic.base_tiny").eval()
    for hint in (base.hint_in, base.hint_skip):
        torch.nn.init.normal_(hint.conv.weight, std=0.5)
    lightness = torch.rand(1, 1, 32, 32) * 100
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 10:13, 10:13] = 1
    with torch.no_grad():
        plain = base(lightness)
        hinted = base(lightness, torch.tensor([60.0, -40.0]).view(1, 2, 1, 1) * mask, mask)
        # An all-zero mask with zero hints is "no hints" (the hint convs' biases are zero).
        torch.nn.init.zeros_(base.hint_in.conv.bias)
        torch.nn.init.zeros_(base.hint_skip.conv.bias)
        empty = base(lightness, torch.zeros(1, 2, 32, 32), torch.zeros(1, 1, 32, 32))
    assert (hinted - plain).abs().max() > 1e-3
    assert torch.allclose(empty, plain, atol=1e-5)


def test_pooled_hint_keeps_the_colour_of_a_single_pixel() -> None:
    hint = HintInput(4, pool=4)
    seen: list[torch.Tensor] = []
    hint.conv.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0]))
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 5, 2] = 1
    hint(torch.tensor([44.0, -22.0]).view(1, 2, 1, 1) * mask, mask)
    pooled = seen[0]  # (1, 3, 2, 2): ab / 110 averaged over hinted pixels, then covered area
    assert torch.allclose(pooled[0, :2, 1, 0], torch.tensor([0.4, -0.2]))
    assert pooled[0, 2, 1, 0] == pytest.approx(1 / 16)
    assert pooled[0, :, 0].abs().sum() == 0 and pooled[0, :, 1, 1].abs().sum() == 0


def test_input_checks_and_hint_flag() -> None:
    base = create_model("cic.base_tiny")
    assert CicBase.accepts_hints is True and not getattr(create_model("cic.lite_tiny"), "accepts_hints", False)
    with pytest.raises(ValueError, match="multiples of 16"):
        base(torch.zeros(1, 1, 24, 32))
    with pytest.raises(ValueError, match="together"):
        base(torch.zeros(1, 1, 32, 32), hints=torch.zeros(1, 2, 32, 32))
