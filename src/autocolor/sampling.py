"""Drawing several colorizations of one photo: which decoder samples a model, and the draws.

Sample ``i`` of a photo is drawn with its own seed, so any single sample can be reproduced on
its own. Generative models (PIC ``"ab_mixture"``, GCP ``"gcp"``) give true samples of
p(ab | L); models that predict an independent colour distribution per pixel (CIC ``"ab_bins"``,
Larsson ``"hue_chroma"``) can only be sampled pixel by pixel: a clearly labelled FALLBACK,
noisier and without spatial coherence. Regression models (``"ab"``) have nothing to sample.

Work done once per photo: resizing its L* to the network input and, for per-pixel fallback
models, the network's forward pass (its output is deterministic, so it is reused for every
seed). PIC draws up to :data:`DRAW_BATCH` samples as one batch (one generator per sample, the
embedding g(L) computed once): the per-pixel steps of its sampler cost about the same for one
sample or several, so 8 samples take about twice the time of one, and each is still exactly
the sample its seed draws alone. GCP draws one sample after another.

Library use::

    plan = plan_sampling("pic.small", temperature=0.8)
    colorizer = plan.colorizer(device="auto")
    for drawn in draw_samples(colorizer, plan, read_photo("old.jpg").lightness, seeds=[0, 1, 2]):
        ...  # drawn.rgb: (H, W, 3) float32 sRGB in [0, 1]; drawn.bits_per_dim: its likelihood

Likelihood models (PIC) also score every sample: ``bits_per_dim`` is ``-log2 p(ab | L)`` per
dimension of the drawn chroma under the model itself, one teacher-forced pass. Lower is more
probable; at temperature 1 its average is the model's entropy, so it tells a typical sample
from an unlikely one (a rare colour drawn somewhere) in the model's own terms.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from autocolor.color.upsample import upsample_ab
from autocolor.decode import (
    DecodeOptions,
    decoding_methods,
    draws_per_generator,
    has_likelihood,
    negative_log_likelihood,
    output_kind_of,
    predict_ab,
)
from autocolor.decode.autoregressive import MIXTURE_TEMPERATURE
from autocolor.devices import autocast_context, inference_dtype
from autocolor.errors import AutocolorError, UsageError
from autocolor.metrics.likelihood import bits_per_dim
from autocolor.models import model_info
from autocolor.pipeline import DEFAULT_MODEL, Colorizer, lightness_ab_to_rgb, resize_lightness
from autocolor.weights import manifest

#: Output kinds whose decoder draws coherent samples of the whole image.
GENERATIVE_KINDS = frozenset({"ab_mixture", "gcp"})
#: PIC's output kind, the one whose sampler has a mixture temperature.
MIXTURE_KIND = "ab_mixture"
#: The output kind whose decoder reads ``class_id`` / ``direction`` / ``strength``.
GCP_KIND = "gcp"
#: The model tried first when no model is named (only if its weights are bundled).
BUNDLED_SAMPLER = "pic.deep128"
#: What ``autocolor sample --json`` reports as the method of per-pixel sampling.
FALLBACK_METHOD = "per-pixel fallback"
#: Most samples of one photo drawn together (decoders that take one generator per sample).
DRAW_BATCH = 16


# --------------------------------------------------------------------------- what to sample with


def default_sample_model() -> str:
    """:data:`BUNDLED_SAMPLER` when weights.toml ships its weights in the package, else the
    pipeline's default model (a per-pixel fallback sampler)."""
    try:
        entry = manifest().get(BUNDLED_SAMPLER)
    except AutocolorError:  # a broken manifest is reported when weights are actually loaded
        entry = None
    if entry is not None and any(source.kind == "bundled" for source in entry.sources):
        return BUNDLED_SAMPLER
    return DEFAULT_MODEL


def fallback_note(model: str) -> str:
    """The one-line stderr note that ``model``'s samples are the per-pixel fallback."""
    return (
        f"note: {model} is not a generative model; samples are drawn per pixel from its "
        "predicted colour distribution (fallback)"
    )


@dataclass(frozen=True)
class SamplingPlan:
    """How a model is sampled.

    Attributes:
        model: registry name.
        decoding: decoder method passed in ``DecodeOptions.method``.
        method: what ``--json`` reports: ``"sample"``, ``"mode"`` or :data:`FALLBACK_METHOD`.
        temperature: sampling temperature (> 0), or ``None`` for the mode (``--temperature 0``).
        fallback: per-pixel sampling of a non-generative model.
        extra: ``DecodeOptions.extra``: the model's defaults, then GCP's ``class_id``,
            ``direction``, ``strength`` or PIC's ``mixture_temperature``.
    """

    model: str
    decoding: str
    method: str
    temperature: float | None
    fallback: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def colorizer(self, device: str | torch.device = "auto", **options: Any) -> Colorizer:
        """The :class:`Colorizer` that draws this plan's samples; ``options`` are the other
        ``Colorizer`` arguments (``size``, ``upsample``, ``pretrained``, ``offline``)."""
        return Colorizer(self.model, device, decoding=self.decoding, temperature=self.temperature,
                         extra=self.extra, **options)  # fmt: skip


def gcp_extra(
    model: str,
    *,
    class_ref: str | None = None,
    direction: int | None = None,
    strength: float | None = None,
) -> dict[str, Any]:
    """Decoder options from ``--class/--direction/--strength``; :class:`UsageError` for non-GCP models.

    Returns the ``DecodeOptions.extra`` keys the GCP decoder reads (``class_id``, ``direction``,
    ``strength``), only those given.
    """
    gcp_options = {"--class": class_ref, "--direction": direction, "--strength": strength}
    given = [name for name, value in gcp_options.items() if value is not None]
    if given and model_info(model).output_kind != GCP_KIND:
        verb = "applies" if len(given) == 1 else "apply"
        raise UsageError(f"{', '.join(given)} {verb} only to GCP models, not to {model}")
    extra: dict[str, Any] = {}
    if class_ref is not None:
        extra["class_id"] = resolve_class(class_ref)
    if direction is not None:
        extra["direction"] = direction
    if strength is not None:
        extra["strength"] = strength
    return extra


def plan_sampling(
    model: str,
    *,
    temperature: float | None = None,
    mixture_temperature: float | None = None,
    class_ref: str | None = None,
    direction: int | None = None,
    strength: float | None = None,
) -> SamplingPlan:
    """Choose the decoder method for ``model``; :class:`UsageError` when it cannot be sampled.

    Generative kinds use ``"sample"`` (or, where their decoder does not declare it, the model's
    default decoding, which is then its sampler); other kinds need a per-pixel ``"sample"``
    method (the fallback). ``temperature`` defaults to the model's
    (``model_info(model).temperature``); 0 asks for the mode (every sample the same).
    ``mixture_temperature`` (PIC only, > 0) divides the mixture logits; it defaults to the
    model's (``decode_extra``, else 1). GCP options are refused for other models.
    """
    info = model_info(model)
    kind = info.output_kind
    methods = decoding_methods(kind) or ()
    fallback = kind not in GENERATIVE_KINDS
    if fallback and "sample" not in methods:
        raise UsageError(
            f"{model} predicts a single colour per pixel ({kind!r} output), so it cannot draw "
            "samples; use a generative model such as pic.small, or cic.lite (per-pixel fallback)"
        )
    extra = {**info.decode_extra, **gcp_extra(model, class_ref=class_ref, direction=direction, strength=strength)}
    if mixture_temperature is not None:
        if kind != MIXTURE_KIND:
            raise UsageError(f"--mixture-temperature applies only to PIC models, not to {model}")
        if not mixture_temperature > 0:
            raise UsageError(f"--mixture-temperature must be > 0, got {mixture_temperature}")
        extra[MIXTURE_TEMPERATURE] = float(mixture_temperature)
    if kind == MIXTURE_KIND:  # explicit, so that --json can report it
        extra.setdefault(MIXTURE_TEMPERATURE, 1.0)
    if temperature is None:
        temperature = info.temperature
    if temperature == 0:
        if "mode" not in methods:
            raise UsageError(f"--temperature 0 (the mode) is not available for {model}; use a value > 0")
        return SamplingPlan(model, "mode", "mode", None, fallback, extra)
    if fallback:
        return SamplingPlan(model, "sample", FALLBACK_METHOD, temperature, True, extra)
    decoding = "sample" if "sample" in methods else info.decoding
    return SamplingPlan(model, decoding, "sample", temperature, False, extra)


def resolve_class(ref: str) -> int:
    """A GCP class given as a number (ImageNet index) or a name, looked up in
    ``autocolor.models.gcp.classes``: its ``class_id(name) -> int`` if it has one, else its
    ``CLASS_NAMES`` sequence (index = id; an entry may list comma-separated synonyms)."""
    text = ref.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    try:
        classes = importlib.import_module("autocolor.models.gcp.classes")
    except ImportError:
        raise UsageError(f"--class {ref!r}: class names are not available; give the class number") from None
    lookup = getattr(classes, "class_id", None)
    if callable(lookup):
        try:
            return int(lookup(text))
        except (LookupError, ValueError, UsageError):
            raise UsageError(f"--class {ref!r}: unknown class name") from None
    wanted = text.lower()
    for index, entry in enumerate(getattr(classes, "CLASS_NAMES", ())):
        if wanted in (name.strip().lower() for name in str(entry).split(",")):
            return index
    raise UsageError(f"--class {ref!r}: unknown class name")


# --------------------------------------------------------------------------- drawing


class _ReusedOutput:
    """Stands in for a deterministic network: the first forward pass is kept, and a later call
    with an equal input returns it instead of running the network again. Attributes (``output_kind``,
    ``ab_grid``, ...) are the network's, so any registered decoder can use it."""

    def __init__(self, net: nn.Module) -> None:
        self._net = net
        self._input: torch.Tensor | None = None
        self._output: torch.Tensor | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._net, name)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._input is None or self._input.shape != x.shape or not torch.equal(self._input, x):
            self._input, self._output = x.clone(), self._net(x)
        assert self._output is not None
        return self._output

    def forget(self) -> None:
        self._input = self._output = None


@dataclass(frozen=True)
class DrawnSample:
    """One colorization drawn by :func:`draw_samples`.

    Attributes:
        seed: the ``torch.Generator`` seed it was drawn with.
        rgb: ``(H, W, 3)`` float32 sRGB in ``[0, 1]`` whose L* is the photo's.
        bits_per_dim: for likelihood models, ``-log2 p(chroma | L)`` per dimension of the drawn
            chroma (at the network's resolution) under the model; ``None`` for the others.
    """

    seed: int
    rgb: np.ndarray
    bits_per_dim: float | None


@dataclass(frozen=True)
class DrawnChroma:
    """One sample at the network's output resolution, before upsampling.

    Attributes:
        seed: the ``torch.Generator`` seed it was drawn with.
        ab: ``(1, 2, h, w)`` float32 ab in Lab units.
        bits_per_dim: as in :class:`DrawnSample`.
    """

    seed: int
    ab: torch.Tensor
    bits_per_dim: float | None


def samples_bits_per_dim(net: nn.Module, small: torch.Tensor, ab: torch.Tensor) -> list[float]:
    """Bits/dim of each drawn chroma ``ab`` ``(S, 2, h, w)`` given the network input L* ``small``
    ``(1, 1, H, W)`` of the photo they were drawn for. ``ab`` is repeated to ``(H, W)`` so that
    the likelihood's pooling brings back exactly the drawn levels; each is scored as if alone."""
    rows, cols = small.shape[-2] // ab.shape[-2], small.shape[-1] // ab.shape[-1]
    full = ab.repeat_interleave(rows, dim=-2).repeat_interleave(cols, dim=-1)
    nats, dims = negative_log_likelihood(net, small.float(), full.float())
    return [bits_per_dim(float(value), dims) for value in nats]


def draw_chroma(
    colorizer: Colorizer, plan: SamplingPlan, lightness: np.ndarray, seeds: list[int], *, batch: int = DRAW_BATCH
) -> Iterator[DrawnChroma]:
    """Yield each seed's sample at the network's output resolution, in order, scored when the
    model has a likelihood.

    Decoders that take one generator per sample (PIC) draw up to ``batch`` seeds together: one
    pass of the network per step for all of them, each sample still the one its seed draws
    alone (each consumes its own generator exactly as alone, and is scored alone). Others
    draw seed after seed (the per-pixel fallback runs the network once for all).

    Args:
        colorizer: the loaded model, input size and upsampling (its own decoding is not used).
        plan: from :func:`plan_sampling` for the same model.
        lightness: ``(H, W)`` float32 L* in ``[0, 100]``.
        seeds: one ``torch.Generator`` seed per sample.
        batch: most samples drawn at once (bounds memory: ~10 MB each for ``pic.deep128``).
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    scored = not plan.fallback and has_likelihood(colorizer.net)
    together = batch if draws_per_generator(output_kind_of(colorizer.net)) else 1
    reused = _ReusedOutput(colorizer.net) if plan.fallback else None
    with torch.inference_mode():
        small = _network_input(colorizer, np.ascontiguousarray(lightness, dtype=np.float32))
        for first in range(0, len(seeds), together):
            group = seeds[first : first + together]
            ab = _draw_chroma(colorizer, plan, small, group, reused)
            bits = samples_bits_per_dim(colorizer.net, small, ab) if scored else [None] * len(group)
            for row, (seed, score) in enumerate(zip(group, bits, strict=True)):
                yield DrawnChroma(seed, ab[row : row + 1], score)


def full_resolution(colorizer: Colorizer, lightness: np.ndarray, drawn: DrawnChroma) -> DrawnSample:
    """A drawn chroma upsampled to the photo's ``(H, W)`` L* (float32 in ``[0, 100]``): its colorization."""
    lightness = np.ascontiguousarray(lightness, dtype=np.float32)
    ab_full = upsample_ab(drawn.ab[0].cpu().numpy(), lightness, method=colorizer.upsample)
    rgb = lightness_ab_to_rgb(lightness, np.asarray(ab_full, dtype=np.float32))
    return DrawnSample(drawn.seed, rgb, drawn.bits_per_dim)


def draw_samples(
    colorizer: Colorizer, plan: SamplingPlan, lightness: np.ndarray, seeds: list[int], *, batch: int = DRAW_BATCH
) -> Iterator[DrawnSample]:
    """Yield one full-resolution colorization per seed, in order, with its bits/dim when the
    model has a likelihood.

    Args:
        colorizer: the loaded model, input size and upsampling (its own decoding is not used).
        plan: from :func:`plan_sampling` for the same model.
        lightness: ``(H, W)`` float32 L* in ``[0, 100]``.
        seeds: one ``torch.Generator`` seed per sample.
        batch: most samples drawn at once (see :func:`draw_chroma`).

    Yields:
        :class:`DrawnSample`; the same seed gives the same sample, whatever the other seeds.
    """
    for drawn in draw_chroma(colorizer, plan, lightness, seeds, batch=batch):
        yield full_resolution(colorizer, lightness, drawn)


def rank_by_likelihood(
    colorizer: Colorizer, plan: SamplingPlan, lightness: np.ndarray, seeds: list[int], *, batch: int = DRAW_BATCH
) -> list[DrawnChroma]:
    """Draw each seed's sample at the network's resolution and score it: most probable (lowest
    bits/dim) first (ties: lower seed first).

    What ``autocolor sample --best-of`` keeps: the model's own judgement of which draws are
    typical, which filters out the ones that drew a rare colour somewhere. Only the kept draws
    are then brought to full resolution (:func:`full_resolution`; the same as
    :func:`draw_samples` gives for their seeds), so the candidates cost no upsampling.

    Raises:
        UsageError: the model has no likelihood (only PIC models can be ranked).
    """
    if plan.fallback or not has_likelihood(colorizer.net):
        raise UsageError(f"{plan.model} defines no likelihood to rank its samples by; use a PIC model")
    drawn = list(draw_chroma(colorizer, plan, lightness, seeds, batch=batch))
    return sorted(drawn, key=lambda item: (cast(float, item.bits_per_dim), item.seed))


def _network_input(colorizer: Colorizer, lightness: np.ndarray) -> torch.Tensor:
    """``(H, W)`` float32 L* -> ``(1, 1, s, s)`` on the device, resized as every sample sees it."""
    return resize_lightness(torch.from_numpy(lightness)[None, None].to(colorizer.device), colorizer.size)


def _draw_chroma(
    colorizer: Colorizer, plan: SamplingPlan, small: torch.Tensor, seeds: list[int], reused: _ReusedOutput | None
) -> torch.Tensor:
    """The seeds' samples ``(S, 2, h, w)`` float32 ab at the network's output resolution; more
    than one seed only for decoders that :func:`draws_per_generator`."""
    device = colorizer.device
    net = cast("nn.Module", reused) if reused is not None else colorizer.net

    def decode(group: list[int], reduced_precision: bool) -> torch.Tensor:
        generators = [torch.Generator(device=device).manual_seed(seed) for seed in group]
        options = DecodeOptions(
            method=plan.decoding,
            temperature=plan.temperature if plan.temperature is not None else 1.0,
            generator=generators[0] if len(generators) == 1 else generators,
            extra=dict(plan.extra),
        )
        with autocast_context(device, enabled=reduced_precision):
            return predict_ab(net, small, options).float()

    ab = decode(seeds, True)
    if inference_dtype(device) != torch.float32:
        overflowed = [row for row in range(ab.shape[0]) if not torch.isfinite(ab[row]).all()]
        if overflowed:
            # bf16 overflowed: redo those samples in fp32 with the same seeds (as colorize does);
            # each row is its seed's own draw, so the others stand.
            if reused is not None:
                reused.forget()
            ab[overflowed] = decode([seeds[row] for row in overflowed], False)
    return ab
