"""PixelCNN++ building blocks in the layout of PIC's official TensorFlow code.

Every convolution is weight-normalised (Salimans & Kingma): ``weight = g * v / ||v||`` with the
norm taken per output channel over ``(in, kh, kw)``, exactly like ``tf.nn.l2_normalize(V, [0, 1,
2])`` on a TF kernel ``(kh, kw, in, out)``. Parameters are named ``weight_v``, ``weight_g`` and
``bias`` so that a TF variable ``<scope>/V`` maps to ``<scope>.weight_v`` after transposing
``(kh, kw, in, out) -> (out, in, kh, kw)``.

Padding modes (all tensors ``NCHW``):
- ``"same"``: TensorFlow's ``SAME`` (asymmetric for stride 2: the extra row/column goes at the
  bottom/right), so strided layers sample the same pixels as the official network.
- ``"down"``: causal in rows: pad ``kh - 1`` rows on top and ``(kw - 1) / 2`` columns each side;
  output row ``r`` sees input rows ``r - kh + 1 .. r``.
- ``"down_right"``: causal in raster order: pad ``kh - 1`` rows on top and ``kw - 1`` columns on
  the left; output ``(r, c)`` sees rows ``<= r`` and columns ``<= c``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Padding = Literal["same", "down", "down_right"]


def concat_elu(x: torch.Tensor) -> torch.Tensor:
    """``elu([x, -x])`` on the channel axis: ``(N, C, H, W) -> (N, 2C, H, W)``."""
    return F.elu(torch.cat((x, -x), dim=1))


def down_shift(x: torch.Tensor) -> torch.Tensor:
    """Shift rows down by one (zeros in row 0, the last row dropped)."""
    return F.pad(x[:, :, :-1, :], (0, 0, 1, 0))


def right_shift(x: torch.Tensor) -> torch.Tensor:
    """Shift columns right by one (zeros in column 0, the last column dropped)."""
    return F.pad(x[:, :, :, :-1], (1, 0, 0, 0))


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    # TensorFlow's rule: the output has ceil(size / stride) positions; odd padding goes after.
    span = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


class WNConv2d(nn.Module):
    """Weight-normalised 2-D convolution with TF-compatible padding (see the module doc).

    ``init_scale`` is the data-dependent initialisation target (official: 1.0, or 0.1 for the
    second conv of a gated resnet); before that initialisation ``g`` starts at ``init_scale``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int],
        *,
        padding: Padding = "same",
        stride: int = 1,
        dilation: int = 1,
        init_scale: float = 1.0,
    ) -> None:
        super().__init__()
        kh, kw = kernel
        self.weight_v = nn.Parameter(torch.randn(out_channels, in_channels, kh, kw) * 0.05)
        self.weight_g = nn.Parameter(torch.full((out_channels,), float(init_scale)))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.kernel = (kh, kw)
        self.padding = padding
        self.stride = stride
        self.dilation = dilation
        self.init_scale = init_scale
        self.data_init = False  # set by `data_dependent_init`

    def weight(self) -> torch.Tensor:
        """The effective kernel ``g * v / ||v||``, shape ``(out, in, kh, kw)``."""
        v = self.weight_v
        sq = v.pow(2).sum(dim=(1, 2, 3), keepdim=True)
        return self.weight_g.view(-1, 1, 1, 1) * v * torch.rsqrt(sq.clamp_min(1e-12))

    def pad_amounts(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``(left, right, top, bottom)`` zero padding for an input of ``height x width``."""
        kh, kw = self.kernel
        if self.padding == "down":
            return (kw - 1) // 2, (kw - 1) // 2, kh - 1, 0
        if self.padding == "down_right":
            return kw - 1, 0, kh - 1, 0
        top, bottom = _same_padding(height, kh, self.stride, self.dilation)
        left, right = _same_padding(width, kw, self.stride, self.dilation)
        return left, right, top, bottom

    def conv_valid(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Convolution of an already padded input (used by the cached sampler on windows)."""
        w = self.weight() if weight is None else weight
        return F.conv2d(x, w, self.bias, stride=self.stride, dilation=self.dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, self.pad_amounts(x.shape[-2], x.shape[-1]))
        if self.data_init:
            self._initialise_from(padded)
        return self.conv_valid(padded)

    @torch.no_grad()
    def _initialise_from(self, padded: torch.Tensor) -> None:
        # Official data-dependent init: with g = 1, b = 0, scale each output channel to
        # variance init_scale**2 and mean 0 over the batch.
        v = self.weight_v
        unit = v * torch.rsqrt(v.pow(2).sum(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12))
        out = F.conv2d(padded, unit, None, stride=self.stride, dilation=self.dilation)
        mean = out.mean(dim=(0, 2, 3))
        var = out.var(dim=(0, 2, 3), unbiased=False)
        scale = self.init_scale / torch.sqrt(var + 1e-8)
        self.weight_g.copy_(scale)
        self.bias.copy_(-mean * scale)


@contextmanager
def data_dependent_init(module: nn.Module) -> Iterator[None]:
    """Within the block, one forward pass sets every ``WNConv2d``'s ``g`` and ``b`` from data.

    Layers are initialised in the order the forward pass reaches them, each seeing the output
    of the already initialised layers before it (as in PixelCNN++).
    """
    convs = [m for m in module.modules() if isinstance(m, WNConv2d)]
    for conv in convs:
        conv.data_init = True
    try:
        yield
    finally:
        for conv in convs:
            conv.data_init = False


class GatedResnet(nn.Module):
    """PixelCNN++ gated residual block: ``x + a * sigmoid(b)`` with ``[a, b] = conv2(...)``.

    ``conv1`` (3x3, optionally dilated) reads ``concat_elu(x)``; an optional 1x1 ``conv_aux`` adds
    ``concat_elu(aux)`` (aux: ``aux_channels`` channels at the same resolution); dropout sits
    between the two convs. Input and output are ``(N, channels, H, W)``.
    """

    def __init__(
        self,
        channels: int,
        *,
        padding: Padding = "same",
        aux_channels: int = 0,
        dilation: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.conv1 = WNConv2d(2 * channels, channels, (3, 3), padding=padding, dilation=dilation)
        self.conv_aux = (
            WNConv2d(2 * aux_channels, channels, (1, 1), padding=padding) if aux_channels else None
        )
        self.conv2 = WNConv2d(2 * channels, 2 * channels, (3, 3), padding=padding, init_scale=0.1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @torch.no_grad()
    def zero_residual(self) -> None:
        """Make the block the identity (``conv2`` outputs 0, so ``a = 0``); training moves on
        from there, as ``g`` still gets gradients (used to grow a deeper network, see
        ``autocolor.train.warm_start``)."""
        self.conv2.weight_g.zero_()
        self.conv2.bias.zero_()

    def gate(self, c2: torch.Tensor) -> torch.Tensor:
        """``a * sigmoid(b)`` for ``[a, b]`` the two channel halves of ``conv2``'s output."""
        a, b = c2.chunk(2, dim=1)
        return a * torch.sigmoid(b)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        c1 = self.conv1(concat_elu(x))
        if self.conv_aux is not None:
            if aux is None:
                raise ValueError("this gated resnet needs an auxiliary input")
            c1 = c1 + self.conv_aux(concat_elu(aux))
        c1 = self.dropout(concat_elu(c1))
        return x + self.gate(self.conv2(c1))
