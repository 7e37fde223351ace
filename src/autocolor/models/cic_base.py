"""``cic.base``: ``cic.lite`` grown for quality, and able to take colour hints.

The network keeps every module of :class:`~autocolor.models.cic_lite.CicLite` under the same
name, so ``cic.lite``'s weights load into it (``[model] init``, ``init_strict = false``), and
adds, each starting as the identity (zero-initialised output scale), so that at step 0 the grown
network computes exactly what ``cic.lite`` computes:

- ``deep``: a wide (192-channel) branch at 1/16 resolution with its own global pooling: scene
  semantics at little cost (256 positions for a 256x256 input), added back to the 1/8 features
  (as the global/mid-level fusion of Iizuka et al. and Larsson et al.);
- ``mix8``: one more dilated block at 1/8 to merge the two;
- ``quarter``: two more blocks on the 1/4-resolution skip;
- ``refine_extra``: a second, dilated decoder block (wider spatial support against blotches);
- ``hint_in`` / ``hint_skip``: the user-guidance inputs of Zhang et al.'s SIGGRAPH17 network,
  ``(ab / 110, mask)`` convolved and added to the stem output (1/2 resolution) and to the
  decoder (1/4 resolution, so a hint's colour reaches the output directly).

Hints follow the SIGGRAPH17 convention: ``hints`` ``(N, 2, H, W)`` ab in Lab units at the
network's input resolution (zero where no hint), ``mask`` ``(N, 1, H, W)`` 1 over hinted pixels,
0 elsewhere; ``None`` means no hints (automatic colorization).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.models.cic_lite import CicLite, GlobalContext, InvertedResidual, _conv_bn
from autocolor.models.registry import register_model

AB_SCALE = 110.0  # hints enter as ab / 110, as in SIGGRAPH17


class ResidualStack(nn.Sequential):
    """Residual inverted-bottleneck blocks that can start as the identity."""

    def zero_residual(self) -> None:
        """Zero the last BatchNorm scale of every residual block: each then returns its input."""
        for block in self:
            if isinstance(block, InvertedResidual) and block.use_residual:
                nn.init.zeros_(block.body[-1][1].weight)


class DeepContext(nn.Module):
    """1/8 -> 1/16 wide branch with global pooling; returns a 1/8-resolution residual.

    Input ``(N, c, h, w)`` at 1/8; output ``(N, c, h, w)``, all zeros until trained
    (``zero_residual``: the output BatchNorm scale starts at 0).
    """

    def __init__(self, channels: int, wide: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.down = InvertedResidual(channels, wide, stride=2)
        self.blocks = nn.Sequential(*[InvertedResidual(wide, wide, dilation=d) for d in dilations], GlobalContext(wide))
        self.out = nn.Sequential(nn.ReLU(), _conv_bn(wide, channels))
        self.zero_residual()

    def zero_residual(self) -> None:
        nn.init.zeros_(self.out[1][1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.out(self.blocks(self.down(x)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class HintInput(nn.Module):
    """``(ab / 110, mask)`` at input resolution -> features added to a stage's output.

    ``stride`` 2 matches the stem (1/2); ``pool`` 4 area-averages to 1/4 first (the decoder).
    The convolution starts at zero, so hints have no effect until trained.
    """

    def __init__(self, channels: int, *, stride: int = 1, pool: int = 1) -> None:
        super().__init__()
        self.pool = pool
        self.conv = nn.Conv2d(3, channels, 3, stride, 1)
        self.zero_residual()

    def zero_residual(self) -> None:
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat((hints / AB_SCALE, mask), dim=1)
        if self.pool > 1:
            # Average ab over the hinted pixels only, so a 1-pixel hint keeps its colour.
            area = F.avg_pool2d(mask, self.pool)
            ab = F.avg_pool2d(hints / AB_SCALE * mask, self.pool) / area.clamp_min(1e-6)
            x = torch.cat((ab, area), dim=1)
        return self.conv(x)


class CicBase(CicLite):
    """``cic.lite`` plus the modules above: L* ``(N,1,H,W)`` [0, 100] -> logits ``(N,313,H/4,W/4)``.

    H and W must be multiples of 16 (the pipeline resizes to ``input_size``).
    """

    accepts_hints: ClassVar[bool] = True
    size_multiple: ClassVar[int] = 16

    def __init__(
        self,
        widths: tuple[int, int, int, int] = (32, 48, 96, 128),
        dilations: tuple[int, ...] = (1, 2, 4, 8),
        wide: int = 192,
        deep_dilations: tuple[int, ...] = (1, 2, 1),
    ) -> None:
        super().__init__(widths, dilations)
        w1, w2, w3, wd = widths
        self.hint_in = HintInput(w1, stride=2)
        self.quarter = ResidualStack(InvertedResidual(w2, w2), InvertedResidual(w2, w2, dilation=2))
        self.deep = DeepContext(w3, wide, deep_dilations)
        self.mix8 = ResidualStack(InvertedResidual(w3, w3, dilation=2))
        self.hint_skip = HintInput(wd, pool=4)
        self.refine_extra = ResidualStack(InvertedResidual(wd, wd, expand=2, dilation=2))
        self.quarter.zero_residual()
        self.mix8.zero_residual()
        self.refine_extra.zero_residual()

    def forward(
        self,
        lightness: torch.Tensor,
        hints: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits for ``lightness``; ``hints``/``mask`` as in the module docstring (or None)."""
        h, w = lightness.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"cic.base input sides must be multiples of {self.size_multiple}, got {h}x{w}")
        if (hints is None) != (mask is None):
            raise ValueError("cic.base: give hints and mask together (or neither)")
        if hints is None or mask is None:
            # No hints = all-zero hint maps, exactly what training fed for its no-hint images
            # (skipping the branch would drop its biases: another input than it was trained on).
            n = lightness.shape[0]
            hints = lightness.new_zeros(n, 2, h, w)
            mask = lightness.new_zeros(n, 1, h, w)
        x = self.stem((lightness - 50.0) / 50.0)
        x = x + self.hint_in(hints, mask)
        quarter = self.quarter(self.down4(x))
        eighth = self.context(self.down8(quarter))
        eighth = self.mix8(eighth + self.deep(eighth))
        up = F.interpolate(eighth, size=quarter.shape[-2:], mode="bilinear", align_corners=False)
        fused = self.fuse(torch.cat((up, quarter), dim=1))
        fused = fused + self.hint_skip(hints, mask)
        return self.classifier(self.refine_extra(self.refine(fused)))


@register_model(
    "cic.base",
    output_kind="ab_bins",
    input_size=256,
    decoding="annealed_mean",
    # Chosen on val's odd half by scripts/choose_decoding.py's stated rule (docs/bundled-model.md):
    # the mean of the calibrated posterior. --prior-correction 0 --temperature 0.38 is CIC's vivid decoding.
    temperature=1.0,
    decode_extra={"prior_correction": 1.0},
    description="cic.lite grown (wide 1/16 context, deeper decoder), trained with colour hints (bundled, hint-aware).",
)
def cic_base() -> CicBase:
    """``cic.lite`` grown for quality, hint-aware (SIGGRAPH17-style hints)."""
    return CicBase()


@register_model(
    "cic.base_tiny",
    output_kind="ab_bins",
    input_size=32,
    decoding="annealed_mean",
    temperature=0.38,
    tiny=True,
)
def cic_base_tiny() -> CicBase:
    """Tiny random cic.base for tests."""
    return CicBase(widths=(8, 8, 16, 16), dilations=(1, 2), wide=16, deep_dilations=(1,))
