"""Colourfulness of Hasler & Suesstrunk (2003) on 8-bit RGB, in the two forms found in papers.

With ``R, G, B`` in ``[0, 255]`` (floats of the 8-bit values):

* ``"paper"`` (Hasler & Suesstrunk): ``rg = R - G``, ``yb = (R + G) / 2 - B``;
* ``"abs"`` (the pyimagesearch implementation that later colorization papers, e.g. GCP, used):
  ``rg = |R - G|``, ``yb = |(R + G) / 2 - B|``.

Then ``M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)`` over all pixels
of the image (population standard deviation, ``ddof = 0``). A gray image scores 0 in both forms.
The dataset score is the mean of the per-image scores, and delta-colourfulness is
``|mean M(prediction) - mean M(ground truth)|`` (GCP's "dColorful").
"""

from __future__ import annotations

import numpy as np

from autocolor.metrics.fidelity import to_uint8

VARIANTS = ("paper", "abs")


def colorfulness(rgb: np.ndarray, variant: str = "paper") -> float:
    """Colourfulness of one ``(H, W, 3)`` image (uint8, or floats in [0, 1] quantised first).

    Args:
        variant: ``"paper"`` (signed opponent channels) or ``"abs"`` (absolute values).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown colourfulness variant {variant!r}; choose from {VARIANTS}")
    img = to_uint8(rgb).astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {img.shape}")
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    if variant == "abs":
        rg, yb = np.abs(rg), np.abs(yb)
    spread = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    centre = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(spread + 0.3 * centre)


def colorfulness_both(rgb: np.ndarray) -> dict[str, float]:
    """``{"paper": M, "abs": M}`` of one image (see :func:`colorfulness`)."""
    return {variant: colorfulness(rgb, variant) for variant in VARIANTS}
