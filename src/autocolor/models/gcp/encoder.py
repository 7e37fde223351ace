"""GCP's GAN encoder E (``biggan_E.pth`` layout): a gray image and a class -> BigGAN latent z.

Same block plan as the discriminator at the same resolution, but with plain convolutions and
class-conditional batch norm (bias-free plain linear ``gain``/``bias`` of a 128-d class
embedding ``shared``), 2x2 average pooling *before* each block's first conv, and a linear read-out
of the spatially averaged ReLU features. For 256 px and ``ch = 64``: ``blocks.<i>.0`` widths
1->64->128->256->512->512->1024->1024, self-attention ``blocks.1.1`` (64 px), ``linear``
Linear(1024, 120), ``shared`` Embedding(1000, 128).
"""

from __future__ import annotations

import torch
from torch import nn

from autocolor.models.gcp.discriminator import discriminator_arch
from autocolor.models.gcp.layers import Attention, GBlock

__all__ = ["Encoder"]


class Encoder(nn.Module):
    """``E(x, shared(class)) -> z``: ``(N, 1, R, R)`` gray in ``[-1, 1]`` (``L / 50 - 1``) to ``(N, dim_z)``."""

    def __init__(self, resolution: int = 256, ch: int = 64, dim_z: int = 120, shared_dim: int = 128,
                 n_classes: int = 1000, attention: int = 64) -> None:  # fmt: skip
        super().__init__()
        ins, outs, sizes = discriminator_arch(resolution, ch, in_channels=1)
        self.resolution = resolution
        self.shared = nn.Embedding(n_classes, shared_dim)
        blocks = []
        for index, (c_in, c_out, size) in enumerate(zip(ins, outs, sizes)):
            resample = "down" if index < len(outs) - 1 else None
            block: list[nn.Module] = [GBlock(c_in, c_out, shared_dim, spectral=False, resample=resample)]
            if size == attention:
                block.append(Attention(c_out, spectral=False))
            blocks.append(nn.ModuleList(block))
        self.blocks = nn.ModuleList(blocks)
        self.linear = nn.Linear(outs[-1], dim_z)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, 1, R, R)`` normalised gray, ``y`` ``(N, shared_dim)`` = ``self.shared(ids)``."""
        h = x
        for blocklist in self.blocks:
            for block in blocklist:
                h = block(h, y)
        return self.linear(torch.relu(h).mean(dim=(2, 3)))
