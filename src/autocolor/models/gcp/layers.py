"""BigGAN building blocks in the BigGAN-PyTorch layout that GCP's (and DGP's) checkpoints use.

Spectral normalisation is BigGAN-PyTorch's own, not ``torch.nn.utils.spectral_norm``: every
SN layer keeps the raw ``weight`` plus two buffers, ``u0`` ``(1, out)`` (the left singular
vector estimate) and ``sv0`` ``(1,)`` (the last singular value, for logging only). Each forward
runs one power iteration from ``u0`` and divides the weight by the resulting singular value; the
buffers are updated only in training mode. Batch norms store ``stored_mean`` / ``stored_var``
(not ``running_*``); class-conditional ones (:class:`CCBN`) add ``gain`` and ``bias`` linear
maps of the conditioning vector, so their scale is ``1 + gain(y)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BN", "CCBN", "Attention", "DBlock", "GBlock", "SNConv2d", "SNEmbedding", "SNLinear"]


class _SpectralNorm:
    """Mixin: one step of the power method per call, as BigGAN-PyTorch's ``SN`` (one vector)."""

    weight: torch.Tensor
    training: bool
    sn_eps: float
    transpose: bool = False

    def _init_sn(self, num_outputs: int, eps: float) -> None:
        self.sn_eps = eps
        self.register_buffer("u0", torch.randn(1, num_outputs))  # type: ignore[attr-defined]
        self.register_buffer("sv0", torch.ones(1))  # type: ignore[attr-defined]

    def normalized_weight(self) -> torch.Tensor:
        """``weight / sigma`` where ``sigma`` is the power-iteration estimate of its top singular value."""
        matrix = self.weight.reshape(self.weight.shape[0], -1)
        if self.transpose:
            matrix = matrix.t()
        u: torch.Tensor = self.u0  # type: ignore[attr-defined]
        with torch.no_grad():
            v = F.normalize(torch.matmul(u.to(matrix.dtype), matrix), eps=self.sn_eps)
            u_new = F.normalize(torch.matmul(v, matrix.t()), eps=self.sn_eps)
            if self.training:
                u.copy_(u_new)
        # sigma keeps its gradient w.r.t. the weight (v and u are constants), as in the original.
        sigma = torch.matmul(torch.matmul(v, matrix.t()), u_new.t()).squeeze()
        if self.training:
            with torch.no_grad():
                self.sv0.copy_(sigma.detach().reshape(1))  # type: ignore[attr-defined]
        return self.weight / sigma


class SNConv2d(nn.Conv2d, _SpectralNorm):
    """Conv2d with BigGAN-PyTorch spectral normalisation (buffers ``u0`` ``(1, out)``, ``sv0``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1,
                 bias: bool = True, eps: float = 1e-12) -> None:  # fmt: skip
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        self._init_sn(out_channels, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.normalized_weight(), self.bias, self.stride, self.padding)


class SNLinear(nn.Linear, _SpectralNorm):
    """Linear layer with BigGAN-PyTorch spectral normalisation."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, eps: float = 1e-12) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias=bias)
        self._init_sn(out_features, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)


class SNEmbedding(nn.Embedding, _SpectralNorm):
    """Embedding with spectral normalisation over the ``(num_embeddings, dim)`` matrix (D's ``embed``)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, eps: float = 1e-12) -> None:
        nn.Embedding.__init__(self, num_embeddings, embedding_dim)
        self._init_sn(num_embeddings, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.embedding(x, self.normalized_weight())


def _conv(spectral: bool, c_in: int, c_out: int, kernel_size: int = 3, bias: bool = True) -> nn.Conv2d:
    if spectral:
        return SNConv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=bias)
    return nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=bias)


class Attention(nn.Module):
    """SA-GAN self-attention: ``x + gamma * o(g @ softmax(theta^T phi))`` with 2x2 max-pooled keys.

    Keys: ``theta``, ``phi`` (C -> C/8), ``g`` (C -> C/2), ``o`` (C/2 -> C), all 1x1 without bias,
    and the scalar ``gamma``. Input and output ``(N, C, H, W)`` with even ``H``, ``W``.
    """

    def __init__(self, channels: int, spectral: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.theta = _conv(spectral, channels, channels // 8, 1, bias=False)
        self.phi = _conv(spectral, channels, channels // 8, 1, bias=False)
        self.g = _conv(spectral, channels, channels // 2, 1, bias=False)
        self.o = _conv(spectral, channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        n, c, h, w = x.shape
        theta = self.theta(x).reshape(n, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).reshape(n, c // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).reshape(n, c // 2, h * w // 4)
        beta = torch.softmax(torch.bmm(theta.transpose(1, 2), phi), dim=-1)  # (n, hw, hw/4)
        o = self.o(torch.bmm(g, beta.transpose(1, 2)).reshape(n, c // 2, h, w))
        return x + self.gamma * o


class BN(nn.Module):
    """Unconditional batch norm with ``gain``/``bias`` parameters and ``stored_mean``/``stored_var``."""

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias,
                            self.training, self.momentum, self.eps)  # fmt: skip


class CCBN(nn.Module):
    """Class-conditional batch norm: ``BN(x) * (1 + gain(y)) + bias(y)``.

    ``gain`` and ``bias`` are bias-free linear maps ``cond_dim -> channels`` (spectrally
    normalised in G, plain in the encoder E); ``y`` is ``(N, cond_dim)``.
    """

    def __init__(self, channels: int, cond_dim: int, spectral: bool, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        linear = SNLinear if spectral else nn.Linear
        self.gain = linear(cond_dim, channels, bias=False)
        self.bias = linear(cond_dim, channels, bias=False)
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gain = (1 + self.gain(y)).reshape(y.shape[0], -1, 1, 1)
        bias = self.bias(y).reshape(y.shape[0], -1, 1, 1)
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, self.eps)
        return out * gain + bias


class GBlock(nn.Module):
    """BigGAN generator block, also E's block with pooling in place of upsampling.

    ``h = conv2(act(bn2(conv1(resample(act(bn1(x, y)))), y)))``; shortcut
    ``conv_sc(resample(x))`` (1x1) when the width or size changes, else ``x``. ``resample`` is
    nearest x2 upsampling (G) or 2x2 average pooling (E) or nothing.
    """

    def __init__(self, c_in: int, c_out: int, cond_dim: int, *, spectral: bool, resample: str | None) -> None:
        super().__init__()
        self.resample = resample
        self.conv1 = _conv(spectral, c_in, c_out)
        self.conv2 = _conv(spectral, c_out, c_out)
        self.learnable_sc = c_in != c_out or resample is not None
        if self.learnable_sc:
            self.conv_sc = _conv(spectral, c_in, c_out, 1)
        self.bn1 = CCBN(c_in, cond_dim, spectral)
        self.bn2 = CCBN(c_out, cond_dim, spectral)

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "up":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.resample == "down":
            return F.avg_pool2d(x, 2)
        return x

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self._resample(F.relu(self.bn1(x, y)))
        x = self._resample(x)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + (self.conv_sc(x) if self.learnable_sc else x)


class DBlock(nn.Module):
    """BigGAN discriminator block ("wide": the hidden width is the output width).

    ``h = pool(conv2(relu(conv1(relu?(x)))))`` (the first block has no pre-activation);
    shortcut ``pool(conv_sc(x))`` with pre-activation, ``conv_sc(pool(x))`` without.
    """

    def __init__(self, c_in: int, c_out: int, *, preactivation: bool, downsample: bool) -> None:
        super().__init__()
        self.preactivation, self.downsample = preactivation, downsample
        self.conv1 = SNConv2d(c_in, c_out)
        self.conv2 = SNConv2d(c_out, c_out)
        self.learnable_sc = c_in != c_out or downsample
        if self.learnable_sc:
            self.conv_sc = SNConv2d(c_in, c_out, 1, padding=0)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.preactivation:
            if self.learnable_sc:
                x = self.conv_sc(x)
            return F.avg_pool2d(x, 2) if self.downsample else x
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        return self.conv_sc(x) if self.learnable_sc else x

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return h + self._shortcut(x)
