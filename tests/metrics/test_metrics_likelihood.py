"""Bits per dimension from nats."""

from __future__ import annotations

import math

import pytest

from autocolor.metrics.likelihood import BitsPerDimAccumulator, bits_per_dim, nats_per_dim_to_bits


def test_conversion_from_nats() -> None:
    assert bits_per_dim(3.0 * 100 * math.log(2.0), 100) == pytest.approx(3.0)
    assert nats_per_dim_to_bits(math.log(2.0)) == pytest.approx(1.0)
    # PIC's 2.51 bits/dim is 2.51 * ln 2 = 1.740 nats per dimension.
    assert nats_per_dim_to_bits(2.51 * math.log(2.0)) == pytest.approx(2.51)


def test_pooling_weights_dimensions_not_images() -> None:
    acc = BitsPerDimAccumulator()
    acc.update(1.0 * 10 * math.log(2.0), 10)  # 1 bit/dim over 10 dims
    acc.update(4.0 * 30 * math.log(2.0), 30)  # 4 bits/dim over 30 dims
    assert acc.value() == pytest.approx((10 * 1.0 + 30 * 4.0) / 40)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        bits_per_dim(1.0, 0)
    with pytest.raises(ValueError):
        BitsPerDimAccumulator().update(float("nan"), 3)
