"""Decoding a distribution over quantised ab bins (CIC's 313 logits) into ab.

Every function takes ``logits`` ``(N, Q, h, w)`` (any float dtype, any device; computed in
float32) and the ``(Q, 2)`` bin centres in Lab units in the channel order of the logits, and
returns float32 ab ``(N, 2, h, w)`` on the logits' device.

The annealed mean of Zhang et al. (2016) is ``f_T(z) = exp(log z / T) / sum exp(log z / T)``
applied to the predicted distribution ``z = softmax(logits)``, followed by the expectation.
Since ``log softmax(logits)`` differs from ``logits`` by a per-pixel constant, that is simply
``softmax(logits / T)``: T = 1 is the mean, T -> 0 the mode, the paper uses T = 0.38.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: CIC's default temperature.
DEFAULT_TEMPERATURE = 0.38
#: At or below this temperature the annealed distribution is taken to be its T -> 0 limit (the
#: mode): logits / T would amplify float32 rounding into arbitrary tie-breaking anyway.
MODE_TEMPERATURE = 1e-3


def _check(logits: torch.Tensor, grid: torch.Tensor) -> None:
    if logits.dim() != 4:
        raise ValueError(f"logits must have shape (N, Q, h, w), got {tuple(logits.shape)}")
    if grid.dim() != 2 or grid.shape[1] != 2 or grid.shape[0] != logits.shape[1]:
        raise ValueError(f"grid must have shape ({logits.shape[1]}, 2) to match the logits, got {tuple(grid.shape)}")


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def annealed_probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(logits / T)`` over the bin dimension, float32 ``(N, Q, h, w)``."""
    _check_temperature(temperature)
    return torch.softmax(logits.float() / temperature, dim=1)


def _expect(probs: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return torch.einsum("nqhw,qc->nchw", probs, grid.to(device=probs.device, dtype=probs.dtype))


def annealed_mean(logits: torch.Tensor, grid: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """Expectation of the bin centres under ``softmax(logits / T)``; T <= 1e-3 gives :func:`mode`."""
    _check(logits, grid)
    _check_temperature(temperature)
    if temperature <= MODE_TEMPERATURE:
        return mode(logits, grid)
    return _expect(annealed_probabilities(logits, temperature), grid)


def expectation(logits: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Mean of the bin centres under ``softmax(logits)`` (the annealed mean at T = 1)."""
    return annealed_mean(logits, grid, 1.0)


def mode(logits: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Centre of the most likely bin per pixel (ties: the lowest bin index)."""
    _check(logits, grid)
    index = logits.argmax(dim=1)  # (N, h, w)
    centres = grid.to(device=logits.device, dtype=torch.float32)[index]  # (N, h, w, 2)
    return centres.permute(0, 3, 1, 2).contiguous()


def sample(
    logits: torch.Tensor,
    grid: torch.Tensor,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one bin per pixel, independently, from ``softmax(logits / T)``; return its centre.

    Inverse-CDF sampling: one uniform number per pixel comes from ``generator`` (on the
    generator's own device, so a CPU generator also drives CUDA logits), which makes the result
    a function of the seed alone. ``None`` uses torch's global generator. T <= 1e-3 gives
    :func:`mode` (no randomness).
    """
    _check(logits, grid)
    _check_temperature(temperature)
    if temperature <= MODE_TEMPERATURE:
        return mode(logits, grid)
    probs = annealed_probabilities(logits, temperature)
    n, q, h, w = probs.shape
    cdf = probs.permute(0, 2, 3, 1).reshape(-1, q).cumsum(dim=1)
    rand_device = generator.device if generator is not None else logits.device
    uniform = torch.rand(cdf.shape[0], 1, generator=generator, device=rand_device).to(cdf.device)
    # Scale by the last CDF value (1 up to rounding) and keep strictly below it, so that some
    # bin's CDF always exceeds the threshold.
    total = cdf[:, -1:]
    threshold = torch.minimum(uniform * total, torch.nextafter(total, torch.zeros_like(total)))
    # right=True: the first bin whose CDF exceeds u, so bins of probability 0 are never drawn.
    index = torch.searchsorted(cdf, threshold, right=True).clamp_max(q - 1).view(n, h, w)
    centres = grid.to(device=logits.device, dtype=torch.float32)[index]
    return centres.permute(0, 3, 1, 2).contiguous()


def correct_rebalancing(logits: torch.Tensor, log_weights: torch.Tensor, strength: float) -> torch.Tensor:
    """Undo a share of the class rebalancing a network was trained with.

    A network trained with CIC's rebalanced cross-entropy (each pixel's loss weighted by
    ``w[bin of its true colour]``) learns ``softmax(logits) ~ w(q) p(q | L) / Z``: rare,
    saturated bins are inflated, common near-neutral ones deflated. ``logits - s * log w``
    removes the share ``s`` of that bias: ``s = 0`` leaves the logits as they are (CIC's
    decoding), ``s = 1`` gives the calibrated posterior ``p(q | L)``.

    Args:
        logits: ``(N, Q, h, w)`` any float dtype.
        log_weights: ``(Q,)`` natural log of the training weights (any normalisation: a
            constant shift cancels in every softmax).
        strength: ``s`` in ``[0, 1]``.

    Returns:
        float32 ``(N, Q, h, w)`` corrected logits on the logits' device.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"rebalancing correction must be in [0, 1], got {strength}")
    if log_weights.dim() != 1 or log_weights.shape[0] != logits.shape[1]:
        raise ValueError(f"log_weights must have shape ({logits.shape[1]},), got {tuple(log_weights.shape)}")
    logits = logits.float()
    if strength == 0.0:
        return logits
    return logits - strength * log_weights.to(device=logits.device, dtype=torch.float32).view(1, -1, 1, 1)


def add_hint_evidence(
    logits: torch.Tensor,
    grid: torch.Tensor,
    colors: torch.Tensor,
    weights: torch.Tensor,
    strength: float,
    sigma: float,
) -> torch.Tensor:
    """Colour hints as evidence on one photo's bin distribution (user-guided decoding).

    Each hint ``k`` says "around here the colour is near ``c_k``" with a per-pixel weight
    ``w_k`` (:class:`autocolor.hints.propagate.HintField`); its log-likelihood term
    ``-w_k |q - c_k|^2 / (2 sigma^2)`` is added to every bin's logit, scaled by ``strength``.
    Where the network hesitated between plausible colours the hint picks among them; where it
    saw nothing like the hint, the hint's colour wins.

    Args:
        logits: ``(1, Q, h', w')``.
        grid: ``(Q, 2)`` bin centres (Lab units).
        colors: ``(K, 2)`` hint colours.
        weights: ``(K, h, w)`` hint weights on any grid (area-resized to ``(h', w')``).
        strength: scale of the evidence (0: logits unchanged).
        sigma: tolerance in Lab units (> 0).

    Returns:
        ``(1, Q, h', w')`` float32 logits.
    """
    if colors.shape[0] == 0 or strength == 0:
        return logits
    size = tuple(logits.shape[-2:])
    share = F.interpolate(weights[None].float(), size=size, mode="area")[0] if weights.shape[-2:] != size else weights
    squared = ((grid.float()[:, None, :] - colors.float()[None]) ** 2).sum(dim=-1)  # (Q, K)
    evidence = torch.einsum("qk,khw->qhw", squared, share.float()) / (2.0 * sigma**2)
    return logits.float() - strength * evidence[None]
