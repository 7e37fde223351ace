"""Larsson, Maire, Shakhnarovich (ECCV 2016): hypercolumn colorization with hue/chroma histograms.

A VGG16 trunk over a one-channel gray image; the hypercolumn of every pixel of a stride-4 grid is
the concatenation of 16 layers (the gray input, conv1_1 .. conv5_3, fc6, fc7: 12,417 channels for
VGG16, in that order); a 1x1 head (``h_fc1``, 1024 units + ReLU) feeds two 1x1 classifiers
``prediction_h`` and ``prediction_c`` over 32 uniform hue bins and 32 uniform chroma bins.

Parameter names are the official Caffe layer names (``conv1_1.weight`` <- ``/data/conv1_1/0``),
so the official ``autocolorize.caffemodel.h5`` converts without a renaming table
(``autocolor.weights.convert_caffe_h5``).

Memory: the 12,417-channel hypercolumn is never materialised. ``h_fc1`` is linear, so it is the
sum over layers of ``W_l @ resample(f_l)``; resampling (average pooling for conv1/conv2, Caffe's
fixed bilinear deconvolution for conv4+) is linear and per-channel, so it commutes with the
projection. Each layer is therefore projected where that is cheapest: pooled first when it is
finer than the stride-4 grid, projected first (at its own low resolution) when it is coarser.
Training uses the sparse path instead: features are sampled bilinearly at a few hundred pixels
(:meth:`LarssonNet.head_at_points`).

Input: L* in ``[0, 100]``; the network converts it to the official input, the sRGB gray value in
``[0, 1]`` (the official code feeds ``mean(R, G, B)``; for a neutral gray that is the sRGB value of
the L*, obtained through the inverse Lab companding, see :func:`lightness_to_gray`). Sides must be
multiples of 32; padding to the official canvas (``S = 512``) and the official aspect-preserving
scaling happen outside the network (:func:`pad_to_canvas`, :func:`official_scale_factor`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.color.lab import lab_to_rgb
from autocolor.models.registry import register_model

NUM_HUE_BINS = 32
NUM_CHROMA_BINS = 32
HYPERCOLUMN_STRIDE = 4  # the dense head runs on a grid of stride 4 (S/4 x S/4)
SIZE_MULTIPLE = 32  # five 2x2 max-pools


@dataclass(frozen=True)
class LarssonSpec:
    """Shape of a Larsson network; the default is the official VGG16 model (147,041,024 params).

    Attributes:
        widths: output channels of the five conv blocks (VGG16: 64, 128, 256, 512, 512).
        depths: convs per block (VGG16: 2, 2, 3, 3, 3); layers are named ``conv<block>_<i>``.
        fc_width: channels of ``fc6`` / ``fc7`` (convolutional versions of VGG's fc layers).
        fc6_kernel: kernel of ``fc6`` (7, padded by 3, as in the official deploy file).
        head_width: units of ``h_fc1``.
        batch_norm: a BatchNorm (``batch_<layer>``) after every trunk conv, as in the official
            from-scratch training file; the released VGG16 model has none.
        dropout: dropout after fc6, fc7 and h_fc1 in training mode (official: 0.5).
        canvas_size: official ``S``: inputs are zero-padded to at least ``S x S``.
        max_short_side, max_long_side: official test-time scaling limits (256 and 500).
    """

    widths: tuple[int, int, int, int, int] = (64, 128, 256, 512, 512)
    depths: tuple[int, int, int, int, int] = (2, 2, 3, 3, 3)
    fc_width: int = 4096
    fc6_kernel: int = 7
    head_width: int = 1024
    batch_norm: bool = False
    dropout: float = 0.5
    canvas_size: int = 512
    max_short_side: int = 256
    max_long_side: int = 500


VGG16_SPEC = LarssonSpec()
# ~5 MB: a slim VGG-like trunk with BatchNorm so it trains from scratch on a small data set.
SMALL_SPEC = LarssonSpec(
    widths=(16, 32, 64, 128, 128), fc_width=256, fc6_kernel=3, head_width=256,
    batch_norm=True, dropout=0.0, canvas_size=256, max_short_side=256, max_long_side=256,
)  # fmt: skip
TINY_SPEC = LarssonSpec(
    widths=(4, 4, 8, 8, 8), fc_width=8, fc6_kernel=3, head_width=8,
    batch_norm=False, dropout=0.0, canvas_size=64, max_short_side=64, max_long_side=64,
)  # fmt: skip


@dataclass(frozen=True)
class HyperLayer:
    """One hypercolumn source: its official name, channels and stride relative to the input."""

    name: str
    channels: int
    stride: int


def hypercolumn_layers(spec: LarssonSpec) -> tuple[HyperLayer, ...]:
    """The hypercolumn sources in the official concatenation order (``h_fc1`` input order)."""
    layers = [HyperLayer("data", 1, 1)]
    for block, (width, depth) in enumerate(zip(spec.widths, spec.depths), start=1):
        layers += [HyperLayer(f"conv{block}_{i}", width, 2 ** (block - 1)) for i in range(1, depth + 1)]
    layers += [HyperLayer("fc6", spec.fc_width, 32), HyperLayer("fc7", spec.fc_width, 32)]
    return tuple(layers)


def caffe_bilinear_kernel(factor: int, dtype: torch.dtype = torch.float32,
                          device: torch.device | str | None = None) -> torch.Tensor:
    """Caffe's ``bilinear`` weight filler for an x``factor`` deconvolution: ``(K, K)``, K = 2f - f%2."""
    size = 2 * factor - factor % 2
    centre = (2 * factor - 1 - factor % 2) / (2.0 * factor)
    taps = 1.0 - (torch.arange(size, dtype=torch.float64) / factor - centre).abs()
    return torch.outer(taps, taps).to(dtype=dtype, device=device)


def caffe_bilinear_upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """x``factor`` upsampling exactly as the official fixed bilinear Deconvolution layers do it.

    ``(N, C, h, w) -> (N, C, h * f, w * f)``. Inside the image this equals bilinear interpolation
    with half-pixel centres; at the borders the deconvolution fades towards zero (it zero-pads),
    unlike ``F.interpolate``, which replicates the edge.
    """
    if factor == 1:
        return x
    n, c, h, w = x.shape
    kernel = caffe_bilinear_kernel(factor, x.dtype, x.device)[None, None]
    # One depthwise filter for every channel: fold channels into the batch (no C x C weight).
    y = F.conv_transpose2d(x.reshape(n * c, 1, h, w), kernel, stride=factor,
                           padding=math.ceil((factor - 1) / 2))
    return y.reshape(n, c, h * factor, w * factor)


def lightness_to_gray(lightness: torch.Tensor) -> torch.Tensor:
    """L* in ``[0, 100]`` ``(N, 1, H, W)`` -> the official input, sRGB gray in ``[0, 1]``.

    The value is ``mean(R, G, B)`` of the neutral colour ``(L*, 0, 0)`` rendered in sRGB, i.e.
    the inverse Lab companding to luminance Y followed by the sRGB transfer curve; for a gray
    photo this is exactly what the official code feeds (``mean(R, G, B)`` of the file).
    """
    zeros = torch.zeros_like(lightness)
    rgb = lab_to_rgb(torch.cat((lightness, zeros, zeros), dim=-3))
    return rgb.mean(dim=-3, keepdim=True)


def official_scale_factor(height: int, width: int, max_short_side: int = 256,
                          max_long_side: int = 500) -> float:
    """The official test-time scale (never > 1): short side <= 256 unless the long side > 500.

    Mirrors the official rule: ``s = min(256 / short, 1)``, then ``s = 500 / long`` when the
    long side would reach 500 or more.
    """
    scale = min(max_short_side / min(height, width), 1.0)
    if max(height, width) * scale >= max_long_side:
        scale = max_long_side / max(height, width)
    return scale


def pad_to_canvas(x: torch.Tensor, canvas: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Centre ``x`` ``(N, C, h, w)`` on a zero canvas of side ``max(canvas, h, w)`` rounded up to 32.

    Zero L* is black, the official padding value. Returns the padded tensor and the ``(top,
    left)`` offset of the original pixels (crop them back with ``[top:top + h, left:left + w]``).
    """
    h, w = x.shape[-2:]
    height = _round_up(max(canvas, h), SIZE_MULTIPLE)
    width = _round_up(max(canvas, w), SIZE_MULTIPLE)
    top, left = (height - h) // 2, (width - w) // 2
    padded = F.pad(x, (left, width - w - left, top, height - h - top), value=0.0)
    return padded, (top, left)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


class LarssonNet(nn.Module):
    """Hypercolumn network: L* ``(N, 1, H, W)`` -> hue and chroma logits ``(N, 64, H/4, W/4)``.

    Channels ``0:32`` are hue logits (bin ``k`` covers HSV hue ``[k/32, (k+1)/32)``), ``32:64``
    chroma logits (chroma = max - min of sRGB, same binning). Raw logits: the softmax, the x4
    upsampling and the decoding live in ``autocolor.decode.hue_chroma``. ``H`` and ``W`` must
    be multiples of 32.
    """

    output_kind: ClassVar[str] = "hue_chroma"
    size_multiple: ClassVar[int] = SIZE_MULTIPLE
    # The hue_chroma decoder applies the official aspect-preserving scaling and padding itself,
    # so callers should hand it L* with the photo's aspect ratio (not squashed to a square).
    preserves_aspect: ClassVar[bool] = True

    def __init__(self, spec: LarssonSpec = VGG16_SPEC) -> None:
        super().__init__()
        self.spec = spec
        self.canvas_size = spec.canvas_size
        self.max_short_side = spec.max_short_side
        self.max_long_side = spec.max_long_side
        self.layers = hypercolumn_layers(spec)
        trunk = [layer for layer in self.layers if layer.name != "data"]
        c_in = 1
        for layer in trunk:
            kernel = spec.fc6_kernel if layer.name == "fc6" else 1 if layer.name == "fc7" else 3
            self.add_module(layer.name, nn.Conv2d(c_in, layer.channels, kernel, padding=kernel // 2))
            if spec.batch_norm:
                self.add_module(f"batch_{layer.name}", nn.BatchNorm2d(layer.channels))
            c_in = layer.channels
        total = sum(layer.channels for layer in self.layers)
        self.h_fc1 = nn.Conv2d(total, spec.head_width, 1)
        self.prediction_h = nn.Conv2d(spec.head_width, NUM_HUE_BINS, 1)
        self.prediction_c = nn.Conv2d(spec.head_width, NUM_CHROMA_BINS, 1)
        self.dropout = nn.Dropout(spec.dropout)
        offsets, start = {}, 0
        for layer in self.layers:
            offsets[layer.name] = (start, start + layer.channels)
            start += layer.channels
        self._offsets = offsets

    # -- trunk ------------------------------------------------------------------------------
    def _check_size(self, lightness: torch.Tensor) -> None:
        if lightness.dim() != 4 or lightness.shape[1] != 1:
            raise ValueError(f"expected L* of shape (N, 1, H, W), got {tuple(lightness.shape)}")
        h, w = lightness.shape[-2:]
        if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
            raise ValueError(f"input sides must be multiples of 32 (pad first), got {h}x{w}")

    def _iter_features(self, lightness: torch.Tensor) -> Iterator[tuple[HyperLayer, torch.Tensor]]:
        """Yield each hypercolumn source as soon as it exists (post-ReLU, as the official blobs)."""
        x = lightness_to_gray(lightness)
        yield self.layers[0], x
        previous_stride = 1
        for layer in self.layers[1:]:
            if layer.stride != previous_stride:
                x = F.max_pool2d(x, 2)  # pool1..pool5 before the first conv of the next block
            previous_stride = layer.stride
            x = getattr(self, layer.name)(x)
            if self.spec.batch_norm:
                x = getattr(self, f"batch_{layer.name}")(x)
            x = F.relu(x)
            if layer.name in ("fc6", "fc7"):
                x = self.dropout(x)
            yield layer, x

    def hypercolumn_features(self, lightness: torch.Tensor) -> list[torch.Tensor]:
        """All 16 hypercolumn sources at their own resolutions (``H / stride``), official order."""
        self._check_size(lightness)
        return [feature for _, feature in self._iter_features(lightness)]

    def _head_weight(self, name: str) -> torch.Tensor:
        start, stop = self._offsets[name]
        return self.h_fc1.weight[:, start:stop]

    def _classify(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(F.relu(hidden))
        return torch.cat((self.prediction_h(hidden), self.prediction_c(hidden)), dim=1)

    # -- dense inference --------------------------------------------------------------------
    def forward(
        self,
        lightness: torch.Tensor,
        points: torch.Tensor | None = None,
        full_resolution: bool = False,
    ) -> torch.Tensor:
        """Dense logits ``(N, 64, H/4, W/4)`` on the stride-4 grid (the official deploy net).

        Training passes go through ``forward`` too, so that wrappers such as DDP see them:
        ``points`` ``(N, K, 2)`` gives the sparse logits ``(N, 64, K)`` of
        :meth:`head_at_points`; ``full_resolution=True`` the dense ``(N, 64, H, W)`` of
        :meth:`head_dense`.
        """
        if points is not None:
            return self.head_at_points(self.hypercolumn_features(lightness), points)
        if full_resolution:
            features = self.hypercolumn_features(lightness)
            return self.head_dense(features, (lightness.shape[-2], lightness.shape[-1]))
        self._check_size(lightness)
        # The head is a sum of per-layer contributions: no 12,417-channel tensor is built.
        hidden: torch.Tensor | None = None
        for layer, feature in self._iter_features(lightness):
            part = self._project_to_grid(layer, feature)
            del feature  # the trunk keeps only what the next conv needs
            if hidden is None:
                hidden = part
            elif torch.is_grad_enabled():
                hidden = hidden + part
            else:
                hidden.add_(part)
        assert hidden is not None
        hidden = hidden + self.h_fc1.bias.view(1, -1, 1, 1)
        return self._classify(hidden)

    def _project_to_grid(self, layer: HyperLayer, feature: torch.Tensor) -> torch.Tensor:
        weight = self._head_weight(layer.name)
        if layer.stride < HYPERCOLUMN_STRIDE:  # official: AVE pooling to S/4, then project
            return F.conv2d(F.avg_pool2d(feature, HYPERCOLUMN_STRIDE // layer.stride), weight)
        # Official: bilinear deconvolution to S/4, then project. Projecting first is the same
        # linear map on fewer pixels (head_width channels instead of e.g. 4096).
        return caffe_bilinear_upsample(F.conv2d(feature, weight), layer.stride // HYPERCOLUMN_STRIDE)

    def dense_hypercolumn(self, lightness: torch.Tensor) -> torch.Tensor:
        """The materialised official hypercolumn ``(N, 12417, H/4, W/4)`` (tests, benchmarks)."""
        self._check_size(lightness)
        columns = []
        for layer, feature in self._iter_features(lightness):
            if layer.stride < HYPERCOLUMN_STRIDE:
                feature = F.avg_pool2d(feature, HYPERCOLUMN_STRIDE // layer.stride)
            else:
                feature = caffe_bilinear_upsample(feature, layer.stride // HYPERCOLUMN_STRIDE)
            columns.append(feature)
        return torch.cat(columns, dim=1)

    def forward_naive(self, lightness: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` computed the official way, through the concatenated hypercolumn."""
        return self._classify(self.h_fc1(self.dense_hypercolumn(lightness)))

    # -- training heads ---------------------------------------------------------------------
    def head_at_points(self, features: list[torch.Tensor], grid: torch.Tensor) -> torch.Tensor:
        """Sparse head: logits ``(N, 64, K)`` at ``K`` points per image.

        Args:
            features: :meth:`hypercolumn_features` of an ``(N, 1, H, W)`` input.
            grid: ``(N, K, 2)`` point positions as ``grid_sample`` coordinates ``(x, y)`` in
                ``[-1, 1]`` over the input image (``align_corners=False``: pixel ``i`` of ``W`` is
                at ``(2 i + 1) / W - 1``).

        Each layer is sampled bilinearly with half-pixel centres and clamped at its border, the
        official sparse hypercolumn extractor's rule; no pooling or deconvolution is involved.
        """
        points = grid.unsqueeze(1).to(features[0].dtype)  # (N, 1, K, 2)
        hidden = self.h_fc1.bias.view(1, -1, 1)
        for layer, feature in zip(self.layers, features):
            sampled = F.grid_sample(feature, points, mode="bilinear", padding_mode="border",
                                    align_corners=False).squeeze(2)  # (N, C, K)
            hidden = hidden + torch.einsum("oc,nck->nok", self._head_weight(layer.name)[:, :, 0, 0], sampled)
        return self._classify(hidden.unsqueeze(-1)).squeeze(-1)

    def head_dense(self, features: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """Dense counterpart of :meth:`head_at_points`: logits ``(N, 64, H, W)`` at every pixel.

        Every layer is bilinearly upsampled to full resolution (half-pixel centres), the
        "dense" training of the paper; projected first, so memory is ``head_width`` channels at
        full resolution rather than the whole hypercolumn.
        """
        hidden: torch.Tensor | None = None
        for layer, feature in zip(self.layers, features):
            part = F.conv2d(feature, self._head_weight(layer.name))
            if tuple(part.shape[-2:]) != tuple(size):
                part = F.interpolate(part, size=size, mode="bilinear", align_corners=False)
            hidden = part if hidden is None else hidden + part
        assert hidden is not None
        return self._classify(hidden + self.h_fc1.bias.view(1, -1, 1, 1))


def layer_shapes(spec: LarssonSpec) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """``{official layer: (weight shape, bias shape)}`` of the convolutions (Caffe ``/0``, ``/1``)."""
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    c_in = 1
    for layer in hypercolumn_layers(spec)[1:]:
        k = spec.fc6_kernel if layer.name == "fc6" else 1 if layer.name == "fc7" else 3
        shapes[layer.name] = ((layer.channels, c_in, k, k), (layer.channels,))
        c_in = layer.channels
    total = sum(layer.channels for layer in hypercolumn_layers(spec))
    shapes["h_fc1"] = ((spec.head_width, total, 1, 1), (spec.head_width,))
    shapes["prediction_h"] = ((NUM_HUE_BINS, spec.head_width, 1, 1), (NUM_HUE_BINS,))
    shapes["prediction_c"] = ((NUM_CHROMA_BINS, spec.head_width, 1, 1), (NUM_CHROMA_BINS,))
    return shapes


_VGG16_DESCRIPTION = (
    "Larsson et al. ECCV16 hypercolumn net (official VGG16 layout, Caffe HDF5 weights, 588 MB)."
)


@register_model("larsson.vgg16", output_kind="hue_chroma", input_size=512, decoding="median",
                description=_VGG16_DESCRIPTION)
def larsson_vgg16(**overrides: Any) -> LarssonNet:
    """Official Larsson network (VGG16 trunk, 12,417-channel hypercolumn, 1024-unit head)."""
    return LarssonNet(replace(VGG16_SPEC, **overrides))


@register_model("larsson.small", output_kind="hue_chroma", input_size=256, decoding="median",
                description="Compact Larsson-design network (slim VGG trunk, ~5 MB) for CPU use.")
def larsson_small(**overrides: Any) -> LarssonNet:
    """Slim VGG-like trunk with BatchNorm, same hypercolumn + hue/chroma head design."""
    return LarssonNet(replace(SMALL_SPEC, **overrides))


@register_model("larsson.tiny", output_kind="hue_chroma", input_size=64, decoding="median",
                tiny=True)
def larsson_tiny(**overrides: Any) -> LarssonNet:
    """A few-hundred-parameter Larsson net with the official layer names, for tests."""
    return LarssonNet(replace(TINY_SPEC, **overrides))
