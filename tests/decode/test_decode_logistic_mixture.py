"""Discretized logistic mixture: normalisation, the PixelCNN++ formula, bits/dim, sampling."""

from __future__ import annotations

import math

import pytest
import torch

from autocolor.decode.logistic_mixture import (
    LEVELS,
    bits_per_dim,
    log_prob,
    num_outputs,
    quantize,
    sample,
    split_params,
)

LEVEL_VALUES = torch.linspace(-1.0, 1.0, LEVELS)


def random_params(nr_mix: int, seed: int, log_scale_range: tuple[float, float] = (-5.0, 0.5)) -> torch.Tensor:
    """Parameters ``(1, 8K, 1, 1)`` with means in [-1.2, 1.2] and log-scales in the range."""
    g = torch.Generator().manual_seed(seed)
    k = nr_mix
    logits = torch.randn(k, generator=g) * 2
    coeffs = torch.randn(3 * k, generator=g) * 2  # tanh'd by the mixture
    low, high = log_scale_range
    mean_a, mean_b = (torch.rand(k, generator=g) * 2.4 - 1.2 for _ in range(2))
    ls_a, ls_b = (torch.rand(k, generator=g) * (high - low) + low for _ in range(2))
    return torch.cat((logits, coeffs, mean_a, ls_a, mean_b, ls_b)).view(1, 8 * k, 1, 1)


def joint_table(params: torch.Tensor, lightness: float) -> torch.Tensor:
    """Probabilities of all 256 x 256 (a, b) levels of one pixel, indexed ``[a, b]``."""
    a, b = torch.meshgrid(LEVEL_VALUES, LEVEL_VALUES, indexing="ij")
    ab = torch.stack((a, b)).unsqueeze(0)  # (1, 2, 256, 256): one "pixel" per pair
    wide = params.expand(1, params.shape[1], LEVELS, LEVELS)
    lum = torch.full((1, 1, LEVELS, LEVELS), lightness)
    return log_prob(wide.double(), ab.double(), lum.double()).exp()[0]


@pytest.mark.parametrize(("seed", "nr_mix", "lightness"), [(0, 10, 0.3), (1, 3, -0.9), (2, 1, 1.0)])
def test_probabilities_of_all_levels_sum_to_one(seed: int, nr_mix: int, lightness: float) -> None:
    table = joint_table(random_params(nr_mix, seed), lightness)
    assert table.min() >= 0
    assert table.sum().item() == pytest.approx(1.0, abs=1e-4)


def test_sharp_components_still_sum_to_one() -> None:
    # Log-scales below the clamp (-7) are raised to it: mass stays on a few levels and sums to 1.
    table = joint_table(random_params(4, seed=3, log_scale_range=(-12.0, -6.0)), 0.0)
    assert table.sum().item() == pytest.approx(1.0, abs=1e-4)
    assert (table > 1e-3).sum() < 40


def test_single_component_matches_logistic_cdf_differences() -> None:
    mu_a, mu_b, s_a, s_b = 0.1, -0.2, 0.05, 0.08
    c0, c1, c2 = 0.3, -0.4, 0.5  # after tanh
    raw = [0.0, math.atanh(c0), math.atanh(c1), math.atanh(c2), mu_a, math.log(s_a), mu_b, math.log(s_b)]
    params = torch.tensor(raw, dtype=torch.float64).view(1, 8, 1, 1)
    lum, a, b = 0.25, quantize(torch.tensor(0.2)).item(), quantize(torch.tensor(-1.0)).item()
    got = log_prob(params, torch.tensor([a, b], dtype=torch.float64).view(1, 2, 1, 1),
                   torch.full((1, 1, 1, 1), lum, dtype=torch.float64)).item()

    def cdf(x: float, mean: float, s: float) -> float:
        return 1.0 / (1.0 + math.exp(-(x - mean) / s))

    half = 1.0 / 255.0
    mean_a = mu_a + c0 * lum
    p_a = cdf(a + half, mean_a, s_a) - cdf(a - half, mean_a, s_a)
    mean_b = mu_b + c1 * lum + c2 * a
    p_b = cdf(-1.0 + half, mean_b, s_b)  # b = -1 is the bottom edge level: the whole lower tail
    assert got == pytest.approx(math.log(p_a * p_b), rel=1e-9)


def test_log_scales_are_clamped_at_minus_seven() -> None:
    params = random_params(2, seed=4)
    low = params.clone()
    k = 2
    low[:, 5 * k : 6 * k] = -20.0  # a's log-scales
    clamped = low.clone()
    clamped[:, 5 * k : 6 * k] = -7.0
    assert torch.equal(split_params(low).log_scales, split_params(clamped).log_scales)


def test_layout_of_the_parameters() -> None:
    k = 3
    params = torch.arange(8 * k, dtype=torch.float64).view(1, 8 * k, 1, 1)
    mix = split_params(params)
    assert mix.logits.flatten().tolist() == [0, 1, 2]
    expected_c2 = torch.tanh(torch.tensor([9.0, 10, 11], dtype=torch.float64))
    assert torch.allclose(mix.coeffs[0, 2, :, 0, 0], expected_c2)
    assert mix.means[0, :, :, 0, 0].tolist() == [[12, 13, 14], [18, 19, 20]]
    assert mix.log_scales[0, :, :, 0, 0].tolist() == [[15, 16, 17], [21, 22, 23]]
    assert num_outputs(10) == 80


def test_bits_per_dim_is_the_mean_negative_log2_likelihood() -> None:
    g = torch.Generator().manual_seed(5)
    params = torch.randn(2, 16, 3, 4, generator=g)
    ab = quantize(torch.rand(2, 2, 3, 4, generator=g) * 2 - 1)
    lum = torch.rand(2, 1, 3, 4, generator=g) * 2 - 1
    per_pixel = log_prob(params, ab, lum)
    assert per_pixel.shape == (2, 3, 4)
    expected = -per_pixel.sum(dim=(1, 2)) / (2 * 12 * math.log(2))
    assert torch.allclose(bits_per_dim(params, ab, lum), expected)


def test_quantize_rounds_to_the_256_levels() -> None:
    x = torch.tensor([-3.0, -1.0, -0.999, 0.0, 0.5, 1.0, 2.0])
    q = quantize(x)
    index = (q + 1) * 127.5
    assert torch.allclose(index, index.round(), atol=1e-4)
    assert q[0] == -1 and q[-1] == 1 and q[1] == -1
    assert quantize(q).equal(q)


def test_sampling_is_reproducible_and_seed_dependent() -> None:
    params = torch.randn(2, 24, 5, 5, generator=torch.Generator().manual_seed(6))
    lum = torch.zeros(2, 1, 5, 5)
    first = sample(params, lum, generator=torch.Generator().manual_seed(1))
    again = sample(params, lum, generator=torch.Generator().manual_seed(1))
    other = sample(params, lum, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.shape == (2, 2, 5, 5)
    assert torch.equal(quantize(first), first)


def test_one_generator_per_row_draws_each_row_as_alone() -> None:
    """Row r of a batch drawn with a sequence of generators is what generator r draws for that
    row alone, and each generator ends where the lone draw leaves it (same numbers consumed)."""
    params = torch.randn(3, 24, 4, 5, generator=torch.Generator().manual_seed(8))
    lum = torch.rand(3, 1, 4, 5, generator=torch.Generator().manual_seed(9)) * 2 - 1
    generators = [torch.Generator().manual_seed(seed) for seed in (11, 12, 13)]
    together = sample(params, lum, temperature=0.7, mixture_temperature=0.5, generator=generators)
    for row, seed in enumerate((11, 12, 13)):
        alone_generator = torch.Generator().manual_seed(seed)
        alone = sample(params[row : row + 1], lum[row : row + 1], temperature=0.7, mixture_temperature=0.5,
                       generator=alone_generator)  # fmt: skip
        assert torch.equal(together[row : row + 1], alone)
        assert torch.equal(generators[row].get_state(), alone_generator.get_state())
    assert not torch.equal(together[0], together[1])
    with pytest.raises(ValueError, match="2 generators for a batch of 3"):
        sample(params, lum, generator=generators[:2])


def test_temperature_zero_is_the_deterministic_mode() -> None:
    params = random_params(3, seed=7).repeat(1, 1, 2, 2)
    lum = torch.full((1, 1, 2, 2), 0.4)
    one = sample(params, lum, temperature=0.0, generator=torch.Generator().manual_seed(1))
    two = sample(params, lum, temperature=0.0, generator=torch.Generator().manual_seed(99))
    assert torch.equal(one, two)
    mix = split_params(params[:, :, :1, :1])
    k = int(mix.logits.flatten().argmax())
    a = quantize(mix.means[0, 0, k] + mix.coeffs[0, 0, k] * 0.4)
    b = quantize(mix.means[0, 1, k] + mix.coeffs[0, 1, k] * 0.4 + mix.coeffs[0, 2, k] * a)
    assert one[0, :, 0, 0].tolist() == pytest.approx([a.item(), b.item()])
    with pytest.raises(ValueError, match="temperature"):
        sample(params, lum, temperature=-1.0)


@pytest.mark.parametrize(
    ("log_scales", "marginal", "tolerance"), [((-5.5, -5.0), False, 0.015), ((-4.5, -3.5), True, 0.02)]
)
def test_samples_follow_the_likelihood(
    log_scales: tuple[float, float], marginal: bool, tolerance: float
) -> None:
    # 100k draws of one pixel's distribution against log_prob's table: the joint for sharp
    # components (few cells, little noise), a's marginal for wider ones.
    params = random_params(3, seed=8, log_scale_range=log_scales)
    n = 100_000
    draws = sample(params.expand(1, 24, 1, n), torch.full((1, 1, 1, n), 0.2),
                   generator=torch.Generator().manual_seed(3))
    index = ((draws[0, :, 0] + 1) * 127.5).round().long()  # (2, n) level indices
    counts = torch.zeros(LEVELS * LEVELS)
    counts.index_add_(0, index[0] * LEVELS + index[1], torch.ones(n))
    exact = joint_table(params, 0.2).float()
    empirical = (counts / n).view(LEVELS, LEVELS)
    if marginal:
        exact, empirical = exact.sum(dim=1), empirical.sum(dim=1)
    total_variation = 0.5 * (empirical - exact).abs().sum().item()
    assert total_variation < tolerance


def test_temperature_narrows_components_but_keeps_their_weights() -> None:
    """The official ``scale_var``: components are chosen with the model's weights at any
    temperature > 0; only the logistic noise shrinks (here from 0.05 to 0.025)."""
    k = 2
    logits = torch.log(torch.tensor([0.7, 0.3]))
    coeffs = torch.zeros(3 * k)  # a and b independent of L and of each other
    mean_a, mean_b = torch.tensor([-0.5, 0.5]), torch.zeros(k)
    log_scale = torch.full((k,), math.log(0.05))
    params = torch.cat((logits, coeffs, mean_a, log_scale, mean_b, log_scale)).view(1, 8 * k, 1, 1)
    params = params.expand(1, 8 * k, 200, 200)  # 40,000 independent pixels
    lum = torch.zeros(1, 1, 200, 200)
    for temperature in (1.0, 0.5):
        a = sample(params, lum, temperature=temperature, generator=torch.Generator().manual_seed(3))[0, 0]
        second = a > 0
        assert second.float().mean().item() == pytest.approx(0.3, abs=0.01)
        # logistic std = scale * pi / sqrt(3), times the temperature
        spread = (a[second] - 0.5).std().item()
        assert spread == pytest.approx(temperature * 0.05 * math.pi / math.sqrt(3), rel=0.05)


def test_mixture_temperature_sharpens_the_component_weights() -> None:
    """Dividing the logits by tau picks component k with probability softmax(logits / tau)_k:
    weights 0.7 / 0.3 become 0.7^2 / (0.7^2 + 0.3^2) = 0.845 at tau 0.5; each component's own
    spread stays what ``temperature`` makes it."""
    k = 2
    logits = torch.log(torch.tensor([0.7, 0.3]))
    coeffs = torch.zeros(3 * k)
    mean_a, mean_b = torch.tensor([-0.5, 0.5]), torch.zeros(k)
    log_scale = torch.full((k,), math.log(0.05))
    params = torch.cat((logits, coeffs, mean_a, log_scale, mean_b, log_scale)).view(1, 8 * k, 1, 1)
    params = params.expand(1, 8 * k, 200, 200)
    lum = torch.zeros(1, 1, 200, 200)
    for tau, first_share in ((1.0, 0.7), (0.5, 0.49 / 0.58), (2.0, math.sqrt(0.7) / (math.sqrt(0.7) + math.sqrt(0.3)))):
        a = sample(params, lum, mixture_temperature=tau, generator=torch.Generator().manual_seed(4))[0, 0]
        first = a < 0
        assert first.float().mean().item() == pytest.approx(first_share, abs=0.01)
        spread = (a[first] + 0.5).std().item()
        assert spread == pytest.approx(0.05 * math.pi / math.sqrt(3), rel=0.05)
    default = sample(params, lum, generator=torch.Generator().manual_seed(4))
    assert torch.equal(default, sample(params, lum, mixture_temperature=1.0, generator=torch.Generator().manual_seed(4)))
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="mixture_temperature"):
            sample(params, lum, mixture_temperature=bad)
