"""Decoders: a network's raw output -> ab in Lab units, keyed by the network's ``output_kind``.

Every network class carries ``output_kind: ClassVar[str]`` (see docs/architecture.md). A decoder
is a function ``(net, lightness, options) -> ab`` registered for one kind with
:func:`register_decoder`; :func:`predict_ab` looks the kind up, so the pipeline never branches on
model names. A decoder runs the network itself because some kinds need several passes
(autoregressive sampling) or extra inputs (a class id).

This module registers the two CIC kinds:

- ``"ab_bins"``: logits ``(N, 313, h, w)`` over ``cic_ab_grid()``; methods ``annealed_mean``
  (CIC's default, T = 0.38), ``mean`` (expectation, T = 1), ``mode`` (most likely bin) and
  ``sample`` (independent per-pixel draws at temperature T, seeded by ``options.generator``).
  ``extra[PRIOR_CORRECTION]`` first undoes that share of the training's class rebalancing
  (the project prior's weights at ``extra[REBALANCE_LAMBDA]``): less saturation where the
  network is unsure, neutral things kept neutral.
  ``DecodeOptions.hint_evidence`` then adds colour hints as evidence on the distribution
  (:func:`autocolor.decode.bins.add_hint_evidence`).
- ``"ab"``: direct regression; the network already returns ab; the only method is ``ab``.

Other families register theirs in their own modules, imported explicitly at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from autocolor.color.bins import cic_ab_grid
from autocolor.color.prior import project_log_weights
from autocolor.decode import bins as bin_decoding
from autocolor.errors import UsageError

#: ``DecodeOptions.extra`` key: share in [0, 1] of the training rebalancing to undo before decoding
#: 313-bin logits (:func:`autocolor.decode.bins.correct_rebalancing`); 0 = CIC's decoding.
PRIOR_CORRECTION = "prior_correction"
#: ``DecodeOptions.extra`` key: the CIC rebalancing lambda the model was trained with (default 0.5).
REBALANCE_LAMBDA = "rebalance_lambda"
#: ``DecodeOptions.extra`` key: average the network's output over the photo and its mirror image
#: (per-pixel outputs only: the ``ab_bins`` and ``ab`` kinds). Twice the network time.
FLIP_AVERAGE = "flip_average"
#: Output kinds each of the two options above applies to (the CLI refuses others, eval skips them).
OPTION_KINDS: dict[str, tuple[str, ...]] = {PRIOR_CORRECTION: ("ab_bins",), FLIP_AVERAGE: ("ab_bins", "ab")}

#: Temperature used when a method is chosen without one (and it is not the model's default).
DEFAULT_TEMPERATURES: dict[str, float] = {"annealed_mean": 0.38, "mean": 1.0, "sample": 1.0}


@dataclass(frozen=True)
class HintEvidence:
    """Hints as evidence on 313-bin distributions (see :attr:`DecodeOptions.hint_evidence`)."""

    fields: Sequence[tuple[torch.Tensor, torch.Tensor]]
    strength: float
    sigma: float


@dataclass
class DecodeOptions:
    """How to turn a network's output into ab.

    Attributes:
        method: decoder method, e.g. ``"annealed_mean"``, ``"mean"``, ``"mode"``, ``"sample"``,
            ``"ab"``; which ones apply depends on the network's output kind.
        temperature: softmax temperature (> 0) for ``annealed_mean`` and ``sample``; lower is
            more saturated / more peaked. Ignored by methods that have none.
        generator: random source for sampling methods (a seeded generator gives repeatable
            output); ``None`` uses torch's global generator. A sequence of generators, one per
            sample, only for decoders registered with ``per_sample_generators`` (see
            :func:`draws_per_generator`).
        extra: family-specific options, e.g. ``{"class_id": 207}`` for GCP.
        hints: colour hints for hint-aware networks (``accepts_hints``): ``(ab, mask)`` with
            ab ``(N, 2, h, w)`` in Lab units and mask ``(N, 1, h, w)`` 0/1 at the network's
            input resolution (see :mod:`autocolor.hints.raster`); ``None``: no hints.
        hint_evidence: for 313-bin models, per photo of the batch ``(colors (K, 2), weights
            (K, h, w))`` of its hints (:class:`autocolor.hints.propagate.HintField`), with
            the strength and sigma of :func:`autocolor.decode.bins.add_hint_evidence`;
            ``None``: decode the network's distribution as it is.
    """

    method: str = "annealed_mean"
    temperature: float = 0.38
    generator: torch.Generator | Sequence[torch.Generator] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    hints: tuple[torch.Tensor, torch.Tensor] | None = None
    hint_evidence: HintEvidence | None = None


Decoder = Callable[[nn.Module, torch.Tensor, DecodeOptions], torch.Tensor]
_D = TypeVar("_D", bound=Decoder)


@dataclass(frozen=True)
class _Entry:
    decoder: Decoder
    methods: tuple[str, ...] | None  # None: the decoder validates ``options.method`` itself
    per_sample_generators: bool


_DECODERS: dict[str, _Entry] = {}


def register_decoder(
    output_kind: str, *, methods: Sequence[str] | None = None, per_sample_generators: bool = False
) -> Callable[[_D], _D]:
    """Decorator registering a decoder for networks whose ``output_kind`` is ``output_kind``.

    ``methods`` lists the ``DecodeOptions.method`` values the decoder accepts (the first is
    listed first in messages); :func:`predict_ab` rejects others with a :class:`UsageError`.
    ``per_sample_generators``: the decoder takes a sequence of generators (see
    :func:`draws_per_generator`). Registering a kind twice is a bug.
    """

    def decorator(fn: _D) -> _D:
        if output_kind in _DECODERS:
            raise ValueError(f"a decoder for output kind {output_kind!r} is registered twice")
        _DECODERS[output_kind] = _Entry(fn, tuple(methods) if methods is not None else None, per_sample_generators)
        return fn

    return decorator


def output_kind_of(net: nn.Module) -> str:
    """The network's ``output_kind`` class attribute; a network without one is a bug."""
    kind = getattr(net, "output_kind", None)
    if not isinstance(kind, str):
        raise TypeError(f"{type(net).__name__} has no 'output_kind' class attribute")
    return kind


def decoder_kinds() -> list[str]:
    """Output kinds that have a registered decoder, sorted."""
    return sorted(_DECODERS)


def decoding_methods(output_kind: str) -> tuple[str, ...] | None:
    """Methods the decoder of ``output_kind`` accepts (``None``: not declared)."""
    return _entry(output_kind).methods


def draws_per_generator(output_kind: str) -> bool:
    """Whether the decoder of ``output_kind`` takes ``DecodeOptions.generator`` as a sequence of
    ``S`` generators: given one photo (``N = 1``) it returns ``S`` samples, sample ``s`` drawn
    from the ``s``-th generator exactly as that generator draws it alone, in one batch."""
    return _entry(output_kind).per_sample_generators


def _entry(output_kind: str) -> _Entry:
    try:
        return _DECODERS[output_kind]
    except KeyError:
        raise ValueError(
            f"no decoder registered for output kind {output_kind!r} "
            f"(registered: {', '.join(decoder_kinds()) or 'none'})"
        ) from None


def check_method(output_kind: str, method: str) -> None:
    """Raise :class:`UsageError` when ``method`` does not apply to ``output_kind`` networks."""
    methods = _entry(output_kind).methods
    if methods is not None and method not in methods:
        raise UsageError(
            f"decoding {method!r} does not apply to models with {output_kind!r} output; "
            f"choose from: {', '.join(methods)}"
        )


def accepts_hints(net: nn.Module) -> bool:
    """Whether ``net`` takes colour hints: its class sets ``accepts_hints: ClassVar[bool] = True``
    and its ``forward(lightness, hints=None, mask=None)`` follows the SIGGRAPH17 convention."""
    return bool(getattr(net, "accepts_hints", False))


def run_network(net: nn.Module, lightness: torch.Tensor, options: DecodeOptions) -> torch.Tensor:
    """``net(lightness)``, with ``options.hints`` passed on as ``(hints, mask)`` when given.

    Decoders call this instead of ``net(lightness)`` so that hints reach the network without
    any decoder knowing about them; :func:`predict_ab` has checked the network takes them.
    With ``options.extra[FLIP_AVERAGE]`` the output is the mean of the network's output for the
    photo and, flipped back, for its mirror image (test-time augmentation of per-pixel outputs).
    """
    if options.extra.get(FLIP_AVERAGE):
        # One batched pass over the photo and its mirror; the mirror's output is flipped back.
        n = lightness.shape[0]
        mirrored = DecodeOptions(hints=None if options.hints is None else tuple(  # type: ignore[arg-type]
            torch.cat((t, t.flip(-1))) for t in options.hints
        ))
        both = run_network(net, torch.cat((lightness, lightness.flip(-1))), mirrored)
        return (both[:n] + both[n:].flip(-1)) / 2
    if options.hints is None:
        return net(lightness)
    hints, mask = options.hints
    return net(lightness, hints.to(lightness.device), mask.to(lightness.device))


def predict_ab(net: nn.Module, lightness: torch.Tensor, options: DecodeOptions) -> torch.Tensor:
    """Run ``net`` on L* and decode its output to ab.

    Args:
        net: a network with an ``output_kind`` class attribute, on ``lightness``'s device.
        lightness: ``(N, 1, h, w)`` L* in ``[0, 100]`` at the network's input size.
        options: decoder method, temperature, generator and family extras.

    Returns:
        ``(N, 2, h', w')`` float32 ab in Lab units at the network's output resolution (a quarter
        of the input for ECCV16-style nets; upsampling is the caller's job); ``(S, 2, h', w')``
        for one photo and ``S`` generators (:func:`draws_per_generator` decoders only).
    """
    kind = output_kind_of(net)
    check_method(kind, options.method)
    if options.hints is not None:
        if not accepts_hints(net):
            raise UsageError(f"{type(net).__name__} cannot take colour hints")
        hints, mask = options.hints
        n, _, h, w = lightness.shape
        if tuple(hints.shape) != (n, 2, h, w) or tuple(mask.shape) != (n, 1, h, w):
            raise ValueError(
                f"hints must be ({n}, 2, {h}, {w}) and mask ({n}, 1, {h}, {w}) for L* {tuple(lightness.shape)}, "
                f"got {tuple(hints.shape)} and {tuple(mask.shape)}"
            )
    entry = _entry(kind)
    generator = options.generator
    if not (generator is None or isinstance(generator, torch.Generator) or entry.per_sample_generators):
        raise TypeError(f"the decoder of {kind!r} output takes one generator, not a sequence")
    return entry.decoder(net, lightness, options)


#: output_kind -> fn(net, lightness (N,1,h,w), ab (N,2,h,w) Lab) -> (nats (N,), dims per image).
#: lightness may also be one photo (1,1,h,w) for N ab (several colorizations of it, e.g. samples).
Likelihood = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, int]]
_LIKELIHOODS: dict[str, Likelihood] = {}


def register_likelihood(output_kind: str) -> Callable[[Likelihood], Likelihood]:
    """Register the exact negative log-likelihood of ground-truth ab for a likelihood model kind."""

    def decorator(fn: Likelihood) -> Likelihood:
        _LIKELIHOODS[output_kind] = fn
        return fn

    return decorator


def has_likelihood(net: nn.Module) -> bool:
    """Whether ``net``'s output kind defines a likelihood of the true colours (PIC does)."""
    return kind_has_likelihood(output_kind_of(net))


def kind_has_likelihood(output_kind: str) -> bool:
    """Whether networks of ``output_kind`` define a likelihood (checked before a model loads)."""
    return output_kind in _LIKELIHOODS


def negative_log_likelihood(net: nn.Module, lightness: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, int]:
    """NLL in nats of ``ab`` ``(N, 2, h, w)`` given L* ``(N, 1, h, w)`` at the network's input size
    (or ``(1, 1, h, w)``: one photo, ``N`` colorizations of it).

    Returns ``(nats (N,), dims)`` where ``dims`` is the number of scored dimensions per image
    (2 per chroma pixel for PIC); bits/dim = nats / (dims ln 2).
    """
    kind = output_kind_of(net)
    if kind not in _LIKELIHOODS:
        raise UsageError(f"models with {kind!r} output define no likelihood")
    return _LIKELIHOODS[kind](net, lightness, ab)


def _bin_grid(net: nn.Module, device: torch.device) -> torch.Tensor:
    # A network trained on another quantisation can carry its own grid; CIC nets use the 313 bins.
    grid = getattr(net, "ab_grid", None)
    return grid.to(device) if isinstance(grid, torch.Tensor) else cic_ab_grid(device)


@register_decoder("ab_bins", methods=("annealed_mean", "mean", "mode", "sample"))
def _decode_ab_bins(net: nn.Module, lightness: torch.Tensor, options: DecodeOptions) -> torch.Tensor:
    # Softmax in fp32 even when the forward pass ran under bf16 autocast.
    logits = run_network(net, lightness, options).float()
    strength = float(options.extra.get(PRIOR_CORRECTION, 0.0))
    if strength:
        lam = float(options.extra.get(REBALANCE_LAMBDA, 0.5))
        logits = bin_decoding.correct_rebalancing(logits, project_log_weights(lam), strength)
    grid = _bin_grid(net, logits.device)
    if options.hint_evidence is not None:
        given = options.hint_evidence
        logits = torch.cat([
            bin_decoding.add_hint_evidence(logits[i : i + 1], grid, colors.to(logits.device),
                                           weights.to(logits.device), given.strength, given.sigma)
            for i, (colors, weights) in enumerate(given.fields)
        ])  # fmt: skip
    if options.method == "annealed_mean":
        return bin_decoding.annealed_mean(logits, grid, options.temperature)
    if options.method == "mean":
        return bin_decoding.expectation(logits, grid)
    if options.method == "mode":
        return bin_decoding.mode(logits, grid)
    return bin_decoding.sample(logits, grid, options.temperature, options.generator)


@register_decoder("ab", methods=("ab",))
def _decode_ab(net: nn.Module, lightness: torch.Tensor, options: DecodeOptions) -> torch.Tensor:
    ab = run_network(net, lightness, options).float()
    if ab.dim() != 4 or ab.shape[1] != 2:
        raise ValueError(f"an 'ab' network must return (N, 2, h, w), got {tuple(ab.shape)}")
    return ab


# Family decoders register themselves on import. Add each new family here, explicitly
# (no directory scanning); they import this module's register_decoder, defined above.
from autocolor.decode import autoregressive  # noqa: E402, F401  PIC: "ab_mixture"
from autocolor.decode import gcp  # noqa: E402, F401  GCP: "gcp"
from autocolor.decode import hue_chroma  # noqa: E402, F401  Larsson: "hue_chroma"

