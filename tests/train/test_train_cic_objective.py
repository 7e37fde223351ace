from __future__ import annotations

import math

import torch

from autocolor.color.bins import cic_ab_grid, soft_encode
from autocolor.train.cic_objective import CicObjective, downsample_ab, rebalanced_cross_entropy


def _ab_field(indices: torch.Tensor) -> torch.Tensor:
    grid = cic_ab_grid()
    return grid[indices].permute(2, 0, 1)[None]  # (1, 2, h, w)


def test_perfect_prediction_loss_is_target_entropy() -> None:
    # A prediction equal to the soft-encoded target leaves exactly the target's entropy.
    ab = _ab_field(torch.tensor([[10, 200], [57, 120]])) + 2.0
    grid = cic_ab_grid()
    target = soft_encode(ab, grid)
    logits = torch.log(target.clamp_min(1e-30))
    loss = rebalanced_cross_entropy(logits, ab, torch.ones(313), grid)
    entropy = -(target * torch.log(target.clamp_min(1e-30))).sum(1).mean()
    assert torch.allclose(loss, entropy, atol=1e-5)
    worse = rebalanced_cross_entropy(torch.zeros_like(logits), ab, torch.ones(313), grid)
    assert math.isclose(float(worse), math.log(313), rel_tol=1e-5)  # uniform prediction


def test_pixel_weight_is_weight_of_nearest_bin() -> None:
    ab = _ab_field(torch.tensor([[5, 5]]))
    grid = cic_ab_grid()
    logits = torch.zeros(1, 313, 1, 2)
    weights = torch.ones(313)
    base = rebalanced_cross_entropy(logits, ab, weights, grid)
    weights[5] = 3.0
    assert torch.allclose(rebalanced_cross_entropy(logits, ab, weights, grid), 3 * base)


def test_objective_downsamples_targets_to_logit_resolution() -> None:
    ab = torch.zeros(2, 2, 16, 16)
    ab[:, 0, :8] = 40.0
    small = downsample_ab(ab, (4, 4))
    assert small.shape == (2, 2, 4, 4) and torch.allclose(small[0, 0, :2], torch.full((2, 4), 40.0))

    class Constant(torch.nn.Module):
        def forward(self, lightness: torch.Tensor) -> torch.Tensor:
            return torch.zeros(lightness.shape[0], 313, 4, 4, requires_grad=True)

    loss, metrics = CicObjective()(Constant(), torch.zeros(2, 1, 16, 16), ab)
    assert math.isclose(metrics["loss"], math.log(313), rel_tol=1e-5)
    loss.backward()


class _Recorder(torch.nn.Module):
    """A hint-aware stand-in that records what it is given and returns constant logits."""

    accepts_hints = True

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(313))
        self.calls: list[tuple[torch.Tensor | None, torch.Tensor | None]] = []

    def forward(self, lightness: torch.Tensor, hints: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.calls.append((hints, mask))
        n, _, h, w = lightness.shape
        return self.bias.view(1, -1, 1, 1).expand(n, -1, h // 4, w // 4)


def test_hints_are_simulated_in_training_only_and_resume_with_the_rng() -> None:
    from autocolor.train.hint_simulation import HintSpec

    objective = CicObjective(hints=HintSpec(p_none=0.0), seed=3)
    net = _Recorder()
    lightness, ab = torch.rand(2, 1, 16, 16) * 100, (torch.rand(2, 2, 16, 16) - 0.5) * 100
    state = objective.state_dict()
    objective(net.train(), lightness, ab)
    hints, mask = net.calls[-1]
    assert mask is not None and hints is not None and bool((mask.flatten(1).sum(1) > 0).all())
    objective.load_state_dict(state)  # the same RNG state draws the same hints
    objective(net, lightness, ab)
    assert torch.equal(net.calls[-1][1], mask)
    objective(net.eval(), lightness, ab)  # validation: automatic colorization
    assert net.calls[-1] == (None, None)


def test_hints_for_a_network_without_them_are_an_error() -> None:
    import pytest

    from autocolor.models.registry import create_model
    from autocolor.train.hint_simulation import HintSpec

    objective = CicObjective(hints=HintSpec())
    with pytest.raises(ValueError, match="does not accept hints"):
        objective(create_model("cic.lite_tiny").train(), torch.rand(1, 1, 32, 32) * 100, torch.zeros(1, 2, 32, 32))
