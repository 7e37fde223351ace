"""How far a colour hint carries (:mod:`autocolor.hints.propagate`) and how strongly it
weighs on a 313-bin model's colour distribution (:func:`autocolor.decode.bins.add_hint_evidence`).

Plain settings, no torch: the CLI builds them while parsing options.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HintSpread:
    """How hints spread; see :mod:`autocolor.hints.propagate` for the formulas.

    Attributes:
        reach: decay length of a hint's kernel as a fraction of the grid's longer side (> 0).
        edge: pixels of distance per L* unit of lightness change (>= 0; 0: plain distance).
        floor: weight of "no correction" in the normalised sum (> 0): the larger, the sooner a
            correction fades with distance.
        sweeps: rounds of the four raster sweeps (down, up, right, left) of the distance
            transform (>= 1); more rounds follow more winding paths.
        evidence: for models that predict a distribution over the 313 CIC bins, the strength
            (>= 0; 0: off) with which each hint, at its weight ``w_k``, pulls the distribution
            towards its colour before decoding: ``logits - evidence * sum_k w_k |q - c_k|^2 /
            (2 sigma^2)``.
        sigma: the hint colour's tolerance in that pull, in Lab units (> 0).
    """

    # Chosen on val by scripts/choose_hint_spread.py (docs/hints.md): the best mean PSNR over 1,
    # 5, 10 and 50 ground-truth hints among settings whose lone hint stays local.
    reach: float = 0.1
    edge: float = 1.0
    floor: float = 0.05
    sweeps: int = 2
    evidence: float = 3.0
    sigma: float = 10.0

    def __post_init__(self) -> None:
        positive = self.reach > 0 and self.floor > 0 and self.sigma > 0
        if not positive or min(self.edge, self.evidence) < 0 or self.sweeps < 1:
            raise ValueError(
                f"invalid hint spread {self}: need reach, floor, sigma > 0, edge, evidence >= 0, sweeps >= 1"
            )
