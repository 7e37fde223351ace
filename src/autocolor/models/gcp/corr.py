"""GCP's correspondence network ``net_corr``: aligns the BigGAN prior with the gray input.

Both the gray input and the BigGAN image go through the discriminator's shallow features
(:meth:`Discriminator.features`, 576 channels at a quarter resolution), a private residual
block each (``private_layer.0`` for the gray image, ``.1`` for the prior), channel-wise L2
normalisation, three coordinate channels (x, y, radius in ``[-1, 1]``) and two shared residual
blocks (``share_layer``). 1x1 projections ``theta`` (query) and ``phi`` (prior) to 128 channels
are centred and L2-normalised per position; their cosine similarities, divided by the
temperature 0.01 and soft-maxed over prior positions, give the correlation matrix that warps
each BigGAN feature map onto the gray image's layout: a prior feature at ``s`` times the
correspondence grid is cut into ``s x s`` patches, one per grid cell, which are mixed by the
correlation weights and folded back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CorrespondenceNet", "ResidualBlock", "warp_features"]

# The official code adds Python's float epsilon to L2 norms.
_NORM_EPS = 2.220446049250313e-16


class ResidualBlock(nn.Module):
    """Reflect-pad 3x3 conv, InstanceNorm, PReLU, reflect-pad 3x3 conv, InstanceNorm, + x, PReLU.

    One PReLU (``prelu.weight`` ``(1,)``) is applied twice, as in the original.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3)
        self.conv2 = nn.Conv2d(channels, channels, 3)
        self.prelu = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.prelu(F.instance_norm(self.conv1(F.pad(x, (1, 1, 1, 1), mode="reflect"))))
        out = F.instance_norm(self.conv2(F.pad(out, (1, 1, 1, 1), mode="reflect")))
        return self.prelu(out + x)


def _l2_normalize(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    return x / (torch.linalg.vector_norm(x, dim=dim, keepdim=True) + _NORM_EPS)


def add_coords(x: torch.Tensor) -> torch.Tensor:
    """Append x, y (each in ``[-1, 1]``) and ``sqrt(x^2 + y^2)`` channels: ``(N, C + 3, H, W)``."""
    n, _, h, w = x.shape
    xs = torch.arange(w, device=x.device, dtype=x.dtype) / max(w - 1, 1) * 2 - 1
    ys = torch.arange(h, device=x.device, dtype=x.dtype) / max(h - 1, 1) * 2 - 1
    xx = xs.reshape(1, 1, 1, w).expand(n, 1, h, w)
    yy = ys.reshape(1, 1, h, 1).expand(n, 1, h, w)
    return torch.cat((x, xx, yy, torch.sqrt(xx**2 + yy**2)), dim=1)


def warp_features(corr: torch.Tensor, feature: torch.Tensor, prior_grid: tuple[int, int],
                  query_grid: tuple[int, int]) -> torch.Tensor:  # fmt: skip
    """Warp ``feature`` ``(N, C, s * hp, s * wp)`` with ``corr`` ``(N, hq * wq, hp * wp)``.

    Returns ``(N, C, s * hq, s * wq)``: every query cell receives the correlation-weighted mix of
    the prior's ``s x s`` patches (``s`` = feature size / prior grid size).
    """
    scale = feature.shape[-1] // prior_grid[1]
    patches = F.unfold(feature, scale, stride=scale)  # (N, C * s * s, hp * wp)
    mixed = torch.matmul(corr, patches.transpose(1, 2).to(corr.dtype))  # (N, hq * wq, C * s * s)
    size = (query_grid[0] * scale, query_grid[1] * scale)
    return F.fold(mixed.transpose(1, 2), size, scale, stride=scale)


class CorrespondenceNet(nn.Module):
    """``net_corr`` of the official checkpoint (``FEAT_NC`` 576, ``NONLOCAL_NC`` 128, ``TEMP`` 0.01).

    Args:
        feat_nc: channels of the discriminator features (``6 * D_ch``).
        nonlocal_nc: width of the ``theta``/``phi`` embedding.
        temperature: softmax temperature of the correlation (lower is sharper).
    """

    def __init__(self, feat_nc: int = 576, nonlocal_nc: int = 128, temperature: float = 0.01) -> None:
        super().__init__()
        self.temperature = temperature
        self.private_layer = nn.ModuleList([ResidualBlock(feat_nc), ResidualBlock(feat_nc)])
        self.share_layer = nn.Sequential(ResidualBlock(feat_nc + 3), ResidualBlock(feat_nc + 3))
        self.phi = nn.Conv2d(feat_nc + 3, nonlocal_nc, 1)
        self.theta = nn.Conv2d(feat_nc + 3, nonlocal_nc, 1)

    def _embed(self, feat: torch.Tensor, private: int) -> torch.Tensor:
        feat = _l2_normalize(self.private_layer[private](feat))
        return self.share_layer(add_coords(feat))

    @staticmethod
    def _unit_columns(x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2).float()  # (N, C, positions); fp32: T = 0.01 turns bf16 rounding into noise
        return _l2_normalize(x - x.mean(dim=1, keepdim=True))

    def correlation(self, query_feat: torch.Tensor, prior_feat: torch.Tensor) -> torch.Tensor:
        """Soft correspondence ``(N, hq * wq, hp * wp)`` (rows sum to 1, fp32) from D features."""
        theta = self._unit_columns(self.theta(self._embed(query_feat, 0)))
        phi = self._unit_columns(self.phi(self._embed(prior_feat, 1)))
        with torch.autocast(device_type=theta.device.type, enabled=False):
            return torch.softmax(torch.matmul(theta.transpose(1, 2), phi) / self.temperature, dim=-1)

    def forward(self, query_feat: torch.Tensor, prior_feat: torch.Tensor,
                prior_features: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:  # fmt: skip
        """Warp the BigGAN features onto the gray image.

        Args:
            query_feat: D features of the gray input ``(N, F, hq, wq)``.
            prior_feat: D features of the BigGAN image ``(N, F, hp, wp)``.
            prior_features: BigGAN features at 1, 2 and 4 times ``(hp, wp)``.

        Returns:
            The warped features at 1, 2 and 4 times ``(hq, wq)``, fp32.
        """
        corr = self.correlation(query_feat, prior_feat)
        prior_grid, query_grid = tuple(prior_feat.shape[-2:]), tuple(query_feat.shape[-2:])
        with torch.autocast(device_type=corr.device.type, enabled=False):
            return tuple(warp_features(corr, f.float(), prior_grid, query_grid) for f in prior_features)  # type: ignore[arg-type]
