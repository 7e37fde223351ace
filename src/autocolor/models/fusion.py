"""Inference-time folding of BatchNorm into the preceding convolution.

For a network in eval mode, ``BN(conv(x))`` is an affine map of ``conv(x)`` and can be
folded into the convolution's weight and bias: the same outputs (to float rounding) at
about half the CPU cost for small networks such as ``cic.lite``, whose BatchNorm layers
otherwise take as long as their convolutions.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fuse_conv_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every ``Conv2d`` directly followed by ``BatchNorm2d`` inside an ``nn.Sequential``.

    The model must be in eval mode (running statistics are used); it is modified in place
    and returned. Training a fused model is not meaningful.
    """
    if model.training:
        raise ValueError("fuse_conv_batchnorm needs a model in eval mode")
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                module._modules[first] = fuse_conv_bn_eval(conv, norm)
                module._modules[second] = nn.Identity()
    return model
