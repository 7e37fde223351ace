"""The one orchestrator: full-resolution L* -> network input -> model -> decoder -> full-res ab.

A photo's L* channel is resized (square, aspect ignored, as CIC does) to the network's input
size, the network and its decoder predict ab at low resolution, and the ab is upsampled to the
photo's full resolution guided by the full-resolution L*. The output joins the ORIGINAL L* with
that ab, so luminance never passes through the network and is preserved exactly.

Library use::

    from autocolor.pipeline import Colorizer
    colorizer = Colorizer("cic.eccv16", device="auto")      # loads the model once
    rgb = colorizer.colorize_photo(read_photo("old.jpg"))  # (H, W, 3) float32 in [0, 1]

or, for one file, :func:`colorize`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autocolor.color.keeplab import lightness_ab_to_rgb
from autocolor.color.upsample import upsample_ab
from autocolor.decode import (
    DEFAULT_TEMPERATURES,
    DecodeOptions,
    HintEvidence,
    accepts_hints,
    check_method,
    decoding_methods,
    has_likelihood,
    negative_log_likelihood,
    output_kind_of,
    predict_ab,
)
from autocolor.devices import autocast_context, inference_dtype, resolve_device
from autocolor.errors import OutputError, UsageError
from autocolor.hints import Hint, HintMaps, rasterize_hints, stack_hint_maps
from autocolor.hints.propagate import HintField, HintSpread, hint_field, spread_hints
from autocolor.imageencode import Layout, output_layout
from autocolor.imagefile import Photo, output_format, read_photo, same_file, write_codes
from autocolor.models.registry import ModelInfo, model_info
# load_model, resize_lightness and network_input_size are part of this module's API (re-exported).
from autocolor.networks import load_model, network_input_size, resize_lightness  # noqa: F401
from autocolor.outputnames import default_output_path

#: The bundled default model (trained for autocolor; weights ship inside the package).
DEFAULT_MODEL = "cic.lite"
#: Chroma upsampling methods of :func:`autocolor.color.upsample.upsample_ab`.
UPSAMPLE_METHODS = ("guided", "bilinear")
#: Smallest network input side accepted by ``size`` (three halvings leave one pixel).
MIN_INPUT_SIZE = 8
#: What the ``hints`` arguments accept: user points (photo coordinates), maps already at the
#: network's input resolution (e.g. simulated from ground truth), or nothing.
Hints = Sequence[Hint] | HintMaps | None


class Colorizer:
    """A loaded model plus decoding settings; colorizes any number of photos.

    Args:
        model: a registry name (loaded with :func:`load_model`) or an already built network
            (it needs an ``output_kind`` class attribute; ``size`` is then required unless it
            came from :func:`autocolor.models.create_model`, which attaches ``model_info``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        size: side of the square network input in pixels; default: the model's input size.
        decoding: decoder method (e.g. ``"annealed_mean"``, ``"mean"``, ``"mode"``,
            ``"sample"``); default: the model's.
        temperature: for annealed mean / sampling; default: the model's (when ``decoding`` is
            its default) or the method's usual value (annealed mean 0.38).
        upsample: ``"guided"`` (edge-aware, follows the full-res L*) or ``"bilinear"``.
        seed: seeds a fresh ``torch.Generator`` for every photo, so a photo gets the same
            colours whatever its position in a batch; ``None`` draws from torch's global RNG.
        pretrained: ``False`` runs random weights (tests only; see :func:`load_model`).
        offline: never download weights.
        extra: family-specific decoder options (e.g. ``{"class_id": 207}``); they override
            the model's defaults (``ModelInfo.decode_extra``).
        hint_spread: how colour hints carry along their objects (:mod:`autocolor.hints.propagate`);
            ``None`` leaves them to the network alone. Photos without hints are not affected.

    Raises:
        UsageError: an option does not fit the model (bad size, decoding or temperature).
        UnknownModelError, WeightsError, DeviceError: from :func:`load_model`.
    """

    def __init__(
        self,
        model: str | nn.Module = DEFAULT_MODEL,
        device: str | torch.device = "auto",
        *,
        size: int | None = None,
        decoding: str | None = None,
        temperature: float | None = None,
        upsample: str = "guided",
        seed: int | None = None,
        pretrained: bool = True,
        offline: bool = False,
        extra: Mapping[str, Any] | None = None,
        hint_spread: HintSpread | None = HintSpread(),
    ) -> None:
        self.device = resolve_device(device)
        # Validate everything cheap before the (possibly long) model load.
        info: ModelInfo | None = model_info(model) if isinstance(model, str) else getattr(
            model, "model_info", None
        )
        if upsample not in UPSAMPLE_METHODS:
            raise UsageError(f"unknown upsampling {upsample!r}; choose from: {', '.join(UPSAMPLE_METHODS)}")
        if temperature is not None and not temperature > 0:
            raise UsageError(f"temperature must be > 0, got {temperature}")
        if seed is not None and seed < 0:
            raise UsageError(f"seed must be >= 0, got {seed}")
        kind = info.output_kind if info is not None else output_kind_of(model)  # type: ignore[arg-type]
        self.decoding = decoding or (info.decoding if info is not None else _first_method(kind))
        check_method(kind, self.decoding)
        if temperature is None:
            same_as_model = info is not None and self.decoding == info.decoding
            temperature = info.temperature if same_as_model else DEFAULT_TEMPERATURES.get(self.decoding, 1.0)
        self.temperature = float(temperature)
        size = size if size is not None else (info.input_size if info is not None else None)
        if size is None:
            raise ValueError("a network without model_info needs an explicit size")
        if size < MIN_INPUT_SIZE:
            raise UsageError(f"input size must be at least {MIN_INPUT_SIZE} px, got {size}")
        self.size = int(size)
        self.upsample = upsample
        self.seed = seed
        self.extra = {**(info.decode_extra if info is not None else {}), **(extra or {})}
        self.hint_spread = hint_spread

        if isinstance(model, str):
            self.net = load_model(model, self.device, pretrained=pretrained, offline=offline)
        else:
            self.net = model.to(self.device).eval()
        if self.device.type == "cuda":
            # NHWC lets cuDNN use tensor cores for the bf16 convolutions under autocast.
            self.net = self.net.to(memory_format=torch.channels_last)
        self.model_name = info.name if info is not None else type(self.net).__name__
        if output_kind_of(self.net) != kind:
            raise ValueError(f"{self.model_name}: registry says {kind!r} output, network says otherwise")
        self._check_size_multiple()

    def _check_size_multiple(self) -> None:
        # The network class knows which input sides it accepts (e.g. 8 for three halvings).
        multiple = int(getattr(self.net, "size_multiple", 1))
        if self.size % multiple:
            raise UsageError(
                f"input size must be a multiple of {multiple} px for {self.model_name}, got {self.size}"
            )

    def _generator(self) -> torch.Generator | None:
        if self.seed is None:
            return None
        return torch.Generator(device=self.device).manual_seed(self.seed)

    @property
    def accepts_hints(self) -> bool:
        """Whether the network takes colour hints (``hints=`` of the predict methods)."""
        return accepts_hints(self.net)

    def hint_maps(self, hints: Hints, lightness: torch.Tensor, photo_size: tuple[int, int]) -> HintMaps | None:
        """A photo's hints as maps at the network input, or ``None`` when there are none.

        Args:
            hints: points in the photo's coordinates, or maps already at the network input.
            lightness: ``(h, w)`` L* at the network input (the L* colours are snapped at).
            photo_size: ``(H, W)`` of the photo.

        Raises:
            UsageError: hints given to a network that cannot take them, or a point outside
                the photo.
        """
        if hints is None or (not isinstance(hints, HintMaps) and len(hints) == 0):
            return None
        if not self.accepts_hints:
            raise UsageError(f"model {self.model_name} cannot take colour hints")
        if isinstance(hints, HintMaps):
            if hints.size != tuple(lightness.shape):
                raise ValueError(f"hint maps are {hints.size}, the network input is {tuple(lightness.shape)}")
            return hints
        return rasterize_hints(hints, lightness.float().cpu(), photo_size)

    def _decode(self, small: torch.Tensor, hints: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """``(N, 1, s, s)`` L* on the device (and batched hint maps) -> ``(N, 2, h, w)`` float32 ab.

        With hints and a :attr:`hint_spread`, each photo's hints first weigh on a 313-bin
        model's distribution, then their remaining corrections are spread along their objects
        (:mod:`autocolor.hints.propagate`); the ab then comes back on the input grid.
        """
        fields = None
        if hints is not None and self.hint_spread is not None:
            fields = [hint_field(small[i, 0], hints[0][i].to(small.device), hints[1][i].to(small.device),
                                 self.hint_spread) for i in range(small.shape[0])]  # fmt: skip
        ab = self._decode_once(small, hints, fields, reduced_precision=True)
        if inference_dtype(self.device) != torch.float32 and not torch.isfinite(ab).all():
            # bf16 overflowed somewhere: the documented fp32 fallback (no-op cost on CPU).
            ab = self._decode_once(small, hints, fields, reduced_precision=False)
        if fields is not None:
            ab = torch.stack([spread_hints(ab[i], field) for i, field in enumerate(fields)])
        return ab

    def _decode_once(
        self,
        small: torch.Tensor,
        hints: tuple[torch.Tensor, torch.Tensor] | None,
        fields: list[HintField] | None,
        *,
        reduced_precision: bool,
    ) -> torch.Tensor:
        evidence = None
        if fields is not None and self.hint_spread is not None and self.hint_spread.evidence > 0:
            evidence = HintEvidence([(f.colors, f.weights) for f in fields], self.hint_spread.evidence,
                                    self.hint_spread.sigma)  # fmt: skip
        options = DecodeOptions(
            method=self.decoding,
            temperature=self.temperature,
            generator=self._generator(),
            extra=dict(self.extra),
            hints=hints,
            hint_evidence=evidence,
        )
        with autocast_context(self.device, enabled=reduced_precision):
            return predict_ab(self.net, small, options).float()

    def network_input(self, photo: Photo | np.ndarray) -> torch.Tensor:
        """A photo (or its ``(H, W)`` L* in ``[0, 100]``) -> ``(1, 1, h, w)`` float32 CPU tensor:
        what the network sees (:func:`resize_lightness` to :func:`network_input_size`).

        For square-input models every photo gives the same shape, so inputs of a batch can be
        stacked for :meth:`predict_low`. The photo's L* is read a strip of rows at a time
        (:func:`autocolor.render.shrink_for_network`): no full-size float copy is made.
        """
        from autocolor.render import shrink_for_network

        if not isinstance(photo, Photo):
            lightness = np.asarray(photo, dtype=np.float32)
            if lightness.ndim != 2 or min(lightness.shape) < 1:
                raise ValueError(f"lightness must be (H, W), got shape {lightness.shape}")
            photo = Photo("-", lightness=lightness)
        return shrink_for_network(photo, network_input_size(self.net, *photo.shape, self.size))

    def predict_low(
        self, small: torch.Tensor, hints: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Network + decoder on a batch: ``(N, 1, h, w)`` L* -> ``(N, 2, h', w')`` float32 CPU ab.

        ``hints`` are the batch's hint maps ``(N, 2, h, w)`` ab and ``(N, 1, h, w)`` mask
        (:func:`autocolor.hints.stack_hint_maps`, :meth:`hint_maps`), or ``None``.

        With a ``seed`` each photo is decoded on its own with a freshly seeded generator, so a
        photo gets the same colours whatever its place in a batch; without one the batch runs
        as one forward pass.
        """
        if small.ndim != 4 or small.shape[1] != 1:
            raise ValueError(f"expected (N, 1, h, w) L*, got shape {tuple(small.shape)}")
        with torch.inference_mode():
            if self.seed is not None and small.shape[0] > 1:
                return torch.cat([
                    self.predict_low(small[i : i + 1], None if hints is None else (hints[0][i : i + 1], hints[1][i : i + 1]))
                    for i in range(small.shape[0])
                ])
            return self._decode(self._to_device(small), hints).cpu()

    def _to_device(self, small: torch.Tensor) -> torch.Tensor:
        """The batch on the network's device: on CUDA through pinned host memory with an
        asynchronous copy, in channels-last layout; on the CPU as it is."""
        if self.device.type != "cuda":
            return small
        return small.pin_memory().to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)

    def render(self, photo: Photo, ab_low: np.ndarray, layout: Layout = Layout(), *, threads: int = 1) -> np.ndarray:
        """The full-resolution colour work, straight to output codes, a strip at a time.

        Args:
            photo: the decoded photo.
            ab_low: ``(2, h, w)`` float32 ab from :meth:`predict_low`.
            layout: bits, channel order and alpha of the codes (see
                :func:`autocolor.imageencode.output_layout` for what an output format wants).
            threads: threads sharing the strips.

        Returns:
            ``(H, W, 3|4)`` uint8/uint16 codes whose L* is the photo's (to the code rounding);
            equal to :meth:`colorize_photo` quantised, within one code.
        """
        from autocolor.render import render_codes

        return render_codes(photo, ab_low, layout=layout, method=self.upsample, threads=threads)

    def predict_ab_low(self, photo: Photo | np.ndarray, hints: Hints = None) -> np.ndarray:
        """One photo's ab on the network's grid, before upsampling: a photo (or its ``(H, W)`` L*)
        -> ``(2, h, w)`` float32.

        Video smoothing works on this grid, between the decoder and :meth:`upsample_ab`;
        :meth:`render` takes it to full resolution.
        """
        small = self.network_input(photo)
        shape = photo.shape if isinstance(photo, Photo) else np.shape(photo)
        maps = self.hint_maps(hints, small[0, 0], (int(shape[0]), int(shape[1])))
        if maps is None:
            return self.predict_low(small)[0].numpy()
        return self.predict_low(small, stack_hint_maps([maps], *small.shape[-2:]))[0].numpy()

    def upsample_ab(self, ab_low: np.ndarray, lightness: np.ndarray) -> np.ndarray:
        """``(2, h, w)`` ab + ``(H, W)`` full-res L* -> ``(2, H, W)`` float32 ab (this colorizer's method)."""
        return np.asarray(upsample_ab(np.asarray(ab_low), lightness, method=self.upsample), dtype=np.float32)

    def predict_ab(self, lightness: np.ndarray, hints: Hints = None) -> np.ndarray:
        """Predict full-resolution ab for one photo.

        Args:
            lightness: ``(H, W)`` L* in ``[0, 100]``, any size.
            hints: colour hints (points in this photo's pixels, see :mod:`autocolor.hints`),
                for networks that take them (:attr:`accepts_hints`).

        Returns:
            ``(2, H, W)`` float32 a*, b* in Lab units at the photo's full resolution.

        Raises:
            UsageError: hints for a network that cannot take them, or outside the photo.
        """
        lightness = np.asarray(lightness, dtype=np.float32)
        if lightness.ndim != 2 or min(lightness.shape) < 1:
            raise ValueError(f"lightness must be (H, W), got shape {lightness.shape}")
        with torch.inference_mode():
            full = torch.from_numpy(np.ascontiguousarray(lightness))[None, None].to(self.device)
            target = network_input_size(self.net, *lightness.shape, self.size)
            small = resize_lightness(full, target)
            maps = self.hint_maps(hints, small[0, 0], lightness.shape)
            ab_low = self._decode(small, stack_hint_maps([maps], *target))[0].cpu().numpy()
        return np.asarray(upsample_ab(ab_low, lightness, method=self.upsample), dtype=np.float32)

    @property
    def has_likelihood(self) -> bool:
        """Whether :meth:`nll` applies (likelihood models such as PIC)."""
        return has_likelihood(self.net)

    def nll(self, lightness: np.ndarray, ab: np.ndarray) -> tuple[float, int]:
        """Negative log-likelihood of a photo's true colours under the model.

        Args:
            lightness: ``(H, W)`` L* in ``[0, 100]``.
            ab: ``(2, H, W)`` true a*, b* (Lab units), same size.

        Returns:
            ``(nats, dims)``: the NLL of the ab at the network's resolution (L* and ab resized
            to its input as for prediction, ab area-averaged) and the number of scored
            dimensions; bits/dim = nats / (dims ln 2).
        """
        lightness = np.asarray(lightness, dtype=np.float32)
        with torch.inference_mode():
            full_l = torch.from_numpy(np.ascontiguousarray(lightness))[None, None].to(self.device)
            full_ab = torch.from_numpy(np.ascontiguousarray(ab, dtype=np.float32))[None].to(self.device)
            target = network_input_size(self.net, *lightness.shape, self.size)
            small_ab = F.interpolate(full_ab, size=target, mode="area")
            nats, dims = negative_log_likelihood(self.net, resize_lightness(full_l, target), small_ab)
        return float(nats[0]), dims

    def colorize_lightness(self, lightness: np.ndarray, hints: Hints = None) -> np.ndarray:
        """``(H, W)`` L* -> ``(H, W, 3)`` float32 sRGB in ``[0, 1]`` whose L* is the input's."""
        lightness = np.asarray(lightness, dtype=np.float32)
        return lightness_ab_to_rgb(lightness, self.predict_ab(lightness, hints))

    def colorize_photo(self, photo: Photo, hints: Hints = None) -> np.ndarray:
        """Colorize a photo read by :func:`autocolor.imagefile.read_photo`.

        ``hints`` are colour hints in the photo's (upright) pixel coordinates, e.g.
        ``[parse_hint("120,80,#1f3a93")]`` (see :mod:`autocolor.hints`); they need a network
        that takes them (:attr:`accepts_hints`). Returns ``(H, W, 3)`` float32 sRGB in
        ``[0, 1]``; write it with ``write_photo(path, rgb, like=photo)`` to keep alpha, bit
        depth and metadata.
        """
        ab_low = self.predict_ab_low(photo, hints)
        lightness = photo.lightness
        return lightness_ab_to_rgb(lightness, self.upsample_ab(ab_low, lightness))


def _first_method(kind: str) -> str:
    methods = decoding_methods(kind)
    if not methods:
        raise ValueError(f"output kind {kind!r} declares no decoding methods; pass decoding=")
    return methods[0]


def colorize(
    input_path: str | Path,
    output_path: str | Path | None = None,
    *,
    model: str | nn.Module = DEFAULT_MODEL,
    format: str | None = None,
    quality: int = 95,
    hints: Sequence[Hint] | None = None,
    **options: Any,
) -> Path | None:
    """Colorize one image file and write the result (overwriting an existing output).

    Args:
        input_path: image path, or ``"-"`` for stdin.
        output_path: where to write; default ``<stem>_color<ext>`` beside the input, or
            stdout (``"-"``) when reading stdin.
        model: registry name or built network (see :class:`Colorizer`).
        format: output format (``png``, ``jpg``, ``tif``, ``webp``); default from the suffix.
        quality: JPEG / WebP quality.
        hints: colour hints in the photo's pixels (a model that takes them, e.g. ``cic.siggraph17``).
        options: passed to :class:`Colorizer` (device, size, decoding, temperature, upsample,
            seed, pretrained, offline).

    Returns:
        The written path, or ``None`` when written to stdout.

    Raises:
        InputImageError, OutputError (also when the output is the input), and the
        :class:`Colorizer` errors.
    """
    source = str(input_path)
    if output_path is None:
        output_path = "-" if source == "-" else default_output_path(source, format)
    target = str(output_path)
    if source != "-" and target != "-" and same_file(source, target):
        raise OutputError(target, "is the input file; refusing to overwrite an input")
    output_format(target, format)  # an unusable output name fails before any work
    photo = read_photo(source)
    fmt = output_format(target, format, default=photo.format)
    colorizer = Colorizer(model, **options)
    layout = output_layout(fmt, photo)
    ab_low = colorizer.predict_ab_low(photo, hints)
    codes = colorizer.render(photo, ab_low, layout, threads=os.cpu_count() or 1)
    return write_codes(target, codes, photo, fmt, layout, quality=quality)
