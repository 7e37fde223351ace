"""PIC networks (Royer, Kolesnikov, Lampert, BMVC 2017): probabilistic image colorization.

``p(ab | L)`` is factorised in raster order over the chroma pixels at ``1 / downsample`` of the
input resolution. A feed-forward CNN ``g`` embeds the gray image (``embedding``), and a
conditional PixelCNN++ ``f`` (``pixelcnn``) outputs, per chroma pixel, the parameters of a
discretized logistic mixture over ``(a, b)`` given the already generated pixels and ``g(L)``.

Layout and conventions follow the official TensorFlow code (``ameroyer/PIC``) so that its
checkpoint converts one to one (``autocolor.weights.convert_pic``): module names are the TF
variable scopes (``embedding.down_leak_3.conv1`` <- ``picolor_template/down_leak_3/conv1``).
Official details kept on purpose:
- inputs get a constant ones channel (it tells zero padding from data);
- the autoregressive input ("canvas") is the *RGB* image in ``[-1, 1]`` of the chroma-resolution
  Lab pixels ``(L_small, a, b)``, as the official sampler feeds back its samples;
- the embedding has more channels than the mixture needs; its first ``8 * nr_mix`` channels are
  the CNN-only ablation's mixture parameters, trained jointly in the official code.

Units: networks take L* in ``[0, 100]`` ``(N, 1, H, W)``; ``ab`` arguments are Lab units.
Normalisation (official ``pcnn_norm``): ``L -> (L - 50) / 50``, ``a -> (a - 0.5) / 127.5``,
``b -> (b + 0.5) / 127.5``, so the 256 discrete levels of each channel are integer Lab values
(``a`` in ``[-127, 128]``, ``b`` in ``[-128, 127]``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.color.lab import lab_to_rgb
from autocolor.models.pixelcnn_layers import (
    GatedResnet,
    WNConv2d,
    down_shift,
    right_shift,
)
from autocolor.models.registry import register_model

L_CENTRE = 50.0
L_SCALE = 50.0
AB_SCALE = 127.5
AB_SHIFT = (0.5, -0.5)  # official: a, b -> (a - 0.5) / 127.5, (b + 0.5) / 127.5
OUTPUTS_PER_MIXTURE = 8  # logit, 3 coefficients, 2 means, 2 log-scales


def normalize_lightness(lightness: torch.Tensor) -> torch.Tensor:
    """L* in ``[0, 100]`` -> ``[-1, 1]``."""
    return (lightness - L_CENTRE) / L_SCALE


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    """Lab ``(..., 2, H, W)`` -> the mixture's ``[-1, 1]`` scale (not clamped)."""
    shift = ab.new_tensor(AB_SHIFT).view(2, 1, 1)
    return (ab - shift) / AB_SCALE


def denormalize_ab(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize_ab`: ``[-1, 1]`` -> Lab units."""
    shift = x.new_tensor(AB_SHIFT).view(2, 1, 1)
    return x * AB_SCALE + shift


Stage = tuple[int, int, int, int]  # (gated resnets, dilation, channels of the closing conv, stride)


@dataclass(frozen=True)
class PicConfig:
    """Hyper-parameters of one PIC network.

    Attributes:
        input_size: side of the L* input the network is trained for (any multiple of
            ``downsample`` works, the nets are fully convolutional).
        embed_stem: width of ``conv_leak``, the first conv of ``g``.
        embed_stages: ``g`` as stages; stage ``s`` is ``blocks`` gated resnets
            ``down_leak_<n>`` (numbered globally) then the conv ``downscale_leak_<s>``.
            The product of the strides is the chroma downsampling factor; the last stage's
            channels are the embedding width (>= ``8 * nr_mix``).
        channels: PixelCNN++ width.
        blocks: PixelCNN++ gated resnets per stream (official ImageNet: 4, i.e. 8 in all).
        nr_mix: logistic mixture components.
        dropout: dropout inside every gated resnet (training only).
        pooling: how L (and the training targets) reach the chroma resolution: ``"subsample"``
            takes the top-left pixel of each block (what TF1's ``resize_bilinear`` does for an
            integer factor, i.e. the official training), ``"area"`` averages the block.
    """

    input_size: int
    embed_stem: int
    embed_stages: tuple[Stage, ...]
    channels: int
    blocks: int
    nr_mix: int = 10
    dropout: float = 0.5
    pooling: Literal["subsample", "area"] = "area"

    @property
    def downsample(self) -> int:
        factor = 1
        for stage in self.embed_stages:
            factor *= stage[3]
        return factor

    @property
    def embed_channels(self) -> int:
        return self.embed_stages[-1][2]

    @property
    def num_outputs(self) -> int:
        return OUTPUTS_PER_MIXTURE * self.nr_mix


class PicEmbedding(nn.Module):
    """``g``: normalised L plus a ones channel ``(N, 2, H, W)`` -> ``(N, E, H/d, W/d)``."""

    def __init__(self, config: PicConfig) -> None:
        super().__init__()
        width = config.embed_stem
        self.conv_leak = WNConv2d(2, width, (3, 3))
        self.order: list[str] = ["conv_leak"]
        n = 0
        for s, (blocks, dilation, out_channels, stride) in enumerate(config.embed_stages, start=1):
            for _ in range(blocks):
                n += 1
                name = f"down_leak_{n}"
                self.add_module(name, GatedResnet(width, dilation=dilation, dropout=config.dropout))
                self.order.append(name)
            name = f"downscale_leak_{s}"
            self.add_module(name, WNConv2d(width, out_channels, (3, 3), stride=stride))
            self.order.append(name)
            width = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.order:
            x = getattr(self, name)(x)
        return x


class ConditionalPixelCNN(nn.Module):
    """``f``: canvas ``(N, 4, h, w)`` (RGB in [-1, 1] + ones) and embedding -> mixture params.

    Two causal streams as in PixelCNN++: ``u`` sees the rows above (``shortrange_down_<k>``,
    conditioned on the embedding), ``ul`` also the pixels to the left in the current row
    (``shortrange_down_right_<k>``, conditioned on ``[u, embedding]``). Output
    ``(N, 8 * nr_mix, h, w)``; position ``(i, j)`` depends only on canvas pixels before it in
    raster order.
    """

    def __init__(self, config: PicConfig) -> None:
        super().__init__()
        c, e = config.channels, config.embed_channels
        self.conv_down = WNConv2d(4, c, (2, 3), padding="down")
        self.conv_down_2 = WNConv2d(4, c, (1, 3), padding="down")
        self.conv_down_right = WNConv2d(4, c, (2, 1), padding="down_right")
        self.blocks = config.blocks
        for k in range(config.blocks):
            self.add_module(
                f"shortrange_down_{k}",
                GatedResnet(c, padding="down", aux_channels=e, dropout=config.dropout),
            )
            self.add_module(
                f"shortrange_down_right_{k}",
                GatedResnet(c, padding="down_right", aux_channels=c + e, dropout=config.dropout),
            )
        self.conv_last = WNConv2d(c, config.num_outputs, (1, 1))

    def u_block(self, k: int) -> GatedResnet:
        return getattr(self, f"shortrange_down_{k}")

    def ul_block(self, k: int) -> GatedResnet:
        return getattr(self, f"shortrange_down_right_{k}")

    def forward(self, canvas: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        u = down_shift(self.conv_down(canvas))
        ul = down_shift(self.conv_down_2(canvas)) + right_shift(self.conv_down_right(canvas))
        for k in range(self.blocks):
            u = self.u_block(k)(u, embedding)
            ul = self.ul_block(k)(ul, torch.cat((u, embedding), dim=1))
        return self.conv_last(F.elu(ul))


class PicNet(nn.Module):
    """PIC: ``g`` + conditional PixelCNN++ ``f`` with a discretized logistic mixture output.

    ``forward(lightness, ab)`` is the teacher-forced pass used for the likelihood: L*
    ``(N, 1, H, W)`` in ``[0, 100]`` and the chroma-resolution ``ab`` ``(N, 2, H/d, W/d)`` in Lab
    units -> mixture parameters ``(N, 8 * nr_mix, H/d, W/d)`` (layout in
    ``autocolor.decode.logistic_mixture``). Sampling lives in ``autocolor.decode.autoregressive``.
    """

    output_kind: ClassVar[str] = "ab_mixture"

    def __init__(self, config: PicConfig) -> None:
        super().__init__()
        if config.embed_channels < config.num_outputs:
            raise ValueError("the embedding must have at least 8 * nr_mix channels")
        self.config = config
        self.embedding = PicEmbedding(config)
        self.pixelcnn = ConditionalPixelCNN(config)

    @property
    def downsample(self) -> int:
        return self.config.downsample

    def embed(self, lightness: torch.Tensor) -> torch.Tensor:
        """``g(L)``: ``(N, 1, H, W)`` L* -> ``(N, E, H/d, W/d)``; computed once per image."""
        self._check_size(lightness)
        x = normalize_lightness(lightness)
        return self.embedding(torch.cat((x, torch.ones_like(x)), dim=1))

    def embedding_params(self, embedding: torch.Tensor) -> torch.Tensor:
        """The CNN-only ablation's mixture parameters: the first ``8 * nr_mix`` channels."""
        return embedding[:, : self.config.num_outputs]

    def pool_chroma(self, x: torch.Tensor) -> torch.Tensor:
        """Full resolution ``(N, C, H, W)`` -> chroma resolution, by the configured pooling."""
        d = self.downsample
        if self.config.pooling == "subsample":
            return x[:, :, ::d, ::d]
        return F.avg_pool2d(x, d)

    def chroma_lightness(self, lightness: torch.Tensor) -> torch.Tensor:
        """Normalised L at chroma resolution ``(N, 1, H/d, W/d)`` in ``[-1, 1]``."""
        return normalize_lightness(self.pool_chroma(lightness))

    @staticmethod
    def canvas_rgb(lightness_small: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
        """RGB in ``[-1, 1]`` of normalised ``(L, a, b)`` pixels: the autoregressive input."""
        lab = torch.cat((lightness_small * L_SCALE + L_CENTRE, denormalize_ab(ab_norm)), dim=1)
        return lab_to_rgb(lab) * 2.0 - 1.0

    def canvas(self, lightness_small: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
        """``(N, 4, h, w)``: :meth:`canvas_rgb` plus the ones channel."""
        rgb = self.canvas_rgb(lightness_small, ab_norm)
        return torch.cat((rgb, torch.ones_like(rgb[:, :1])), dim=1)

    def forward(
        self, lightness: torch.Tensor, ab: torch.Tensor, *, with_embedding: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced mixture parameters; with ``with_embedding`` also the CNN-only ones."""
        embedding = self.embed(lightness)
        params = self.teacher_forced(embedding, self.chroma_lightness(lightness), ab)
        if with_embedding:
            return params, self.embedding_params(embedding)
        return params

    def teacher_forced(self, embedding: torch.Tensor, lightness_small: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Mixture parameters ``(N, 8K, h, w)`` from a computed :meth:`embed` ``(N, E, h, w)``,
        :meth:`chroma_lightness` ``(N, 1, h, w)`` and ab ``(N, 2, h, w)`` in Lab units: the
        PixelCNN half of :meth:`forward`, for scoring several chroma of one photo."""
        if ab.shape[-2:] != lightness_small.shape[-2:]:
            raise ValueError(
                f"ab must be at chroma resolution {tuple(lightness_small.shape[-2:])}, "
                f"got {tuple(ab.shape[-2:])}"
            )
        return self.pixelcnn(self.canvas(lightness_small, normalize_ab(ab)), embedding)

    def _check_size(self, lightness: torch.Tensor) -> None:
        h, w = lightness.shape[-2:]
        if lightness.dim() != 4 or lightness.shape[1] != 1:
            raise ValueError(f"expected L* of shape (N, 1, H, W), got {tuple(lightness.shape)}")
        if h % self.downsample or w % self.downsample:
            raise ValueError(f"input {h}x{w} is not a multiple of {self.downsample}")


# Official ImageNet configuration (imagenet.sh: -c 160 -l 4, models.EmbeddingImagenet). g has
# 29 convolutions in the released code (5 plain + 12 gated resnets of 2; the paper says 30); its
# last conv has 160 channels (the code comments that 80 were meant); f has 4 + 4 gated resnets.
IMAGENET_CONFIG = PicConfig(
    input_size=128,
    embed_stem=64,
    embed_stages=((2, 1, 128, 2), (2, 1, 256, 2), (2, 1, 512, 1), (3, 2, 512, 1), (3, 4, 160, 1)),
    channels=160,
    blocks=4,
    nr_mix=10,
    dropout=0.5,
    pooling="subsample",
)

# Small enough for CPU training and sub-second cached sampling (see benchmarks/).
SMALL_CONFIG = PicConfig(
    input_size=64,
    embed_stem=32,
    embed_stages=((1, 1, 64, 2), (1, 1, 96, 2), (2, 2, 128, 1), (2, 4, 96, 1)),
    channels=64,
    blocks=2,
    nr_mix=10,
    dropout=0.2,
)

TINY_CONFIG = PicConfig(
    input_size=32,
    embed_stem=8,
    embed_stages=((1, 1, 16, 2), (1, 1, 16, 2), (1, 2, 24, 1)),
    channels=16,
    blocks=2,
    nr_mix=3,
    dropout=0.0,
)


@register_model("pic.imagenet", output_kind="ab_mixture", input_size=128, decoding="sample")
def pic_imagenet(**overrides: object) -> PicNet:
    """PIC, official ImageNet layout: 128x128 L*, 32x32 chroma, 160-wide g and PixelCNN++."""
    return PicNet(_with(IMAGENET_CONFIG, overrides))


@register_model("pic.small", output_kind="ab_mixture", input_size=64, decoding="sample")
def pic_small(**overrides: object) -> PicNet:
    """PIC, small CPU variant: 64x64 L*, 16x16 chroma, 64-wide PixelCNN++."""
    return PicNet(_with(SMALL_CONFIG, overrides))


@register_model("pic.small128", output_kind="ab_mixture", input_size=128, decoding="sample", temperature=0.6)
def pic_small128(**overrides: object) -> PicNet:
    """PIC, ``pic.small``'s network run at 128x128 L*, i.e. 32x32 chroma as ``pic.imagenet``.

    The layers are the same as ``pic.small`` (a 4x chroma downsampling, fully convolutional), so
    its weights load here and serve as the starting point of training (configs/pic_small128.toml).
    """
    return PicNet(_with(replace(SMALL_CONFIG, input_size=128), overrides))


@register_model("pic.deep128", output_kind="ab_mixture", input_size=128, decoding="sample", temperature=0.6,
                decode_extra={"mixture_temperature": 0.9})  # fmt: skip
def pic_deep128(**overrides: object) -> PicNet:
    """PIC, ``pic.small128`` with the paper's PixelCNN++ depth: 4 + 4 gated resnets, not 2 + 2.

    The causal context of each chroma pixel doubles (about 17 rows up and columns left at
    32x32 chroma instead of 9), which keeps a sampled colour consistent across larger regions.
    Its first layers are ``pic.small128``'s, so it grows from those weights: the extra blocks
    start as identities (configs/pic_deep128.toml). Sampled by default at mixture temperature
    0.9 (see :func:`autocolor.decode.logistic_mixture.sample`; chosen on validation photos,
    docs/bundled-model.md).
    """
    return PicNet(_with(replace(SMALL_CONFIG, input_size=128, blocks=4), overrides))


@register_model("pic.tiny", output_kind="ab_mixture", input_size=32, decoding="sample", tiny=True)
def pic_tiny(**overrides: object) -> PicNet:
    """PIC, tiny random variant for tests: 32x32 L*, 8x8 chroma, 3 mixture components."""
    return PicNet(_with(TINY_CONFIG, overrides))


def _with(config: PicConfig, overrides: dict[str, object]) -> PicConfig:
    return replace(config, **overrides) if overrides else config  # type: ignore[arg-type]
