"""What an evaluation is asked for and what it returns: the options, the evaluated size, the result.

Plain data with no dependency on models or metrics, so that the run (:mod:`.run`), the methods
(:mod:`.methods`) and the reports (:mod:`.report`) all import it and not each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autocolor.errors import UsageError
from autocolor.hints.spread import HintSpread

BASELINES = ("gray",)
GROUND_TRUTH = "ground_truth"


@dataclass(frozen=True)
class Resolution:
    """``native`` (as decoded), ``N`` (short side N, aspect kept) or ``WxH`` (exact, aspect ignored)."""

    text: str = "256"

    def __post_init__(self) -> None:
        self.target_size((100, 100))  # validates the text

    def target_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """Evaluated ``(width, height)`` of an image decoded at ``size``."""
        text = self.text.strip().lower()
        try:
            if text == "native":
                return size
            if "x" in text:
                w, h = (int(v) for v in text.split("x"))
                if w < 1 or h < 1:
                    raise ValueError
                return (w, h)
            short = int(text)
            if short < 1:
                raise ValueError
        except ValueError:
            raise UsageError(f"bad --resolution {self.text!r}: use native, N (short side) or WxH") from None
        width, height = size
        if min(width, height) == short:
            return size
        if width <= height:
            return (short, max(1, round(height * short / width)))
        return (max(1, round(width * short / height)), short)

    def describe(self) -> str:
        text = self.text.strip().lower()
        if text == "native":
            return "native (images scored at their decoded size)"
        if "x" in text:
            return f"{text} exactly (bicubic, aspect ignored, as CIC's 256x256 evaluation)"
        return f"short side {text} px (bicubic, aspect kept; images already at that size are not resampled)"


@dataclass
class EvalConfig:
    """What to score and how; see :func:`evaluate`."""

    data_dir: Path
    models: Sequence[str] = ()
    predictions: Sequence[tuple[str, Path]] = ()
    baselines: Sequence[str] = ()
    resolution: Resolution = field(default_factory=Resolution)
    prior_path: Path | None = None
    prior_smoothing: float = 0.0
    rebalance_lambda: float = 0.0
    grid: np.ndarray | None = None
    device: str = "auto"
    seed: int | None = 0
    temperature: float | None = None  # for every model's annealing / sampling; None = each model's own
    mixture_temperature: float | None = None  # PIC models' mixture temperature; None = each model's own
    prior_correction: float | None = None  # 313-bin models' rebalancing correction; None = each model's own
    flip_average: bool | None = None  # per-pixel models' mirror averaging; None = each model's own
    fid: bool = False
    fid_weights: Path | None = None
    limit: int | None = None
    pretrained: bool = True
    offline: bool = False
    hint_counts: Sequence[int] = ()  # colour hints simulated from the ground truth; () = automatic only
    hint_spread: HintSpread | None = field(default_factory=HintSpread)  # None: the network's own use of hints


@dataclass
class EvalResult:
    """Numbers and the protocol that produced them."""

    protocol: dict[str, Any]
    summary: dict[str, dict[str, Any]]
    rows: list[dict[str, Any]]
    skipped: list[dict[str, str]]
    colorfulness_values: dict[str, list[float]]
