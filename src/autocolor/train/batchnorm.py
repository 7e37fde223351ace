"""Re-estimating BatchNorm statistics after training, on photos as inference sees them.

Training feeds small random crops, photometrically jittered and degraded; inference feeds
whole photos resized to the network's input size. The running means and variances a run ends
with describe the first; this module measures them again on the second (the weights are not
touched), which narrows the gap between training and use at the cost of a few forward passes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset


def trainable_batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """BatchNorm layers whose affine parameters train (frozen modules keep their statistics)."""
    return [
        module
        for module in model.modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm)
        and module.track_running_stats
        and all(p.requires_grad for p in module.parameters())
    ]


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module,
    images: Dataset[tuple[torch.Tensor, torch.Tensor]],
    *,
    count: int,
    seed: int,
    device: torch.device,
    batch_size: int = 16,
) -> int:
    """Replace the running statistics of :func:`trainable_batchnorms` by their plain average
    over ``count`` images of ``images`` (a seeded choice; all of them if there are fewer).

    Args:
        model: the network; called as ``model(lightness)``, its mode is restored afterwards.
        images: items ``(lightness (1, S, S) in [0, 100], ab)`` at the inference size.
        count: images to measure on (> 0).
        seed: which images: the same seed, the same images, the same statistics.

    Returns:
        The number of images used.
    """
    if count <= 0:
        raise ValueError(f"count must be > 0, got {count}")
    layers = trainable_batchnorms(model)
    if not layers:
        return 0
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))  # type: ignore[arg-type]
    chosen = Subset(images, order[: min(count, len(order))].tolist())
    saved = [(layer, layer.momentum) for layer in layers]
    was_training = model.training
    model.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # None: cumulative average over every batch seen
        layer.train()
    try:
        for lightness, _ab in DataLoader(chosen, batch_size=batch_size):
            model(lightness.to(device))
    finally:
        for layer, momentum in saved:
            layer.momentum = momentum
        model.train(was_training)
    return len(chosen)
