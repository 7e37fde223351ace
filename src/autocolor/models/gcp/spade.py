"""GCP's colorization network ``net_gen``: an encoder-decoder modulated by the warped BigGAN
features through SPADE layers whose conditioning is refined by modulated deformable convolutions.

Layout of the official ``net_gen`` (``ngf`` 64, 2 down-samplings, 6 residual blocks):

- ``encoder``: ReflectionPad(3), Conv(1->64, 7) [``encoder.1``], InstanceNorm, ReLU,
  Conv(64->128, 3, stride 2) [``encoder.4``], IN, ReLU, Conv(128->256, 3, stride 2) [``encoder.7``],
  IN, ReLU: the gray input at a quarter resolution.
- ``res_blks.0-5``: :class:`SPADEResnetBlock` (256 channels, conditioned on the quarter-size
  prior, 384 channels).
- ``up_norm1`` SPADE(256 | 384), ``up_conv1`` ConvTranspose(256->128), ``up_norm2``
  SPADE(128 | 192), ``up_conv2`` ConvTranspose(128->64), ``up_norm3`` SPADE(64 | 96), each
  followed by LeakyReLU(0.2); ``head``: Conv(64->2, 3) + tanh, the ab / 110 output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.models.gcp.deform import deform_conv2d

__all__ = ["ColorGenerator", "DCNv2Pack", "SPADE", "SPADEResnetBlock", "positional_norm"]


def positional_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each position over channels (mean 0, unbiased variance 1), in fp32."""
    x32 = x.float()
    mean = x32.mean(dim=1, keepdim=True)
    std = x32.var(dim=1, keepdim=True).add(eps).sqrt()
    return ((x32 - mean) / std).to(x.dtype)


class DCNv2Pack(nn.Module):
    """3x3 modulated deformable conv whose offsets and mask come from a *second* feature map.

    ``conv_offset`` (same width as the input, 27 outputs) maps the conditioning features to
    ``(o1, o2, mask)`` thirds; the offsets are ``cat(o1, o2)`` in torchvision's (dy, dx) per-tap
    order and the mask is ``sigmoid(mask)``. Keys: ``weight``, ``bias``, ``conv_offset.*``.
    """

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.empty(channels, channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.uniform_(self.weight, -1 / (channels * kernel_size**2) ** 0.5, 1 / (channels * kernel_size**2) ** 0.5)
        self.conv_offset = nn.Conv2d(channels, 3 * kernel_size**2, kernel_size, padding=self.padding)
        # Zero offsets and a 0.5 mask at initialisation, as the original DCNv2 packs start.
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        o1, o2, mask = torch.chunk(self.conv_offset(cond), 3, dim=1)
        offset = torch.cat((o1, o2), dim=1)
        return deform_conv2d(x, offset, self.weight, self.bias, padding=self.padding, mask=torch.sigmoid(mask))


class SPADE(nn.Module):
    """``positional_norm(x) * (1 + gamma) + beta`` with ``gamma``, ``beta`` from the prior ``ref``.

    ``conv_cond`` (3x3 convs ``norm_nc + spade_nc -> (norm_nc + spade_nc) // 8 -> spade_nc``, ReLU
    after each) looks at the normalised input next to ``ref``; its output steers the deformable
    conv ``dcn`` that refines ``ref``; 3x3 convs ``mlp_gamma`` and ``mlp_beta`` read the result.
    """

    def __init__(self, norm_nc: int, spade_nc: int) -> None:
        super().__init__()
        hidden = (norm_nc + spade_nc) // 8
        self.conv_cond = nn.Sequential(
            nn.Conv2d(norm_nc + spade_nc, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, spade_nc, 3, padding=1),
            nn.ReLU(),
        )
        self.dcn = DCNv2Pack(spade_nc)
        self.mlp_gamma = nn.Conv2d(spade_nc, norm_nc, 3, padding=1)
        self.mlp_beta = nn.Conv2d(spade_nc, norm_nc, 3, padding=1)

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        normalized = positional_norm(x)
        ref = ref.to(normalized.dtype)
        refined = self.dcn(ref, self.conv_cond(torch.cat((normalized, ref), dim=1)))
        return normalized * (1 + self.mlp_gamma(refined)) + self.mlp_beta(refined)


class SPADEResnetBlock(nn.Module):
    """Residual block ``x + conv_1(act(norm_1(conv_0(act(norm_0(x, ref))), ref)))`` (reflect
    padding, LeakyReLU 0.2); a learned shortcut ``conv_s(norm_s(x))`` only when widths differ."""

    def __init__(self, fin: int, fout: int, spade_nc: int) -> None:
        super().__init__()
        self.learned_shortcut = fin != fout
        middle = min(fin, fout)
        self.conv_0 = nn.Conv2d(fin, middle, 3)
        self.conv_1 = nn.Conv2d(middle, fout, 3)
        if self.learned_shortcut:
            self.conv_s = nn.Conv2d(fin, fout, 1, bias=False)
        self.norm_0 = SPADE(fin, spade_nc)
        self.norm_1 = SPADE(middle, spade_nc)
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, spade_nc)

    @staticmethod
    def _conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        return conv(F.pad(F.leaky_relu(x, 0.2), (1, 1, 1, 1), mode="reflect"))

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, ref)) if self.learned_shortcut else x
        dx = self._conv(self.conv_0, self.norm_0(x, ref))
        dx = self._conv(self.conv_1, self.norm_1(dx, ref))
        return shortcut + dx


class ColorGenerator(nn.Module):
    """``net_gen``: gray ``(N, 1, H, W)`` (``L / 50 - 1``) + warped priors -> ``(N, 2, H, W)`` ab / 110.

    Args:
        prior_channels: widths of the warped BigGAN features at ``H/4``, ``H/2``, ``H``
            (official: 384, 192, 96).
        ngf: base width (64).
        n_res: number of SPADE residual blocks (6).
    """

    def __init__(self, prior_channels: tuple[int, int, int] = (384, 192, 96), ngf: int = 64, n_res: int = 6) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(1, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                nn.InstanceNorm2d(ngf * mult * 2),
                nn.ReLU(True),
            ]
        self.encoder = nn.Sequential(*layers)
        quarter, half, full = prior_channels
        self.res_blks = nn.ModuleList(SPADEResnetBlock(ngf * 4, ngf * 4, quarter) for _ in range(n_res))
        self.up_conv1 = nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, stride=2, padding=1, output_padding=1)
        self.up_conv2 = nn.ConvTranspose2d(ngf * 2, ngf, 3, stride=2, padding=1, output_padding=1)
        self.up_norm1 = SPADE(ngf * 4, quarter)
        self.up_norm2 = SPADE(ngf * 2, half)
        self.up_norm3 = SPADE(ngf, full)
        self.head = nn.Sequential(nn.Conv2d(ngf, 2, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor, priors: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``x`` ``(N, 1, H, W)`` with ``H``, ``W`` divisible by 4; ``priors`` at ``H/4``, ``H/2``, ``H``."""
        quarter, half, full = priors
        h = self.encoder(x)
        for block in self.res_blks:
            h = block(h, quarter)
        h = self.up_conv1(F.leaky_relu(self.up_norm1(h, quarter), 0.2))
        h = self.up_conv2(F.leaky_relu(self.up_norm2(h, half), 0.2))
        return self.head(F.leaky_relu(self.up_norm3(h, full), 0.2))
