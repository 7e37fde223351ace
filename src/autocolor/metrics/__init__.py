"""The colorization field's metrics, each module's docstring stating its exact protocol.

* :mod:`~autocolor.metrics.auc`: AuC of the per-pixel ab-error CMF, raw and rebalanced (Zhang).
* :mod:`~autocolor.metrics.fidelity`: RMSE in ab (Larsson), PSNR and SSIM on 8-bit RGB.
* :mod:`~autocolor.metrics.colorfulness`: Hasler & Suesstrunk, paper and absolute-value forms.
* :mod:`~autocolor.metrics.likelihood`: bits per dimension (PIC).
* :mod:`~autocolor.metrics.fid`: Fréchet Inception Distance (optional; needs fetched weights).
"""

from __future__ import annotations

from autocolor.metrics.auc import (
    MAX_THRESHOLD,
    THRESHOLDS,
    CMFAccumulator,
    ab_errors,
    nearest_bins,
    rebalancing_weights,
)
from autocolor.metrics.colorfulness import colorfulness, colorfulness_both
from autocolor.metrics.fidelity import (
    ab_squared_error_sum,
    mse_uint8,
    psnr_from_mse,
    psnr_uint8,
    rmse_ab,
    ssim_uint8,
    to_uint8,
)
from autocolor.metrics.likelihood import BitsPerDimAccumulator, bits_per_dim, nats_per_dim_to_bits

__all__ = [
    "MAX_THRESHOLD",
    "THRESHOLDS",
    "BitsPerDimAccumulator",
    "CMFAccumulator",
    "ab_errors",
    "ab_squared_error_sum",
    "bits_per_dim",
    "colorfulness",
    "colorfulness_both",
    "mse_uint8",
    "nearest_bins",
    "nats_per_dim_to_bits",
    "psnr_from_mse",
    "psnr_uint8",
    "rebalancing_weights",
    "rmse_ab",
    "ssim_uint8",
    "to_uint8",
]
