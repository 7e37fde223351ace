"""BigGAN projection discriminator (``biggan_D_256.pth`` layout), used by GCP as a feature
extractor and, here, to rank ImageNet classes for an image.

For resolution 256 and ``ch = 96``: seven :class:`DBlock` s in ``blocks.<i>.0``,
3->96->192->384->768->768->1536->1536, the first six halve the size (128, 64, 32, 16, 8, 4 px),
self-attention in ``blocks.1.1`` (64 px); ``linear`` SNLinear(1536, 1) and ``embed``
SNEmbedding(1000, 1536), the projection term of the class-conditional logit
``D(x, c) = linear(h) + <embed(c), h>`` with ``h`` the spatially summed ReLU of the last block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.models.gcp.layers import Attention, DBlock, SNEmbedding, SNLinear

__all__ = ["Discriminator", "discriminator_arch"]

# Official BigGAN-PyTorch D tables: width multipliers after the RGB input, per input resolution.
_D_ARCH: dict[int, tuple[int, ...]] = {
    256: (1, 2, 4, 8, 8, 16, 16),
    128: (1, 2, 4, 8, 16, 16),
    64: (1, 2, 4, 8, 16),
}


def discriminator_arch(resolution: int, ch: int, in_channels: int = 3) -> tuple[list[int], list[int], list[int]]:
    """``(in_channels, out_channels, output resolutions)`` of the blocks (also E's, with 1 input channel)."""
    if resolution not in _D_ARCH:
        raise ValueError(f"BigGAN discriminator resolution must be one of {sorted(_D_ARCH)}, got {resolution}")
    outs = [ch * m for m in _D_ARCH[resolution]]
    ins = [in_channels, *outs[:-1]]
    sizes = [resolution // 2 ** (i + 1) for i in range(len(outs) - 1)] + [resolution // 2 ** (len(outs) - 1)]
    return ins, outs, sizes


class Discriminator(nn.Module):
    """BigGAN D with two read-outs: GCP's shallow features and the class projection scores.

    Inputs are images ``(N, 3, H, W)`` (or ``(N, 1, H, W)``, repeated to 3 channels) in
    ``[-1, 1]``; any ``H``, ``W`` divisible by ``2 ** 6`` (by 8 for :meth:`features` alone).
    """

    def __init__(self, resolution: int = 256, ch: int = 96, n_classes: int = 1000, attention: int = 64) -> None:
        super().__init__()
        ins, outs, sizes = discriminator_arch(resolution, ch)
        blocks = []
        for index, (c_in, c_out, size) in enumerate(zip(ins, outs, sizes)):
            block: list[nn.Module] = [
                DBlock(c_in, c_out, preactivation=index > 0, downsample=index < len(outs) - 1)
            ]
            if size == attention:
                block.append(Attention(c_out))
            blocks.append(nn.ModuleList(block))
        self.blocks = nn.ModuleList(blocks)
        self.linear = SNLinear(outs[-1], 1)
        self.embed = SNEmbedding(n_classes, outs[-1])
        self.feature_channels = outs[1] + outs[2]

    @staticmethod
    def _rgb(x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """GCP's correspondence features: outputs of blocks 1 and 2 (``max_inference_depth=3``),
        the second upsampled x2 (nearest) and concatenated: ``(N, 6 * ch, H/4, W/4)``
        (576 channels at 64x64 for the official net at 256 px)."""
        h = self._rgb(x)
        taken = []
        for index, blocklist in enumerate(self.blocks[:3]):
            for block in blocklist:
                h = block(h)
            if index > 0:
                taken.append(h)
        return torch.cat((taken[0], F.interpolate(taken[1], scale_factor=2, mode="nearest")), dim=1)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``sum_{h,w} relu(last block)``: ``(N, 16 * ch)``, the vector both logit terms read."""
        h = self._rgb(x)
        for blocklist in self.blocks:
            for block in blocklist:
                h = block(h)
        return F.relu(h).sum(dim=(2, 3))

    def class_scores(self, x: torch.Tensor) -> torch.Tensor:
        """``<embed(c), h>`` for every class ``c``: ``(N, n_classes)``.

        The class-independent term ``linear(h)`` is left out: it shifts all classes equally, so
        ``argmax_c D(x, c)`` is the argmax of these scores.
        """
        return self.pooled(x) @ self.embed.normalized_weight().t()

    def forward(self, x: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
        """Full projection logit ``D(x, c)``: ``(N, 1)``."""
        h = self.pooled(x)
        return self.linear(h) + (self.embed(class_ids) * h).sum(dim=1, keepdim=True)
