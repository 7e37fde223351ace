"""Empirical ab prior over the quantised bins and CIC's class-rebalancing weights.

A prior ``p`` is a float64 ``(Q,)`` vector (Q = 313 for the CIC grid) of probabilities,
one per bin of :func:`autocolor.color.bins.cic_ab_grid` in its order.

Class rebalancing (Zhang et al. 2016, eq. 4): with ``p~`` the prior smoothed by a Gaussian of
width ``sigma`` in ab space, the weight of bin ``q`` is

    w_q  proportional to  ((1 - lam) * p~_q + lam / Q) ** -1,   scaled so that  sum_q p~_q w_q = 1,

i.e. the expected weight of a pixel under the (smoothed) prior is 1 and the loss keeps its scale.
The paper uses ``lam = 0.5`` and ``sigma = 5``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from autocolor.color.bins import cic_ab_grid, nearest_bin

# Pixels handled per chunk in ab_histogram: bounds the (chunk, Q) distance matrix (~20 MB).
_CHUNK_PIXELS = 16384
# Tolerance on sum(p) == 1 when a prior file is loaded.
_SUM_TOLERANCE = 1e-6


def _as_grid(grid: np.ndarray | torch.Tensor | None, num_bins: int) -> np.ndarray:
    if grid is None:
        grid = cic_ab_grid()
    grid_np = np.asarray(grid.detach().cpu() if isinstance(grid, torch.Tensor) else grid, dtype=np.float64)
    if grid_np.shape != (num_bins, 2):
        raise ValueError(f"grid must have shape ({num_bins}, 2) to match the prior, got {grid_np.shape}")
    return grid_np


def ab_histogram(ab: torch.Tensor | np.ndarray, grid: torch.Tensor | np.ndarray | None = None) -> np.ndarray:
    """Count pixels per bin, each pixel going to its nearest bin centre.

    Args:
        ab: ``(N, 2, H, W)`` a*, b* in Lab units (torch or numpy, any float dtype / device).
        grid: ``(Q, 2)`` bin centres; default the 313 CIC bins.

    Returns:
        float64 ``(Q,)`` pixel counts (not normalised).
    """
    ab_t = torch.as_tensor(ab)
    if ab_t.dim() != 4 or ab_t.shape[1] != 2:
        raise ValueError(f"ab must have shape (N, 2, H, W), got {tuple(ab_t.shape)}")
    grid_t = cic_ab_grid(ab_t.device) if grid is None else torch.as_tensor(grid, device=ab_t.device)
    ab_t = ab_t.float() if not ab_t.is_floating_point() else ab_t
    # (2, P) pixels, handled in chunks shaped (1, 2, chunk, 1) for nearest_bin.
    pixels = ab_t.permute(1, 0, 2, 3).reshape(2, -1)
    counts = torch.zeros(grid_t.shape[0], dtype=torch.float64, device=ab_t.device)
    for start in range(0, pixels.shape[1], _CHUNK_PIXELS):
        chunk = pixels[:, start : start + _CHUNK_PIXELS]
        idx = nearest_bin(chunk[None, :, :, None], grid_t.to(chunk.dtype)).flatten()
        counts += torch.bincount(idx, minlength=grid_t.shape[0]).double()
    return counts.cpu().numpy()


def smooth_prior(
    p: np.ndarray,
    grid: torch.Tensor | np.ndarray | None = None,
    sigma: float = 5.0,
) -> np.ndarray:
    """Gaussian smoothing of a prior over the bin centres, renormalised to sum to 1.

    ``p~_q = sum_r p_r exp(-|g_q - g_r|^2 / (2 sigma^2))``, then ``p~ /= sum(p~)``: a
    convolution of the histogram with a Gaussian of width ``sigma`` (Lab units) restricted to
    the in-gamut bins (mass that would spread to out-of-gamut grid points is dropped, hence the
    renormalisation). ``sigma <= 0`` only renormalises.

    Args:
        p: ``(Q,)`` non-negative counts or probabilities (not all zero).
        grid: ``(Q, 2)`` bin centres; default the 313 CIC bins.
        sigma: kernel width in Lab units (paper: 5).

    Returns:
        float64 ``(Q,)`` probabilities summing to 1.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or not np.all(np.isfinite(p)) or p.min() < 0 or p.sum() <= 0:
        raise ValueError(f"prior must be a 1-D finite non-negative vector with positive sum, got shape {p.shape}")
    if sigma > 0:
        g = _as_grid(grid, p.shape[0])
        d2 = ((g[:, None, :] - g[None, :, :]) ** 2).sum(-1)
        p = np.exp(-d2 / (2.0 * sigma**2)) @ p
    return p / p.sum()


def rebalancing_weights(
    p: np.ndarray,
    lam: float = 0.5,
    sigma: float = 5.0,
    grid: torch.Tensor | np.ndarray | None = None,
) -> np.ndarray:
    """CIC class-rebalancing weights (see the module docstring).

    Args:
        p: ``(Q,)`` empirical prior (counts or probabilities).
        lam: mixing weight of the uniform distribution, in ``[0, 1]`` (paper: 0.5). With
            ``lam = 0`` the weights are the inverse smoothed prior (a ValueError if a bin has
            ``p~ = 0``).
        sigma: Gaussian smoothing width in Lab units (paper: 5). Use ``sigma = 0`` for a prior
            that is already smoothed, such as the official ``prior_probs.npy``.
        grid: ``(Q, 2)`` bin centres for the smoothing; default the 313 CIC bins.

    Returns:
        float64 ``(Q,)`` weights with ``sum(p~ * w) == 1``.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    smoothed = smooth_prior(p, grid, sigma)
    mixed = (1.0 - lam) * smoothed + lam / smoothed.shape[0]
    if np.any(mixed <= 0):
        raise ValueError("lam = 0 with empty bins in the smoothed prior gives infinite weights; use lam > 0")
    weights = 1.0 / mixed
    return weights / np.sum(smoothed * weights)


def _check_prior(p: np.ndarray, where: str, num_bins: int) -> np.ndarray:
    if p.shape != (num_bins,):
        raise ValueError(f"{where}: a prior must have shape ({num_bins},), got {p.shape}")
    if not np.issubdtype(p.dtype, np.floating) or not np.all(np.isfinite(p)):
        raise ValueError(f"{where}: a prior must hold finite floating-point values")
    if p.min() < 0:
        raise ValueError(f"{where}: a prior must be non-negative, found {p.min():.3g}")
    if abs(p.sum() - 1.0) > _SUM_TOLERANCE:
        raise ValueError(f"{where}: a prior must sum to 1 (within {_SUM_TOLERANCE:g}), sums to {p.sum():.9g}")
    return p.astype(np.float64)


def save_prior(path: str | Path, p: np.ndarray, num_bins: int = 313) -> None:
    """Write a validated prior as a float64 ``.npy`` file (``(num_bins,)``, sums to 1)."""
    p = _check_prior(np.asarray(p), str(path), num_bins)
    # Through a file object: np.save would append ".npy" to a path without that suffix.
    with open(path, "wb") as handle:
        np.save(handle, p, allow_pickle=False)


def load_prior(path: str | Path, num_bins: int = 313) -> np.ndarray:
    """Read and validate a prior ``.npy`` file -> float64 ``(num_bins,)`` summing to 1.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a plain ``.npy`` array, wrong shape, negative, non-finite values, or
            a sum that differs from 1 by more than 1e-6 (the message names the file).
    """
    path = Path(path)
    try:
        p = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(p, np.ndarray):  # an .npz archive loads as a mapping
        raise ValueError(f"{path}: expected a single .npy array, found an archive")
    return _check_prior(p, str(path), num_bins)


def project_prior_path() -> Path:
    """The project's own prior shipped in the package (``autocolor/assets/prior_ab.npy``):
    the smoothed (sigma 5) prior of the training photos that ``cic.lite`` and ``cic.base`` were
    trained on (see ``scripts/make_prior.py``)."""
    return Path(str(resources.files("autocolor") / "assets" / "prior_ab.npy"))


@lru_cache(maxsize=4)
def project_log_weights(lam: float = 0.5) -> torch.Tensor:
    """``log`` of the rebalancing weights of :func:`project_prior_path` at ``lam``: float32 ``(313,)``.

    The prior file is already smoothed, so no further smoothing is applied; these are the
    weights the project's CIC models were trained with (to ~1e-6). Cached: read once a process.
    """
    weights = rebalancing_weights(load_prior(project_prior_path()), lam=lam, sigma=0.0)
    return torch.from_numpy(np.log(weights)).float()
