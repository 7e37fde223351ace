"""Bits per dimension for likelihood models (PIC reports 2.51 on ImageNet).

``bits/dim = NLL / (D ln 2)``: ``NLL`` is the negative log-likelihood of the data in nats,
summed over the ``D`` modelled dimensions (for PIC: the two chroma channels of every pixel at
the resolution the model works at, each a discrete 8-bit value). Pooled over a set:
``sum NLL / (sum D ln 2)``, which weights every dimension equally (not every image).
"""

from __future__ import annotations

import math


def bits_per_dim(nll_nats: float, dims: int) -> float:
    """Total NLL in nats over ``dims`` dimensions -> bits per dimension."""
    if dims <= 0:
        raise ValueError(f"dims must be > 0, got {dims}")
    return float(nll_nats) / (dims * math.log(2.0))


def nats_per_dim_to_bits(nats_per_dim: float) -> float:
    """Mean NLL per dimension in nats (what training losses usually print) -> bits per dim."""
    return float(nats_per_dim) / math.log(2.0)


class BitsPerDimAccumulator:
    """Pools NLL (nats) and dimension counts over images; :meth:`value` gives bits/dim."""

    def __init__(self) -> None:
        self.nll_nats = 0.0
        self.dims = 0

    def update(self, nll_nats: float, dims: int) -> None:
        if dims <= 0 or not math.isfinite(nll_nats):
            raise ValueError(f"need a finite NLL over a positive dimension count, got {nll_nats}, {dims}")
        self.nll_nats += float(nll_nats)
        self.dims += int(dims)

    def value(self) -> float:
        return bits_per_dim(self.nll_nats, self.dims)
