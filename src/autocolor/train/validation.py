"""Validation during training: the objective on held-out images (no augmentation)."""

from __future__ import annotations

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
    """Mean validation loss over ``val_set`` (whole images resized to the validation size).

    Returns:
        ``{"val_loss": ...}`` in the objective's units (nats per pixel for CIC).
    """
    model.eval()
    total, count = 0.0, 0
    for lightness, ab in DataLoader(val_set, batch_size=batch_size):
        lightness, ab = lightness.to(device), ab.to(device)
        loss, _ = objective(model, lightness, ab)  # type: ignore[operator]
        total += float(loss) * lightness.shape[0]
        count += lightness.shape[0]
    return {"val_loss": total / max(count, 1)}
