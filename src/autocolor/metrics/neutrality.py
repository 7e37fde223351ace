""""Neutral stays neutral": how often a colorizer tints what is gray in the ground truth.

Of the pixels whose ground-truth chroma ``sqrt(a^2 + b^2)`` (Lab units) is below
``NEUTRAL_CHROMA`` = 5 (white walls, gray streets, paper, overcast skies), the share whose
predicted chroma exceeds ``TINTED_CHROMA`` = 15 (a clearly visible pink, orange or green cast).
Pooled over every pixel of every image, like the AuC (not a mean of per-image shares). Gray
output (ab = 0) scores 0; lower is better, but it says nothing about colourful pixels, so it
is read next to the AuC and colourfulness.
"""

from __future__ import annotations

import numpy as np

NEUTRAL_CHROMA = 5.0  # ground truth below this is "near-neutral", Lab units
TINTED_CHROMA = 15.0  # a prediction above this is "tinted", Lab units


def _chroma(ab: np.ndarray, name: str) -> np.ndarray:
    ab = np.asarray(ab, dtype=np.float64)
    if ab.ndim != 3 or ab.shape[0] != 2:
        raise ValueError(f"{name}: expected a (2, H, W) ab array, got shape {ab.shape}")
    return np.hypot(ab[0], ab[1])


def neutral_counts(
    pred_ab: np.ndarray,
    gt_ab: np.ndarray,
    neutral: float = NEUTRAL_CHROMA,
    tinted: float = TINTED_CHROMA,
) -> tuple[int, int]:
    """``(near-neutral ground-truth pixels, those predicted tinted)`` for one image.

    Args:
        pred_ab, gt_ab: ``(2, H, W)`` ab in Lab units, the same shape.
        neutral: ground-truth chroma strictly below which a pixel counts as near-neutral.
        tinted: predicted chroma strictly above which such a pixel counts as tinted.
    """
    pred, gt = _chroma(pred_ab, "prediction"), _chroma(gt_ab, "ground truth")
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
    is_neutral = gt < neutral
    return int(is_neutral.sum()), int((is_neutral & (pred > tinted)).sum())


class NeutralAccumulator:
    """Pools :func:`neutral_counts` over images; :attr:`share` is the tinted fraction in [0, 1]."""

    def __init__(self, neutral: float = NEUTRAL_CHROMA, tinted: float = TINTED_CHROMA) -> None:
        self.neutral_threshold = neutral
        self.tinted_threshold = tinted
        self.neutral = 0
        self.tinted = 0

    def update(self, pred_ab: np.ndarray, gt_ab: np.ndarray) -> None:
        n, t = neutral_counts(pred_ab, gt_ab, self.neutral_threshold, self.tinted_threshold)
        self.neutral += n
        self.tinted += t

    @property
    def share(self) -> float:
        """Tinted share of the near-neutral pixels seen; NaN when none was seen."""
        return self.tinted / self.neutral if self.neutral else float("nan")
