"""BatchNorm re-estimation after training: plain averages on whole photos, nothing else touched."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import TensorDataset

from autocolor.train.batchnorm import recalibrate_batchnorm, trainable_batchnorms
from autocolor.train.checkpoint import load_checkpoint
from autocolor.train.loop import train
from tests.train.trainhelpers import tiny_config


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 1)
        self.bn = nn.BatchNorm2d(3)
        self.frozen_bn = nn.BatchNorm2d(3)
        for p in self.frozen_bn.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.frozen_bn(self.bn(self.conv(x)))


def _images(n: int = 12) -> TensorDataset:
    torch.manual_seed(0)
    return TensorDataset(torch.rand(n, 1, 8, 8) * 100, torch.zeros(n, 2, 8, 8))


def test_statistics_become_the_plain_average_over_the_chosen_photos() -> None:
    net = Net().train()
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    frozen = {k: v.clone() for k, v in net.frozen_bn.state_dict().items()}
    images = _images()
    used = recalibrate_batchnorm(net, images, count=12, seed=0, device=torch.device("cpu"), batch_size=4)
    assert used == 12
    with torch.no_grad():
        features = net.conv(images.tensors[0])
    assert torch.allclose(net.bn.running_mean, features.mean(dim=(0, 2, 3)), atol=1e-4)
    # Per-batch unbiased variances, averaged: close to the pooled variance for equal batches.
    assert torch.allclose(net.bn.running_var, features.var(dim=(0, 2, 3)), rtol=0.05)
    assert net.training and net.bn.momentum == 0.1  # mode and momentum restored
    for k, v in net.frozen_bn.state_dict().items():
        assert torch.equal(v, frozen[k])  # a frozen layer keeps its statistics
    for k, v in weights.items():
        assert torch.equal(net.state_dict()[k], v)  # no weight moves
    assert trainable_batchnorms(net) == [net.bn]


def test_same_seed_same_statistics_and_a_subset_when_asked() -> None:
    a, b, c = Net(), Net(), Net()
    b.load_state_dict(a.state_dict())
    c.load_state_dict(a.state_dict())
    cpu = torch.device("cpu")
    assert recalibrate_batchnorm(a, _images(), count=5, seed=3, device=cpu) == 5
    recalibrate_batchnorm(b, _images(), count=5, seed=3, device=cpu)
    recalibrate_batchnorm(c, _images(), count=5, seed=4, device=cpu)
    assert torch.equal(a.bn.running_mean, b.bn.running_mean)
    assert not torch.equal(a.bn.running_mean, c.bn.running_mean)


def test_training_run_recalibrates_after_its_last_checkpoint(tmp_path: Path) -> None:
    messages: list[str] = []
    config = tiny_config(tmp_path, tmp_path / "run", **{"train.recalibrate_batchnorm": 8})
    result = train(config, log=messages.append)
    assert any("re-estimated on 8 whole training photos" in m for m in messages)
    lines = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert "val_loss_recalibrated" in lines[-1] and lines[-1]["step"] == 6
    shipped = load_file(str(tmp_path / "run" / "model.safetensors"))
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint is not None
    name = next(k for k in shipped if k.endswith("running_mean"))
    assert torch.equal(shipped[name], result.model.state_dict()[name])
    assert not torch.equal(shipped[name], checkpoint["model"][name])  # the checkpoint keeps training's own
