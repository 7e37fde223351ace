"""Latent directions for BigGAN (``deformator_for_biggan.pt``): the "ortho" deformator of
Voynov & Babenko, "Unsupervised Discovery of Interpretable Directions in the GAN Latent Space"
(ICML 2020), which GCP uses for controllable diverse colorization.

The file holds one parameter, ``log_mat_half`` ``(119, 119)``; the directions are the columns of
the orthogonal matrix ``expm(A - A^T)``. GCP moves the encoder's latent by
``strength * column[k]``, padded with a zero to the encoder's 120 dimensions (the generator
ignores the 120th value anyway); the official demos sweep ``strength`` over ``[-16, 16]``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LatentDeformator"]


class LatentDeformator(nn.Module):
    """Orthogonal latent deformator: ``shift(k, s) = s * expm(A - A^T)[:, k]``."""

    def __init__(self, dim: int = 119) -> None:
        super().__init__()
        self.dim = dim
        self.log_mat_half = nn.Parameter(0.001 * torch.randn(dim, dim))

    def directions(self) -> torch.Tensor:
        """``(dim, dim)`` orthogonal matrix whose column ``k`` is direction ``k`` (fp32)."""
        a = self.log_mat_half.float()
        with torch.autocast(device_type=a.device.type, enabled=False):
            return torch.linalg.matrix_exp(a - a.t())

    def forward(self, coefficients: torch.Tensor) -> torch.Tensor:
        """``(N, dim)`` coefficients per direction (one-hot * strength in GCP) -> ``(N, dim)`` shift."""
        return coefficients.float() @ self.directions().t()

    def shift(self, direction: int, strength: float, latent_dim: int) -> torch.Tensor:
        """The latent shift ``(latent_dim,)`` moving ``strength`` along ``direction`` (zero-padded).

        Raises:
            ValueError: ``direction`` is not in ``[0, dim)``.
        """
        if not 0 <= direction < self.dim:
            raise ValueError(f"latent direction must be in [0, {self.dim}), got {direction}")
        column = self.directions()[:, direction] * float(strength)
        out = column.new_zeros(max(latent_dim, self.dim))
        out[: self.dim] = column
        return out[:latent_dim]
