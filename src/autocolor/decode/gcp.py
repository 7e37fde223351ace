"""Decoder for GCP networks (output kind ``"gcp"``): class choice, latent diversity, one pass.

Methods:

- ``"gcp"`` (default; ``"mode"`` is the same): the encoder's latent as it is (the official
  deterministic result), optionally moved along a deformator direction by an explicit strength.
- ``"sample"``: a diverse result seeded by ``options.generator``: without a direction the latent
  gets Gaussian noise (the official "random diverse" mode, ``z + N(0, I)``); with a direction it
  moves along it by ``strength``, or by a strength drawn uniformly from ``[-16, 16]`` (the
  official sweep range) when none is given. The same seed gives the same output.

``options.extra`` keys (all optional):

- ``class_id``: ImageNet class as an int, a digit string or a name (``"golden retriever"``), or a
  sequence with one per image. ``None``: chosen automatically
  (:func:`autocolor.models.gcp.choose.choose_classes`).
- ``class_candidates``: shortlist size of the automatic choice (default 3; 1 = discriminator
  projection only).
- ``direction``: deformator direction index (``0 <= k < 119``; the authors found 4, 6, 23
  colour-relevant).
- ``strength``: shift along ``direction`` (official demos: ``-16 .. 16``).
- ``noise``: scale of the Gaussian perturbation of ``"sample"`` (default 1 without a direction,
  0 with one).
- ``truncation``: if set (> 0), the noise is drawn from a normal truncated to
  ``[-truncation, truncation]`` (BigGAN's truncation trick).
- ``chosen``: if a dict, the decoder stores the classes it used there (``"class_ids"``) and, when it
  chose them, the shortlist (``"candidates"``) — for CLI reporting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from autocolor.decode import DecodeOptions, register_decoder
from autocolor.errors import UsageError
from autocolor.models.gcp.choose import DEFAULT_CANDIDATES, choose_classes
from autocolor.models.gcp.classes import parse_class
from autocolor.models.gcp.gcp import GCPColorizer

__all__ = ["METHODS", "SHIFT_RANGE", "latent_shift", "resolve_class_ids"]

METHODS = ("gcp", "sample", "mode")
#: Official range of deformator strengths (``DIVERSE.SHIFT_RANGE``).
SHIFT_RANGE = 16.0
_KNOWN_KEYS = {"class_id", "class_candidates", "direction", "strength", "noise", "truncation", "chosen"}


def resolve_class_ids(net: GCPColorizer, value: Any, batch: int) -> torch.Tensor | None:
    """``extra["class_id"]`` -> ``(batch,)`` long tensor, or ``None`` for the automatic choice.

    Raises:
        UsageError: unknown name, id out of range for the network, or a sequence of the wrong length.
    """
    if value is None:
        return None
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value] * batch
    if len(values) != batch:
        raise UsageError(f"got {len(values)} classes for {batch} images")
    ids = [parse_class(v) for v in values]
    limit = net.config.n_classes
    bad = [i for i in ids if i is None or not 0 <= i < limit]
    if bad:
        raise UsageError(f"class id {bad[0]} is out of range for this model (0-{limit - 1})")
    return torch.tensor(ids, dtype=torch.long)


def _number(extra: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = extra.get(key, default)
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"GCP option {key!r} must be a {kind.__name__}, got {value!r}") from None


def _noise(shape: tuple[int, int], truncation: float | None, generator: torch.Generator | None,
           device: torch.device) -> torch.Tensor:  # fmt: skip
    # Drawn on the generator's device so a seeded generator gives the same numbers wherever used.
    where = generator.device if generator is not None else device
    if truncation is None:
        noise = torch.randn(shape, generator=generator, device=where)
    else:
        noise = torch.empty(shape, device=where)
        nn.init.trunc_normal_(noise, 0.0, 1.0, -truncation, truncation, generator=generator)
    return noise.to(device)


def latent_shift(net: GCPColorizer, batch: int, options: DecodeOptions, device: torch.device) -> torch.Tensor | None:
    """The latent offset ``(batch, latent_dim)`` that ``options`` asks for, or ``None`` for none."""
    extra = options.extra
    direction = _number(extra, "direction", int)
    strength = _number(extra, "strength", float)
    truncation = _number(extra, "truncation", float)
    if truncation is not None and truncation <= 0:
        raise UsageError(f"truncation must be > 0, got {truncation}")
    sampling = options.method == "sample"
    noise_scale = _number(extra, "noise", float, 1.0 if sampling and direction is None else 0.0)
    if noise_scale < 0:
        raise UsageError(f"noise must be >= 0, got {noise_scale}")
    shift = torch.zeros(batch, net.latent_dim, device=device)
    if direction is not None:
        if not 0 <= direction < net.deformator.dim:
            raise UsageError(f"latent direction must be in [0, {net.deformator.dim - 1}], got {direction}")
        if strength is None:
            if not sampling:
                raise UsageError("a latent direction needs a strength (e.g. --strength 8) unless sampling")
            where = options.generator.device if options.generator is not None else device
            draw = torch.rand(batch, generator=options.generator, device=where).to(device)
            strengths = (draw * 2 - 1) * SHIFT_RANGE
        else:
            strengths = torch.full((batch,), strength, device=device)
        unit = net.deformator.shift(direction, 1.0, net.latent_dim).to(device)
        shift = shift + strengths[:, None] * unit[None]
    elif strength is not None:
        raise UsageError("--strength needs --direction (a deformator direction index)")
    if sampling and noise_scale > 0:
        shift = shift + noise_scale * _noise((batch, net.latent_dim), truncation, options.generator, device)
    return shift if bool(shift.abs().sum() > 0) else None


@register_decoder("gcp", methods=METHODS)
def decode_gcp(net: nn.Module, lightness: torch.Tensor, options: DecodeOptions) -> torch.Tensor:
    """Colorize ``lightness`` ``(N, 1, H, W)`` (L* in ``[0, 100]``) with a GCP network.

    Returns ab ``(N, 2, H, W)`` float32 in Lab units at the input resolution.
    """
    if not isinstance(net, GCPColorizer):
        raise TypeError(f"the 'gcp' decoder needs a GCPColorizer, got {type(net).__name__}")
    extra = options.extra
    unknown = sorted(set(extra) - _KNOWN_KEYS)
    if unknown:
        raise UsageError(f"unknown GCP option(s) {unknown}; known: {sorted(_KNOWN_KEYS)}")
    batch, device = lightness.shape[0], lightness.device
    class_ids = resolve_class_ids(net, extra.get("class_id"), batch)
    shift = latent_shift(net, batch, options, device)
    report = extra.get("chosen")
    if class_ids is None:
        candidates = _number(extra, "class_candidates", int, DEFAULT_CANDIDATES)
        if candidates < 1:
            raise UsageError(f"class_candidates must be >= 1, got {candidates}")
        choice = choose_classes(net, lightness, candidates)
        class_ids = choice.class_ids
        prior = choice.prior if shift is None else net.generate(choice.prior.z + shift, class_ids)
        if isinstance(report, dict):
            report["candidates"] = choice.candidates.tolist()
    else:
        class_ids = class_ids.to(device)
        z = net.invert(lightness, class_ids)
        prior = net.generate(z if shift is None else z + shift, class_ids)
    if isinstance(report, dict):
        report["class_ids"] = class_ids.tolist()
    return net.colorize(lightness, prior).float()
