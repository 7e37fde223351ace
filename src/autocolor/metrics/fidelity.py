"""Fidelity to the ground truth: RMSE in ab (Larsson), PSNR and SSIM on 8-bit RGB.

Protocols:

* **RMSE in ab**: ``sqrt(mean over pixels of (da^2 + db^2))`` with ``da, db`` in Lab units
  (a*, b* as ``skimage.color.rgb2lab``), i.e. the root mean square of the per-pixel Euclidean
  ab error. The runner reports it pooled over all pixels of the set and as the mean of
  per-image values. Larsson et al. report their RMSE "in alpha-beta" on an unpublished scale:
  ``rmse_ab / scale`` gives the number on any other scale; do not compare Lab-unit values with
  their 0.343 directly (see the eval protocol in :mod:`autocolor.evaluation.run`).
* **PSNR**: both images are first quantised to 8 bits (``round(clip(x, 0, 1) * 255)``, what
  a saved PNG holds); ``MSE`` is the mean over all pixels and the three channels of the
  squared difference; ``PSNR = 10 log10(255^2 / MSE)`` dB, ``+inf`` for identical images.
* **SSIM**: ``skimage.metrics.structural_similarity`` on the 8-bit RGB images with Wang et
  al.'s settings (Gaussian window sigma 1.5 (11x11), K1 0.01, K2 0.03, population
  covariance, ``data_range=255``), averaged over the three channels. Needs both sides >= 11 px.
"""

from __future__ import annotations

import math

import numpy as np

#: Smallest image side that the 11x11 Gaussian SSIM window fits into.
SSIM_MIN_SIDE = 11


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float sRGB in ``[0, 1]`` (any shape) -> uint8 by clipping and rounding to nearest."""
    arr = np.asarray(rgb)
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)


def ab_squared_error_sum(pred_ab: np.ndarray, gt_ab: np.ndarray) -> tuple[float, int]:
    """Sum over pixels of ``da^2 + db^2`` (Lab units squared) and the number of pixels.

    Both inputs ``(2, H, W)``; the pair is what a streaming pooled RMSE accumulates.
    """
    pred = np.asarray(pred_ab, dtype=np.float64)
    gt = np.asarray(gt_ab, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[0] != 2:
        raise ValueError(f"expected two (2, H, W) ab arrays, got {pred.shape} and {gt.shape}")
    return float(((pred - gt) ** 2).sum()), int(pred.shape[1] * pred.shape[2])


def rmse_ab(pred_ab: np.ndarray, gt_ab: np.ndarray) -> float:
    """Root mean square of the per-pixel Euclidean ab error, in Lab units."""
    total, count = ab_squared_error_sum(pred_ab, gt_ab)
    return math.sqrt(total / count)


def mse_uint8(pred_rgb: np.ndarray, gt_rgb: np.ndarray) -> float:
    """Mean squared difference of two 8-bit images (floats in [0, 1] are quantised first)."""
    a = to_uint8(pred_rgb).astype(np.float64)
    b = to_uint8(gt_rgb).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    return float(((a - b) ** 2).mean())


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    """``10 log10(peak^2 / mse)`` in dB; ``+inf`` when ``mse == 0``."""
    if mse < 0:
        raise ValueError(f"mse must be >= 0, got {mse}")
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr_uint8(pred_rgb: np.ndarray, gt_rgb: np.ndarray) -> float:
    """PSNR in dB of two ``(H, W, 3)`` RGB images on the 8-bit scale (see module docstring)."""
    return psnr_from_mse(mse_uint8(pred_rgb, gt_rgb))


def ssim_uint8(pred_rgb: np.ndarray, gt_rgb: np.ndarray) -> float:
    """SSIM of two ``(H, W, 3)`` RGB images on the 8-bit scale, Wang et al.'s settings.

    Raises:
        ValueError: an image side is smaller than :data:`SSIM_MIN_SIDE`.
    """
    from skimage.metrics import structural_similarity

    a = to_uint8(pred_rgb)
    b = to_uint8(gt_rgb)
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected two (H, W, 3) images of one shape, got {a.shape} and {b.shape}")
    if min(a.shape[:2]) < SSIM_MIN_SIDE:
        raise ValueError(f"SSIM needs images of at least {SSIM_MIN_SIDE} px a side, got {a.shape[:2]}")
    return float(
        structural_similarity(
            a,
            b,
            channel_axis=-1,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )
