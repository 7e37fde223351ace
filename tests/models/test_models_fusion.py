from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from autocolor.models.fusion import fuse_conv_batchnorm
from autocolor.models.registry import create_model


def test_fused_cic_lite_gives_the_same_logits() -> None:
    torch.manual_seed(0)
    model = create_model("cic.lite_tiny")
    model.train()
    with torch.no_grad():  # give BatchNorm non-trivial running statistics
        for _ in range(3):
            model(torch.rand(4, 1, 32, 32) * 100)
    model.eval()
    fused = fuse_conv_batchnorm(copy.deepcopy(model))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    x = torch.rand(2, 1, 32, 48) * 100
    with torch.no_grad():
        assert torch.allclose(model(x), fused(x), atol=1e-4)


def test_refuses_training_mode() -> None:
    with pytest.raises(ValueError, match="eval mode"):
        fuse_conv_batchnorm(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train())
