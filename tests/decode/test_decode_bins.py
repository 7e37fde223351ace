"""Decoding 313-bin logits: annealed mean, expectation, mode and per-pixel sampling."""

from __future__ import annotations

import pytest
import torch

from autocolor.color.bins import cic_ab_grid
from autocolor.color.prior import project_log_weights
from autocolor.decode.bins import annealed_mean, correct_rebalancing, expectation, mode, sample


def _logits(seed: int = 0, shape: tuple[int, int, int, int] = (2, 313, 3, 4), scale: float = 3.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator) * scale


def test_expectation_is_the_probability_weighted_mean() -> None:
    logits, grid = _logits(), cic_ab_grid()
    out = expectation(logits, grid)
    assert out.shape == (2, 2, 3, 4) and out.dtype == torch.float32
    probs = torch.softmax(logits.double(), dim=1)
    manual = (probs[:, :, None] * grid.double().T[None, :, :, None, None].transpose(1, 2)).sum(1)
    torch.testing.assert_close(out.double(), manual, rtol=0, atol=1e-3)
    torch.testing.assert_close(annealed_mean(logits, grid, 1.0), out)


def test_annealed_mean_uses_softmax_of_logits_over_t() -> None:
    logits, grid = _logits(1), cic_ab_grid()
    t = 0.38
    # The paper's f_T(z) on z = softmax(logits): exp(log z / T), renormalised.
    z = torch.softmax(logits.double(), dim=1)
    f_t = torch.exp(torch.log(z) / t)
    f_t = f_t / f_t.sum(dim=1, keepdim=True)
    manual = torch.einsum("nqhw,qc->nchw", f_t, grid.double())
    torch.testing.assert_close(annealed_mean(logits, grid, t).double(), manual, rtol=0, atol=1e-3)


def test_small_temperature_approaches_and_then_equals_the_mode() -> None:
    logits, grid = _logits(2), cic_ab_grid()
    peak = mode(logits, grid)
    dist = [float((annealed_mean(logits, grid, t) - peak).abs().max()) for t in (1.0, 0.38, 0.1, 0.01)]
    assert dist == sorted(dist, reverse=True) and dist[-1] < 0.05 < 1.0 < dist[0]
    assert torch.equal(annealed_mean(logits, grid, 1e-3), peak)
    assert torch.equal(annealed_mean(logits, grid, 1e-9), peak)


def test_mode_of_one_hot_logits_is_that_bin_centre() -> None:
    grid = cic_ab_grid()
    logits = torch.full((1, 313, 2, 2), -5.0)
    bins = torch.tensor([[0, 17], [156, 312]])
    for i in range(2):
        for j in range(2):
            logits[0, bins[i, j], i, j] = 5.0
    out = mode(logits, grid)
    assert out.shape == (1, 2, 2, 2)
    torch.testing.assert_close(out[0].permute(1, 2, 0), grid[bins])


def test_sampling_is_reproducible_and_seed_dependent() -> None:
    logits, grid = _logits(3, scale=1.0), cic_ab_grid()
    first = sample(logits, grid, 1.0, torch.Generator().manual_seed(7))
    again = sample(logits, grid, 1.0, torch.Generator().manual_seed(7))
    other = sample(logits, grid, 1.0, torch.Generator().manual_seed(8))
    assert first.shape == (2, 2, 3, 4) and first.dtype == torch.float32
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    # Every sample is a bin centre.
    pixels = first.permute(0, 2, 3, 1).reshape(-1, 1, 2)
    assert bool(((pixels - grid[None]).abs().sum(-1) == 0).any(-1).all())


def test_sampling_of_peaked_logits_returns_the_peak() -> None:
    grid = cic_ab_grid()
    logits = torch.full((2, 313, 5, 5), -30.0)
    logits[:, 200] = 30.0
    out = sample(logits, grid, 1.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, grid[200].view(1, 2, 1, 1).expand(2, 2, 5, 5))


def test_sampling_follows_the_annealed_distribution() -> None:
    grid = cic_ab_grid()
    # Two bins with logits 0 and log(3): at T = 1 they are drawn 1 : 3; at T = 0.5, 1 : 9.
    logits = torch.full((1, 313, 100, 100), -1e4)
    logits[0, 10] = 0.0
    logits[0, 20] = float(torch.log(torch.tensor(3.0)))
    for t, share in ((1.0, 0.75), (0.5, 0.9)):
        out = sample(logits, grid, t, torch.Generator().manual_seed(1))
        hits = (out[0].permute(1, 2, 0) == grid[20]).all(-1).float().mean()
        assert abs(float(hits) - share) < 0.02
        assert bool(((out[0].permute(1, 2, 0) == grid[10]).all(-1) | (out[0].permute(1, 2, 0) == grid[20]).all(-1)).all())


def test_sampling_at_tiny_temperature_is_the_mode() -> None:
    logits, grid = _logits(4), cic_ab_grid()
    assert torch.equal(sample(logits, grid, 1e-4, torch.Generator().manual_seed(0)), mode(logits, grid))


def test_sampling_without_a_generator_uses_the_global_one() -> None:
    logits, grid = _logits(5, scale=1.0), cic_ab_grid()
    torch.manual_seed(11)
    first = sample(logits, grid, 1.0)
    torch.manual_seed(11)
    assert torch.equal(first, sample(logits, grid, 1.0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_generator_drives_cuda_logits_like_cpu_ones() -> None:
    logits, grid = _logits(6, scale=1.0), cic_ab_grid()
    on_cpu = sample(logits, grid, 1.0, torch.Generator().manual_seed(3))
    on_cuda = sample(logits.cuda(), grid.cuda(), 1.0, torch.Generator().manual_seed(3))
    assert on_cuda.device.type == "cuda"
    assert torch.equal(on_cpu, on_cuda.cpu())


def test_half_precision_logits_are_decoded_in_float32() -> None:
    logits, grid = _logits(7), cic_ab_grid()
    out = annealed_mean(logits.half(), grid, 0.38)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, annealed_mean(logits.half().float(), grid, 0.38))


@pytest.mark.parametrize("fn", [annealed_mean, mode])
def test_rejects_mismatched_grid(fn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="grid"):
        fn(torch.zeros(1, 10, 2, 2), cic_ab_grid())


def test_rejects_non_positive_temperature() -> None:
    with pytest.raises(ValueError, match="temperature"):
        annealed_mean(_logits(), cic_ab_grid(), 0.0)
    with pytest.raises(ValueError, match="temperature"):
        sample(_logits(), cic_ab_grid(), -1.0, torch.Generator())


def test_rebalancing_correction_subtracts_a_share_of_the_log_weights() -> None:
    torch.manual_seed(3)
    logits = torch.randn(2, 313, 3, 4)
    log_w = torch.randn(313)
    assert torch.equal(correct_rebalancing(logits, log_w, 0.0), logits)
    half = correct_rebalancing(logits, log_w, 0.5)
    assert torch.allclose(half, logits - 0.5 * log_w.view(1, -1, 1, 1))
    # Only the weights' shape matters, not their scale: a constant shift changes no probability.
    assert torch.allclose(
        torch.softmax(correct_rebalancing(logits, log_w + 7.0, 1.0), 1), torch.softmax(correct_rebalancing(logits, log_w, 1.0), 1), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        correct_rebalancing(logits, log_w, 1.5)
    with pytest.raises(ValueError, match="log_weights"):
        correct_rebalancing(logits, log_w[:10], 0.5)


def test_rebalancing_correction_undoes_the_training_bias_towards_rare_colours() -> None:
    # A network's rebalanced output: the true posterior times the weights. Correction 1 recovers
    # the posterior; between 0 and 1 the decoded chroma falls monotonically (rare bins are vivid).
    grid = cic_ab_grid()
    log_w = project_log_weights(0.5)
    posterior = torch.softmax(torch.randn(1, 313, 2, 2, generator=torch.Generator().manual_seed(0)), 1)
    trained = torch.log(posterior) + log_w.view(1, -1, 1, 1)
    recovered = torch.softmax(correct_rebalancing(trained, log_w, 1.0), 1)
    assert torch.allclose(recovered, posterior, atol=1e-5)
    chroma = [expectation(correct_rebalancing(trained, log_w, s), grid).norm(dim=1).mean().item() for s in (0, 0.5, 1)]
    assert chroma[0] > chroma[1] > chroma[2]


def test_hint_evidence_picks_the_hinted_mode_where_it_weighs_and_nowhere_else() -> None:
    from autocolor.color.bins import cic_ab_grid
    from autocolor.decode.bins import add_hint_evidence, annealed_mean

    grid = cic_ab_grid()
    blue = int(((grid - torch.tensor([0.0, -40.0])) ** 2).sum(1).argmin())
    orange = int(((grid - torch.tensor([20.0, 50.0])) ** 2).sum(1).argmin())
    logits = torch.full((1, grid.shape[0], 4, 4), -20.0)
    logits[0, blue], logits[0, orange] = 0.0, 0.0  # the network hesitates between the two
    weights = torch.zeros(1, 8, 8)
    weights[0, :, :4] = 1.0  # the hint weighs on the left half only (on a finer grid)
    hinted = add_hint_evidence(logits, grid, torch.tensor([[5.0, -35.0]]), weights, strength=3.0, sigma=10.0)
    ab = annealed_mean(hinted, grid, 1.0)[0]
    assert ab[1, :, :2].max() < -35  # left: blue
    torch.testing.assert_close(hinted[:, :, :, 2:], logits[:, :, :, 2:])  # right: untouched
    torch.testing.assert_close(add_hint_evidence(logits, grid, torch.zeros(0, 2), torch.zeros(0, 8, 8), 3.0, 10.0), logits)
    torch.testing.assert_close(add_hint_evidence(logits, grid, torch.tensor([[5.0, -35.0]]), weights, 0.0, 10.0), logits)
