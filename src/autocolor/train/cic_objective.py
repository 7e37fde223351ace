"""The CIC objective: class-rebalanced, soft-encoded multinomial cross-entropy.

Zhang et al. (ECCV 2016): targets are the ground-truth ab soft-encoded over its 5 nearest
bins (Gaussian, sigma 5); each pixel's loss is weighted by ``w[q*]`` where ``q*`` is the
nearest bin of its ground-truth colour and ``w`` comes from the smoothed empirical prior
mixed with uniform (lambda 0.5), inverted and normalised so that E[w] = 1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autocolor.color.bins import cic_ab_grid, nearest_bin, soft_encode
from autocolor.train.hint_simulation import HintSpec, simulate_hints


def downsample_ab(ab: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area-average ground-truth ab ``(N, 2, H, W)`` to the logits' resolution ``size``."""
    if ab.shape[-2:] == size:
        return ab
    return F.adaptive_avg_pool2d(ab, size)


def rebalanced_cross_entropy(
    logits: torch.Tensor,
    ab: torch.Tensor,
    class_weights: torch.Tensor,
    grid: torch.Tensor,
) -> torch.Tensor:
    """Mean over pixels of ``-w[q*] * sum_q Z_q log softmax(logits)_q``.

    Args:
        logits: ``(N, Q, h, w)`` network output.
        ab: ``(N, 2, h, w)`` ground truth at the logits' resolution, Lab units.
        class_weights: ``(Q,)`` rebalancing weights (all ones = no rebalancing).
        grid: ``(Q, 2)`` bin centres.

    Returns:
        Scalar loss in nats per pixel (weighted).
    """
    target = soft_encode(ab, grid)
    log_prob = F.log_softmax(logits.float(), dim=1)
    per_pixel = -(target * log_prob).sum(dim=1)
    weights = class_weights.to(per_pixel)[nearest_bin(ab, grid)]
    return (weights * per_pixel).mean()


class CicObjective:
    """Callable training objective for networks with ``output_kind == "ab_bins"``.

    ``class_weights`` is the ``(313,)`` rebalancing vector (see
    :func:`autocolor.color.prior.rebalancing_weights`); ``None`` trains without rebalancing.
    With ``hints`` (hint-aware networks, ``accepts_hints``), training steps feed the network
    hints simulated from the ground truth (:mod:`autocolor.train.hint_simulation`); in eval
    mode (validation) no hints are given, so the validation loss measures automatic
    colorization and stays comparable with networks trained without hints.
    """

    def __init__(
        self,
        class_weights: np.ndarray | torch.Tensor | None = None,
        hints: HintSpec | None = None,
        seed: int = 0,
    ) -> None:
        grid = cic_ab_grid()
        self.grid = grid
        weights = torch.ones(len(grid)) if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        if weights.shape != (len(grid),):
            raise ValueError(f"class weights must have shape ({len(grid)},), got {tuple(weights.shape)}")
        self.class_weights = weights
        self.hints = hints
        self.generator = torch.Generator().manual_seed(seed)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The hint sampler's RNG state (so ``--resume`` draws the same hints)."""
        return {"hint_rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if "hint_rng" in state:
            self.generator.set_state(state["hint_rng"])

    def __call__(self, model: nn.Module, lightness: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if self.hints is not None and model.training:
            network = getattr(model, "module", model)  # DistributedDataParallel wraps it
            if not getattr(network, "accepts_hints", False):
                raise ValueError(f"{type(network).__name__} does not accept hints (objective.hints = true)")
            hints, mask = simulate_hints(ab.cpu(), self.hints, self.generator)
            logits = model(lightness, hints.to(ab.device), mask.to(ab.device))
        else:
            logits = model(lightness)
        target_ab = downsample_ab(ab, tuple(logits.shape[-2:]))
        grid = self.grid.to(logits.device)
        loss = rebalanced_cross_entropy(logits, target_ab, self.class_weights.to(logits.device), grid)
        return loss, {"loss": float(loss.detach())}
