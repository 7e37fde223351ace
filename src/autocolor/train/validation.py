"""Validation during training: the objective on held-out images (no augmentation)."""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn
from torch.utils.data import DataLoader

from autocolor.data.folder import ColorImageFolder


@torch.no_grad()
def validate(
    model: nn.Module,
    objective: object,
    val_set: ColorImageFolder,
    device: torch.device,
    batch_size: int = 8,
) -> dict[str, float]:
    """Image-weighted means of the objective's loss and metrics over ``val_set``.

    Whole images are resized to the validation size. Returns ``val_loss`` (the objective's
    units: nats per pixel for CIC, bits per dimension for PIC) and ``val_<name>`` for every
    metric the objective reports (e.g. PIC's ``val_bpd`` and ``val_bpd_embedding``).
    """
    model.eval()
    totals: dict[str, float] = defaultdict(float)
    count = 0
    for lightness, ab in DataLoader(val_set, batch_size=batch_size):
        lightness, ab = lightness.to(device), ab.to(device)
        loss, metrics = objective(model, lightness, ab)  # type: ignore[operator]
        size = lightness.shape[0]
        totals["val_loss"] += float(loss) * size
        for name, value in metrics.items():
            if name != "loss":
                totals[f"val_{name}"] += float(value) * size
        count += size
    return {name: total / max(count, 1) for name, total in totals.items()}
