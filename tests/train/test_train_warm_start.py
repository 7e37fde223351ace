from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from autocolor.errors import UsageError, WeightsError
from autocolor.models.registry import create_model
from autocolor.train.config import load_config
from autocolor.train.loop import train
from autocolor.train.warm_start import freeze, set_train_mode, warm_start
from tests.train.trainhelpers import tiny_config

REPO = Path(__file__).resolve().parents[2]


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    lightness = torch.rand(2, 1, 32, 32, generator=generator) * 100
    ab = (torch.rand(2, 2, 8, 8, generator=generator) - 0.5) * 80
    return lightness, ab


def test_grown_pixelcnn_starts_as_the_network_it_grew_from(tmp_path: Path) -> None:
    torch.manual_seed(0)
    shallow = create_model("pic.tiny").eval()
    path = _save(shallow.state_dict(), tmp_path / "shallow.safetensors")
    deep = create_model("pic.tiny", blocks=4).eval()
    fresh = warm_start(deep, path, strict=False)
    assert fresh == [f"pixelcnn.shortrange_down{s}_{k}" for k in (2, 3) for s in ("", "_right")]
    lightness, ab = _inputs()
    with torch.no_grad():
        assert torch.equal(deep(lightness, ab), shallow(lightness, ab))
    # The new blocks are identities only at the start: the last one's gate gets gradients at
    # once (the u blocks' only reach the output through it, so theirs follow a step later).
    deep(lightness, ab).square().mean().backward()
    assert deep.pixelcnn.shortrange_down_right_3.conv2.weight_g.grad.abs().sum() > 0


def test_strict_init_and_files_that_do_not_fit_are_errors(tmp_path: Path) -> None:
    shallow = create_model("pic.tiny").state_dict()
    path = _save(shallow, tmp_path / "shallow.safetensors")
    with pytest.raises(WeightsError, match="missing"):
        warm_start(create_model("pic.tiny", blocks=3), path)
    with pytest.raises(WeightsError, match="does not have"):
        warm_start(create_model("pic.tiny", blocks=1), path, strict=False)
    with pytest.raises(WeightsError, match="has shape"):
        warm_start(create_model("pic.tiny", channels=8), path, strict=False)
    half = {k: v for k, v in shallow.items() if k != "pixelcnn.shortrange_down_1.conv2.bias"}
    with pytest.raises(WeightsError, match="part of a layer.*shortrange_down_1.conv2.bias"):
        warm_start(create_model("pic.tiny"), _save(half, tmp_path / "half.safetensors"), strict=False)


def test_freeze_stops_gradients_and_keeps_frozen_modules_in_eval_mode() -> None:
    net = create_model("pic.tiny", dropout=0.5)
    frozen = freeze(net, ["embedding"])
    assert not any(p.requires_grad for p in net.embedding.parameters())
    assert all(p.requires_grad for p in net.pixelcnn.parameters())
    set_train_mode(net, frozen)
    assert net.pixelcnn.training and not net.embedding.training
    assert not any(m.training for m in net.embedding.modules())
    with pytest.raises(UsageError, match="no module 'embeding'.*embedding, pixelcnn"):
        freeze(net, ["embeding"])
    with pytest.raises(UsageError, match="nothing left to train"):
        freeze(create_model("pic.tiny"), ["embedding", "pixelcnn"])


def test_training_a_grown_network_with_a_frozen_part(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = create_model("pic.tiny").state_dict()
    # A file without the second pair of blocks: the run grows them from identities.
    lacking = {k: v for k, v in source.items() if "_1." not in k or not k.startswith("pixelcnn.shortrange")}
    path = _save(lacking, tmp_path / "lacking.safetensors")
    logs: list[str] = []
    config = tiny_config(
        tmp_path,
        tmp_path / "run",
        steps=3,
        **{
            "model.name": '"pic.tiny"',
            "model.init": f'"{path}"',
            "model.init_strict": "false",
            "model.freeze": '["embedding"]',
        },
    )
    result = train(config, log=logs.append)
    trained = result.model.state_dict()
    assert any("lacks 2 modules" in line and "shortrange_down_right_1" in line for line in logs)
    for key, value in lacking.items():
        if key.startswith("embedding."):
            assert torch.equal(trained[key], value), key
    assert not torch.equal(trained["pixelcnn.conv_last.weight_v"], lacking["pixelcnn.conv_last.weight_v"])
    assert trained["pixelcnn.shortrange_down_1.conv2.weight_g"].abs().sum() > 0  # left zero, then trained


def test_shipped_grown_recipe_parses() -> None:
    config = load_config(REPO / "configs" / "pic_deep128.toml")
    assert config.model.freeze == ["embedding"] and config.model.init_strict is False
    assert (REPO / config.model.init).is_file()
