"""BigGAN generator (class-conditional, hierarchical z, shared class embedding, self-attention)
in the BigGAN-PyTorch / DGP layout of ``biggan_G_ema_256.pth``, returning intermediate features.

For resolution 256 and ``ch = 96`` (the official file): ``shared`` Embedding(1000, 128);
``linear`` SNLinear(17, 16*96*4*4); six up-sampling :class:`GBlock` s in ``blocks.<i>.0`` with
widths 1536->1536->768->768->384->192->96 at 8, 16, 32, 64, 128, 256 px, self-attention in
``blocks.3.1`` (64 px); ``output_layer`` = BN(96), ReLU, SNConv2d(96, 3). The 120-d latent is
split into 7 chunks of 17 (the 120th value is dropped, as in the original): the first feeds
``linear``, each block's conditional BN sees ``[shared(class), chunk]`` (145-d).

Smaller resolutions use the official architecture tables (``arch[128]``, ``arch[64]``); tiny
test variants use them with a small ``ch``.
"""

from __future__ import annotations

import torch
from torch import nn

from autocolor.models.gcp.layers import BN, Attention, GBlock, SNConv2d, SNLinear

__all__ = ["Generator", "generator_arch", "feature_resolutions"]

# Width multipliers of the official BigGAN-PyTorch G tables, per output resolution.
_G_ARCH: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {
    256: ((16, 16, 8, 8, 4, 2), (16, 8, 8, 4, 2, 1)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
    64: ((16, 16, 8, 4), (16, 8, 4, 2)),
}
BOTTOM_WIDTH = 4


def generator_arch(resolution: int, ch: int) -> tuple[list[int], list[int], list[int]]:
    """``(in_channels, out_channels, output resolutions)`` of G's blocks for ``resolution``."""
    if resolution not in _G_ARCH:
        raise ValueError(f"BigGAN generator resolution must be one of {sorted(_G_ARCH)}, got {resolution}")
    ins, outs = _G_ARCH[resolution]
    sizes = [BOTTOM_WIDTH * 2 ** (i + 1) for i in range(len(outs))]
    return [ch * m for m in ins], [ch * m for m in outs], sizes


def feature_resolutions(resolution: int) -> tuple[int, int, int]:
    """Resolutions of the features GCP takes from G: a quarter, half and the full output size."""
    return resolution // 4, resolution // 2, resolution


class Generator(nn.Module):
    """BigGAN G: ``(z, shared(class)) -> (RGB in [-1, 1], {resolution: feature})``.

    Args:
        resolution: output side (256 for the official weights).
        ch: width multiplier (96).
        dim_z: latent size the encoder produces (120); ``num_slots * (dim_z // num_slots)`` of it
            is used (119 for the official net).
        shared_dim: class embedding size (128).
        n_classes: number of classes (1000).
        attention: resolution of the self-attention block (64).
    """

    def __init__(self, resolution: int = 256, ch: int = 96, dim_z: int = 120, shared_dim: int = 128,
                 n_classes: int = 1000, attention: int = 64) -> None:  # fmt: skip
        super().__init__()
        ins, outs, sizes = generator_arch(resolution, ch)
        self.resolution = resolution
        self.num_slots = len(ins) + 1
        self.z_chunk_size = dim_z // self.num_slots
        self.dim_z = self.z_chunk_size * self.num_slots  # the part of z that is used
        cond_dim = shared_dim + self.z_chunk_size
        self.shared = nn.Embedding(n_classes, shared_dim)
        self.linear = SNLinear(self.z_chunk_size, ins[0] * BOTTOM_WIDTH**2)
        blocks = []
        for c_in, c_out, size in zip(ins, outs, sizes):
            block: list[nn.Module] = [GBlock(c_in, c_out, cond_dim, spectral=True, resample="up")]
            if size == attention:
                block.append(Attention(c_out))
            blocks.append(nn.ModuleList(block))
        self.blocks = nn.ModuleList(blocks)
        self.block_sizes = sizes
        self.output_layer = nn.Sequential(BN(outs[-1]), nn.ReLU(), SNConv2d(outs[-1], 3))
        self.feature_channels = tuple(outs[sizes.index(r)] for r in feature_resolutions(resolution))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Generate an image and its features.

        Args:
            z: ``(N, >= dim_z)`` latent (values past ``dim_z`` are ignored).
            y: ``(N, shared_dim)`` class embedding, i.e. ``self.shared(class_ids)`` (taken as an
                input so callers can interpolate between classes).

        Returns:
            ``(N, 3, R, R)`` RGB in ``[-1, 1]`` and the block outputs at ``R/4``, ``R/2`` and
            ``R`` pixels keyed by resolution (after the attention block where there is one).
        """
        chunks = torch.split(z[:, : self.dim_z], self.z_chunk_size, dim=1)
        conds = [torch.cat((y, chunk), dim=1) for chunk in chunks[1:]]
        h = self.linear(chunks[0]).reshape(z.shape[0], -1, BOTTOM_WIDTH, BOTTOM_WIDTH)
        wanted = feature_resolutions(self.resolution)
        features: dict[int, torch.Tensor] = {}
        for index, blocklist in enumerate(self.blocks):
            for block in blocklist:
                h = block(h, conds[index])
            if h.shape[-1] in wanted:
                features[h.shape[-1]] = h
        return torch.tanh(self.output_layer(h)), features
