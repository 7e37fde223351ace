"""Training-time augmentation beyond crops and flips.

Two kinds, both drawn from the item's own ``random.Random`` (so an epoch is reproducible):

- photometric jitter of the colour photo (RGB gain and contrast): changes L and ab together,
  as a differently exposed photograph of the same scene would;
- degradations of the network's *input* lightness only (film grain, blur, JPEG blocking), so
  that old scans and compressed copies look like training inputs; the ab target stays clean.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class AugmentSpec:
    """Strengths (0 turns each off).

    Attributes:
        exposure: RGB gain uniform in ``[1 - exposure, 1 + exposure]``.
        contrast: contrast about the image mean uniform in ``[1 - contrast, 1 + contrast]``.
        degrade: probability of each of grain (Gaussian, sigma 1-4 L units), blur (Gaussian,
            radius 0.4-1.2 px) and JPEG (quality 25-85) applied to the input L.
    """

    exposure: float = 0.0
    contrast: float = 0.0
    degrade: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.exposure > 0 or self.contrast > 0 or self.degrade > 0


def jitter_rgb(rgb: torch.Tensor, spec: AugmentSpec, rng: random.Random) -> torch.Tensor:
    """Gain and contrast jitter of ``rgb`` ``(3, H, W)`` in [0, 1]; result clipped to [0, 1]."""
    if spec.exposure <= 0 and spec.contrast <= 0:
        return rgb
    gain = rng.uniform(1 - spec.exposure, 1 + spec.exposure)
    contrast = rng.uniform(1 - spec.contrast, 1 + spec.contrast)
    mean = rgb.mean()
    return ((rgb - mean) * contrast + mean).mul(gain).clamp(0.0, 1.0)


def degrade_lightness(lightness: torch.Tensor, spec: AugmentSpec, rng: random.Random) -> torch.Tensor:
    """Grain / blur / JPEG (each with probability ``spec.degrade``) on L ``(1, H, W)`` in [0, 100]."""
    if spec.degrade <= 0:
        return lightness
    blur = rng.random() < spec.degrade
    jpeg = rng.random() < spec.degrade
    grain = rng.random() < spec.degrade
    if not (blur or jpeg or grain):
        return lightness
    out = lightness
    if blur or jpeg:
        image = Image.fromarray(np.clip(lightness[0].numpy() * 2.55, 0, 255).round().astype(np.uint8), mode="L")
        if blur:
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.2)))
        if jpeg:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=rng.randint(25, 85))
            buffer.seek(0)
            image = Image.open(buffer).convert("L")
        out = torch.from_numpy(np.asarray(image, dtype=np.float32) / 2.55)[None]
    if grain:
        noise = np.random.default_rng(rng.getrandbits(64)).standard_normal(out.shape).astype(np.float32)
        out = out + torch.from_numpy(noise) * rng.uniform(1.0, 4.0)
    return out.clamp(0.0, 100.0)
