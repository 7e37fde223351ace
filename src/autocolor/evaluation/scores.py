"""Per-method streaming accumulators of :mod:`autocolor.evaluation`: one row per image, one summary.

Everything kept across images is fixed-size (two 152-bin CMF histograms, sums, counts) plus a
few scalars per image (the row and the colourfulness values for the histogram plot).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autocolor.metrics.auc import CMFAccumulator, ab_errors
from autocolor.metrics.colorfulness import colorfulness_both
from autocolor.metrics.fidelity import ab_squared_error_sum, psnr_from_mse, ssim_uint8
from autocolor.metrics.likelihood import BitsPerDimAccumulator
from autocolor.metrics.neutrality import NeutralAccumulator, neutral_counts


class MethodScores:
    """Accumulates one method's metrics over images (see :mod:`autocolor.evaluation.run` for the protocol)."""

    def __init__(self, name: str, kind: str, source: str, rebalanced: bool, *, ssim: bool = True) -> None:
        self.name = name
        self.kind = kind
        self.source = source
        self.cmf_raw = CMFAccumulator()
        self.cmf_rebalanced = CMFAccumulator() if rebalanced else None
        self.images = 0
        self.ab_sq_sum = 0.0
        self.pixels = 0
        self.rmse_sum = 0.0
        self.rgb_sq_sum = 0.0
        self.rgb_values = 0
        self.psnr_sum = 0.0
        self.psnr_infinite = 0
        self.ssim_sum = 0.0
        self.with_ssim = ssim  # False: SSIM is reported as NaN (sweeps that never use it save its time)
        self.colorfulness_values: list[float] = []
        self.colorfulness_abs_values: list[float] = []
        self.bits = BitsPerDimAccumulator()
        self.neutral = NeutralAccumulator()

    def add(
        self,
        rel: str,
        gt_rgb: np.ndarray,
        gt_lab: np.ndarray,
        ab: np.ndarray,
        rgb: np.ndarray,
        weights: np.ndarray | None,
        gt_colorfulness: dict[str, float],
        nll: tuple[float, int] | None,
    ) -> dict[str, Any]:
        """Score one image; returns its row (metric values of this image alone)."""
        errors = ab_errors(ab, gt_lab[1:])
        image_cmf = CMFAccumulator()
        image_cmf.update(errors)
        self.cmf_raw.merge(image_cmf)
        auc_rebalanced = None
        if self.cmf_rebalanced is not None and weights is not None:
            image_rb = CMFAccumulator()
            image_rb.update(errors, weights)
            self.cmf_rebalanced.merge(image_rb)
            auc_rebalanced = 100.0 * image_rb.auc()

        neutral, tinted = neutral_counts(ab, gt_lab[1:])
        self.neutral.neutral += neutral
        self.neutral.tinted += tinted

        sq, count = ab_squared_error_sum(ab, gt_lab[1:])
        rmse = math.sqrt(sq / count)
        self.ab_sq_sum += sq
        self.pixels += count
        self.rmse_sum += rmse

        diff = rgb.astype(np.float64) - gt_rgb.astype(np.float64)
        rgb_sq = float((diff**2).sum())
        self.rgb_sq_sum += rgb_sq
        self.rgb_values += diff.size
        psnr = psnr_from_mse(rgb_sq / diff.size)
        if math.isinf(psnr):
            self.psnr_infinite += 1
        else:
            self.psnr_sum += psnr
        ssim = ssim_uint8(rgb, gt_rgb) if self.with_ssim else math.nan
        self.ssim_sum += ssim

        cf = colorfulness_both(rgb)
        self.colorfulness_values.append(cf["paper"])
        self.colorfulness_abs_values.append(cf["abs"])
        bits = None
        if nll is not None:
            self.bits.update(*nll)
            bits = nll[0] / (nll[1] * math.log(2.0))
        self.images += 1
        return {
            "file": rel,
            "method": self.name,
            "width": int(gt_rgb.shape[1]),
            "height": int(gt_rgb.shape[0]),
            "auc_raw": 100.0 * image_cmf.auc(),
            "auc_rebalanced": auc_rebalanced,
            "rmse_ab": rmse,
            "psnr": psnr,
            "ssim": ssim,
            "colorfulness": cf["paper"],
            "colorfulness_abs": cf["abs"],
            "gt_colorfulness": gt_colorfulness["paper"],
            "gt_colorfulness_abs": gt_colorfulness["abs"],
            "bits_per_dim": bits,
            "neutral_tinted": 100.0 * tinted / neutral if neutral else None,
            "neutral_pixels": neutral,
        }

    def summary(self, gt_means: dict[str, float]) -> dict[str, Any]:
        """Pooled / averaged numbers of the set, plus the two CMF curves (151 values, in [0, 1])."""
        n = self.images
        cf = float(np.mean(self.colorfulness_values))
        cf_abs = float(np.mean(self.colorfulness_abs_values))
        pooled_mse = self.rgb_sq_sum / self.rgb_values
        out: dict[str, Any] = {
            "kind": self.kind,
            "source": self.source,
            "images": n,
            "pixels": self.pixels,
            "auc_raw": 100.0 * self.cmf_raw.auc(),
            "auc_rebalanced": 100.0 * self.cmf_rebalanced.auc() if self.cmf_rebalanced else None,
            "rmse_ab": math.sqrt(self.ab_sq_sum / self.pixels),
            "rmse_ab_image_mean": self.rmse_sum / n,
            "psnr": math.inf if self.psnr_infinite else self.psnr_sum / n,
            "psnr_pooled": psnr_from_mse(pooled_mse),
            "ssim": self.ssim_sum / n,
            "colorfulness": cf,
            "colorfulness_abs": cf_abs,
            "delta_colorfulness": abs(cf - gt_means["paper"]),
            "delta_colorfulness_abs": abs(cf_abs - gt_means["abs"]),
            "fid": None,
            "bits_per_dim": self.bits.value() if self.bits.dims else None,
            # "Neutral stays neutral": % of near-neutral ground-truth pixels predicted tinted.
            "neutral_tinted": 100.0 * self.neutral.share if self.neutral.neutral else None,
            "neutral_pixels": self.neutral.neutral,
            "cmf_raw": self.cmf_raw.cmf().tolist(),
            "cmf_rebalanced": self.cmf_rebalanced.cmf().tolist() if self.cmf_rebalanced else None,
        }
        return out
