"""CIC networks (Zhang, Isola, Efros): ECCV16 classification net and SIGGRAPH17 regression net.

Both keep the exact ``state_dict`` layout of the official PyTorch port (``colorizers``), so the
published ``.pth`` files load with ``strict=True``: numbered ``nn.Sequential`` blocks
``model1``.. in which every 3x3 conv (with bias) is followed by a ReLU and a block closes with a
``BatchNorm2d``. The Sequential indices of the parameters are therefore fixed by the layer order
(conv at even indices, BN last); do not insert or reorder layers.

Like every network in autocolor they take L* in ``[0, 100]`` and normalise it themselves as
``(L - 50) / 100``; they never decode or resize their output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from autocolor.models.registry import register_model

L_CENTRE = 50.0
L_SCALE = 100.0
AB_SCALE = 110.0  # the official ports scale ab by 1/110 on the way in and 110 on the way out
NUM_AB_BINS = 313
NUM_SIGGRAPH_CLASSES = 529  # SIGGRAPH17's auxiliary classification head (unused when colorizing)


def normalize_lightness(lightness: torch.Tensor) -> torch.Tensor:
    """L* in ``[0, 100]`` -> roughly ``[-0.5, 0.5]``, the official networks' input scale."""
    return (lightness - L_CENTRE) / L_SCALE


def _conv_block(
    channels: Sequence[int],
    *,
    last_stride: int = 1,
    dilation: int = 1,
    leading_relu: bool = False,
    norm: bool = True,
) -> nn.Sequential:
    """``[ReLU], (Conv3x3, ReLU) * k, [BatchNorm]`` with the official index layout.

    ``channels`` lists the widths, e.g. ``(64, 128, 128)`` gives two convs 64->128->128. Only the
    last conv may stride (ECCV16 downsamples that way); dilated blocks pad by the dilation so the
    size is kept.
    """
    layers: list[nn.Module] = [nn.ReLU(inplace=True)] if leading_relu else []
    pairs = list(zip(channels[:-1], channels[1:]))
    for i, (c_in, c_out) in enumerate(pairs):
        stride = last_stride if i == len(pairs) - 1 else 1
        layers.append(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=True)
        )
        layers.append(nn.ReLU(inplace=True))
    if norm:
        layers.append(nn.BatchNorm2d(channels[-1]))
    return nn.Sequential(*layers)


def _upconv(c_in: int, c_out: int) -> nn.ConvTranspose2d:
    """x2 upsampling transposed conv (kernel 4, stride 2, padding 1), as in both official nets."""
    return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=True)


class ECCV16Net(nn.Module):
    """ECCV16 colorization network: L* -> logits over the 313 CIC ab bins at a quarter resolution.

    Input ``(N, 1, H, W)`` L* in ``[0, 100]``; output ``(N, 313, h, w)`` raw logits (before any
    softmax or temperature) in ``cic_ab_grid()`` channel order, with ``h = 2 * ceil(H / 8)``
    (``H / 4`` when ``H`` is a multiple of 8, e.g. 64x64 for the 256x256 training size).

    ``widths`` are the encoder widths of blocks 1-4 (blocks 5-7 keep the last, the decoder uses
    the third); the default is the official network (32,236,011 parameters).

    ``model_out`` is the official port's read-out: a bias-free 1x1 conv whose weights are the bin
    centres / 110, so ``model_out(softmax(logits)) * 110`` is the plain mean of the distribution
    (no annealing). It is kept so that the official file loads strictly, but ``forward`` does not
    use it: decoding (annealed mean at T = 0.38 by default) lives in ``autocolor.decode``. See
    :meth:`official_mean_readout`. (The Caffe deploy file multiplies the logits by 2.606 = 1/0.38
    before its softmax; the logits returned here are ``model8.6``'s, without that factor.)
    """

    output_kind: ClassVar[str] = "ab_bins"
    size_multiple: ClassVar[int] = 8  # input sides that give exactly H/4 x W/4 logits

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 512)) -> None:
        super().__init__()
        c1, c2, c3, c4 = widths
        self.model1 = _conv_block((1, c1, c1), last_stride=2)
        self.model2 = _conv_block((c1, c2, c2), last_stride=2)
        self.model3 = _conv_block((c2, c3, c3, c3), last_stride=2)
        self.model4 = _conv_block((c3, c4, c4, c4))
        self.model5 = _conv_block((c4, c4, c4, c4), dilation=2)
        self.model6 = _conv_block((c4, c4, c4, c4), dilation=2)
        self.model7 = _conv_block((c4, c4, c4, c4))
        decoder = _conv_block((c3, c3, c3), norm=False)
        self.model8 = nn.Sequential(
            _upconv(c4, c3),
            nn.ReLU(inplace=True),
            *decoder,
            nn.Conv2d(c3, NUM_AB_BINS, 1, bias=True),
        )
        self.model_out = nn.Conv2d(NUM_AB_BINS, 2, 1, bias=False)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        x = self.model1(normalize_lightness(lightness))
        x = self.model4(self.model3(self.model2(x)))
        x = self.model7(self.model6(self.model5(x)))
        return self.model8(x)

    def official_mean_readout(self, logits: torch.Tensor) -> torch.Tensor:
        """The official port's decoding: ``(N, 313, h, w)`` logits -> ``(N, 2, h, w)`` ab (Lab).

        Softmax at temperature 1, then ``model_out`` (bin centres / 110), then x110: the
        expectation of the bin centres, i.e. ``decode.bins.expectation``. For comparisons only;
        the pipeline decodes with ``autocolor.decode`` (no upsampling happens here).
        """
        return self.model_out(torch.softmax(logits, dim=1)) * AB_SCALE


class SIGGRAPH17Net(nn.Module):
    """SIGGRAPH17 (user-guided) colorization network: automatic, or guided by colour hints.

    Inputs: ``lightness`` ``(N, 1, H, W)`` L* in ``[0, 100]``; optional ``hints`` ``(N, 2, H, W)``
    ab in Lab units at hinted pixels and ``mask`` ``(N, 1, H, W)`` (1 where a hint is given, else
    0); both default to zeros, which is automatic colorization. The network divides ``hints``
    by 110 itself; :mod:`autocolor.hints` builds both maps from points as the official demo does. ``H`` and ``W`` must be
    multiples of 8 (three halvings, then three x2 upsamplings added to skip connections).

    Output: ``(N, 2, H, W)`` ab in Lab units, ``tanh`` regression times 110 (within +-110).

    ``model_class`` (a 529-way classification head used only in training) is kept for a strict
    load of the official file (34,187,027 parameters) but is not evaluated.
    """

    output_kind: ClassVar[str] = "ab"
    size_multiple: ClassVar[int] = 8
    accepts_hints: ClassVar[bool] = True  # forward(lightness, hints, mask): see autocolor.hints

    def __init__(
        self,
        widths: Sequence[int] = (64, 128, 256, 512),
        num_classes: int = NUM_SIGGRAPH_CLASSES,
    ) -> None:
        super().__init__()
        c1, c2, c3, c4 = widths
        # Downsampling is by x[:, :, ::2, ::2] between blocks 1-4, so no conv strides here.
        self.model1 = _conv_block((4, c1, c1))
        self.model2 = _conv_block((c1, c2, c2))
        self.model3 = _conv_block((c2, c3, c3, c3))
        self.model4 = _conv_block((c3, c4, c4, c4))
        self.model5 = _conv_block((c4, c4, c4, c4), dilation=2)
        self.model6 = _conv_block((c4, c4, c4, c4), dilation=2)
        self.model7 = _conv_block((c4, c4, c4, c4))
        self.model8up = nn.Sequential(_upconv(c4, c3))
        self.model3short8 = nn.Sequential(nn.Conv2d(c3, c3, 3, padding=1, bias=True))
        self.model8 = _conv_block((c3, c3, c3), leading_relu=True)
        self.model9up = nn.Sequential(_upconv(c3, c2))
        self.model2short9 = nn.Sequential(nn.Conv2d(c2, c2, 3, padding=1, bias=True))
        self.model9 = _conv_block((c2, c2), leading_relu=True)
        self.model10up = nn.Sequential(_upconv(c2, c2))
        self.model1short10 = nn.Sequential(nn.Conv2d(c1, c2, 3, padding=1, bias=True))
        self.model10 = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(c2, c2, 3, padding=1, bias=True),
            nn.LeakyReLU(negative_slope=0.2),
        )
        self.model_class = nn.Sequential(nn.Conv2d(c3, num_classes, 1, bias=True))
        self.model_out = nn.Sequential(nn.Conv2d(c2, 2, 1, bias=True), nn.Tanh())

    def forward(
        self,
        lightness: torch.Tensor,
        hints: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        n, _, h, w = lightness.shape
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"SIGGRAPH17 input sides must be multiples of 8, got {h}x{w}")
        if hints is None:
            hints = lightness.new_zeros(n, 2, h, w)
        if mask is None:
            mask = lightness.new_zeros(n, 1, h, w)
        x = torch.cat((normalize_lightness(lightness), hints / AB_SCALE, mask), dim=1)
        conv1 = self.model1(x)
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        x = self.model4(conv3[:, :, ::2, ::2])
        x = self.model7(self.model6(self.model5(x)))
        x = self.model8(self.model8up(x) + self.model3short8(conv3))
        x = self.model9(self.model9up(x) + self.model2short9(conv2))
        x = self.model10(self.model10up(x) + self.model1short10(conv1))
        return self.model_out(x) * AB_SCALE


TINY_WIDTHS = (8, 16, 16, 32)


@register_model(
    "cic.eccv16",
    output_kind="ab_bins",
    input_size=256,
    decoding="annealed_mean",
    temperature=0.38,
    description="CIC ECCV16 (Zhang et al.): 313-bin classification, official layout",
)
def eccv16() -> ECCV16Net:
    """CIC ECCV16 network, official layout (32.2 M parameters); random weights."""
    return ECCV16Net()


@register_model(
    "cic.siggraph17",
    output_kind="ab",
    input_size=256,
    decoding="ab",
    temperature=1.0,
    description="CIC SIGGRAPH17 (Zhang et al.): ab regression, takes colour hints, official layout",
)
def siggraph17() -> SIGGRAPH17Net:
    """CIC SIGGRAPH17 network, official layout (34.2 M parameters); random weights."""
    return SIGGRAPH17Net()


@register_model(
    "cic.tiny",
    output_kind="ab_bins",
    input_size=64,
    decoding="annealed_mean",
    temperature=0.38,
    tiny=True,
    description="tiny ECCV16-shaped network for fast tests",
)
def tiny(widths: Sequence[int] = TINY_WIDTHS) -> ECCV16Net:
    """ECCV16 design with a few channels per block, for fast pipeline tests."""
    return ECCV16Net(widths)


@register_model(
    "cic.tiny_regression",
    output_kind="ab",
    input_size=64,
    decoding="ab",
    temperature=1.0,
    tiny=True,
    description="tiny SIGGRAPH17-shaped ab regression network (takes hints) for fast tests",
)
def tiny_regression(widths: Sequence[int] = TINY_WIDTHS) -> SIGGRAPH17Net:
    """SIGGRAPH17 design with a few channels per block (and a 1-class head), for fast tests."""
    return SIGGRAPH17Net(widths, num_classes=1)
