"""Discretized logistic mixture over (a, b) given L: PixelCNN++'s likelihood in PIC's Lab form.

Each channel value lives on 256 levels ``x_k = -1 + 2k / 255`` in ``[-1, 1]``. Per pixel a mixture
of ``K`` components; component ``k`` has, per channel, a mean and a log-scale (clamped at -7),
and three ``tanh`` coefficients that make the means depend on L and on ``a``::

    mean_a = mu_a + c0 * L
    mean_b = mu_b + c1 * L + c2 * a

A channel's mass on level ``x`` is ``sigmoid((x - mean + 1/255) / s) - sigmoid((x - mean - 1/255) /
s)``; the edge levels ``-1`` and ``1`` take the whole tails, so the 256 masses sum to one. Where the
difference underflows (``< 1e-5``) the density at ``x`` times the bin width is used instead, as in
PixelCNN++.

Parameter layout, ``(N, 8K, h, w)`` (channel order of the official TF output's last axis):
``[0, K)`` mixture logits; ``[K, 4K)`` coefficients as ``(3, K)``: ``c0`` (a <- L), ``c1``
(b <- L), ``c2`` (b <- a); ``[4K, 8K)`` as ``(2, 2K)``: for ``a`` then ``b``, ``K`` means followed
by ``K`` log-scales. ``ab`` and ``L`` arguments are normalised to ``[-1, 1]``
(``autocolor.models.pic.normalize_ab`` / ``normalize_lightness``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LEVELS = 256
HALF_BIN = 1.0 / (LEVELS - 1)  # half the distance between two levels in [-1, 1]
LOG_SCALE_MIN = -7.0
EDGE = 0.999  # values beyond +-EDGE are the edge levels
UNIFORM_EPS = 1e-5  # uniform noise is drawn in [eps, 1 - eps], as in the official sampler


@dataclass(frozen=True)
class Mixture:
    """Split parameters; shapes ``logits (N, K, h, w)``, the rest ``(N, C, K, h, w)``."""

    logits: torch.Tensor
    coeffs: torch.Tensor  # (N, 3, K, h, w), after tanh
    means: torch.Tensor  # (N, 2, K, h, w)
    log_scales: torch.Tensor  # (N, 2, K, h, w), clamped at LOG_SCALE_MIN

    @property
    def nr_mix(self) -> int:
        return self.logits.shape[1]


def num_outputs(nr_mix: int) -> int:
    """Parameters per pixel for ``nr_mix`` components (80 for the official 10)."""
    return 8 * nr_mix


def split_params(params: torch.Tensor) -> Mixture:
    """``(N, 8K, h, w)`` -> :class:`Mixture` (see the module doc for the layout)."""
    n, c, h, w = params.shape
    if c % 8:
        raise ValueError(f"mixture parameters need 8 * K channels, got {c}")
    k = c // 8
    rest = params[:, 4 * k :].reshape(n, 2, 2 * k, h, w)
    return Mixture(
        logits=params[:, :k],
        coeffs=torch.tanh(params[:, k : 4 * k].reshape(n, 3, k, h, w)),
        means=rest[:, :, :k],
        log_scales=rest[:, :, k:].clamp_min(LOG_SCALE_MIN),
    )


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Nearest of the 256 levels, after clamping to ``[-1, 1]``."""
    half_range = (LEVELS - 1) / 2.0
    return torch.round((x.clamp(-1.0, 1.0) + 1.0) * half_range) / half_range - 1.0


def _channel_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    # log mass of the level x under a discretized logistic (PixelCNN++'s rules, elementwise).
    centered = x - mean
    inv_s = torch.exp(-log_scale)
    plus_in = inv_s * (centered + HALF_BIN)
    min_in = inv_s * (centered - HALF_BIN)
    cdf_delta = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
    log_cdf_plus = plus_in - F.softplus(plus_in)  # mass of the bottom level: everything below
    log_one_minus_cdf_min = -F.softplus(min_in)  # mass of the top level: everything above
    mid_in = inv_s * centered
    log_pdf_mid = mid_in - log_scale - 2.0 * F.softplus(mid_in) - math.log((LEVELS - 1) / 2.0)
    inner = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp_min(1e-12)), log_pdf_mid)
    return torch.where(x < -EDGE, log_cdf_plus, torch.where(x > EDGE, log_one_minus_cdf_min, inner))


def log_prob(params: torch.Tensor, ab: torch.Tensor, lightness: torch.Tensor) -> torch.Tensor:
    """Per-pixel log-probability (nats) of the levels ``ab``.

    Args:
        params: ``(N, 8K, h, w)`` mixture parameters.
        ab: ``(N, 2, h, w)`` values in ``[-1, 1]`` (on the 256 levels for a true probability).
        lightness: ``(N, 1, h, w)`` normalised L in ``[-1, 1]``.

    Returns:
        ``(N, h, w)`` ``log p(a, b | L, params)``.
    """
    mix = split_params(params)
    lum = lightness.unsqueeze(2)  # (N, 1, 1, h, w) broadcasts over K
    a = ab[:, 0:1].unsqueeze(2)
    b = ab[:, 1:2].unsqueeze(2)
    c = mix.coeffs
    mean_a = mix.means[:, 0:1] + c[:, 0:1] * lum
    mean_b = mix.means[:, 1:2] + c[:, 1:2] * lum + c[:, 2:3] * a
    lp_a = _channel_log_prob(a, mean_a, mix.log_scales[:, 0:1])
    lp_b = _channel_log_prob(b, mean_b, mix.log_scales[:, 1:2])
    joint = (lp_a + lp_b).squeeze(1) + torch.log_softmax(mix.logits, dim=1)
    return torch.logsumexp(joint, dim=1)


def bits_per_dim(params: torch.Tensor, ab: torch.Tensor, lightness: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood per image in bits per dimension (2 dims per pixel), ``(N,)``."""
    lp = log_prob(params, ab, lightness)
    dims = 2 * lp.shape[-2] * lp.shape[-1]
    return -lp.sum(dim=(-2, -1)) / (dims * math.log(2.0))


#: One random source for the whole batch, one per batch row (row ``r`` draws from the ``r``-th),
#: or ``None`` for torch's global generator.
Generators = torch.Generator | Sequence[torch.Generator] | None


def per_row(generator: Generators, rows: int) -> bool:
    """Whether ``generator`` is one generator per row of a ``rows``-row batch (else it is one
    source for all); a sequence of another length is a bug (``ValueError``)."""
    if generator is None or isinstance(generator, torch.Generator):
        return False
    if len(generator) != rows:
        raise ValueError(f"{len(generator)} generators for a batch of {rows}")
    return True


def _uniform(shape: tuple[int, ...], like: torch.Tensor, generator: Generators) -> torch.Tensor:
    # float32 draws whatever the parameters' precision: a float64 draw would take other
    # numbers from the generator, so the same seed would give another sample.
    if per_row(generator, shape[0]):
        # Row r takes from its own generator exactly the numbers a batch of one would take,
        # in the same calls, so a sample drawn in a batch is the one drawn alone.
        assert not isinstance(generator, torch.Generator) and generator is not None
        row = (1, *shape[1:])
        u = torch.cat([torch.rand(row, generator=g, device=like.device) for g in generator])
    else:
        u = torch.rand(shape, generator=generator, device=like.device)  # type: ignore[arg-type]
    return u.to(like.dtype) * (1.0 - 2.0 * UNIFORM_EPS) + UNIFORM_EPS


def sample(
    params: torch.Tensor,
    lightness: torch.Tensor,
    *,
    temperature: float = 1.0,
    mixture_temperature: float = 1.0,
    generator: Generators = None,
) -> torch.Tensor:
    """Draw ``(a, b)`` levels ``(N, 2, h, w)`` in ``[-1, 1]`` from the mixture, pixels independently.

    ``temperature`` is the official sampler's ``scale_var``: the mixture component is drawn from
    the model's own weights (Gumbel-max on the unscaled logits) and the logistic noise is
    multiplied by ``temperature``. 1 samples the model's distribution exactly (a continuous
    logistic draw rounded to its level has exactly the discretized mass); below 1 each
    component is narrowed but the components keep their weights, so the colour mix of a scene
    is not biased towards its dominant hue (dividing the logits as well did that: lower
    temperatures drifted to green). 0 is deterministic, a project choice where the official
    code still draws the component: the most probable component's mean, rounded (the "mode"
    sample).

    ``mixture_temperature`` (> 0; a project extension, 1 = the official sampler) divides the
    mixture logits before the component is drawn: below 1 a pixel switches less often to a
    component its neighbours did not choose, so weak models mottle flat regions less (a sky
    stays one hue instead of patches of several). The price is colour: a dominant component is
    usually the most neutral one, so samples get paler as it drops (docs/bundled-model.md
    measures both). It is ignored at ``temperature`` 0.

    Random numbers are drawn in a fixed order (mixture noise ``(N, K, h, w)``, then logistic
    noise ``(N, 2, h, w)``), so the same generator state gives the same sample. ``generator``
    may be a sequence of ``N`` generators, one per row: row ``r`` then consumes ``generator[r]``
    exactly as a batch of one would (``(1, K, h, w)``, then ``(1, 2, h, w)``), so each row's
    draw is the one its generator gives alone.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not mixture_temperature > 0:
        raise ValueError(f"mixture_temperature must be > 0, got {mixture_temperature}")
    mix = split_params(params)
    n, k, h, w = mix.logits.shape
    if temperature == 0:
        choice = mix.logits.argmax(dim=1, keepdim=True)
        noise = torch.zeros((n, 2, h, w), device=params.device, dtype=params.dtype)
    else:
        u_mix = _uniform((n, k, h, w), params, generator)
        gumbel = -torch.log(-torch.log(u_mix))
        logits = mix.logits if mixture_temperature == 1.0 else mix.logits / mixture_temperature
        choice = (logits + gumbel).argmax(dim=1, keepdim=True)
        u = _uniform((n, 2, h, w), params, generator)
        noise = temperature * (torch.log(u) - torch.log1p(-u))

    def pick(t: torch.Tensor) -> torch.Tensor:  # (N, C, K, h, w) -> (N, C, h, w)
        index = choice.unsqueeze(1).expand(n, t.shape[1], 1, h, w)
        return t.gather(2, index).squeeze(2)

    means, log_scales, coeffs = pick(mix.means), pick(mix.log_scales), pick(mix.coeffs)
    lum = lightness[:, 0]
    scale = torch.exp(log_scales)
    a = quantize(means[:, 0] + coeffs[:, 0] * lum + scale[:, 0] * noise[:, 0])
    b = quantize(means[:, 1] + coeffs[:, 1] * lum + coeffs[:, 2] * a + scale[:, 1] * noise[:, 1])
    return torch.stack((a, b), dim=1)
