"""Training objectives chosen by a network's ``output_kind`` (no dispatch on model names).

Each factory gets the run context and returns a callable
``objective(model, lightness (N,1,H,W), ab (N,2,H,W)) -> (loss, metrics)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autocolor.errors import UsageError
from autocolor.train.config import TrainConfig

Objective = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class ObjectiveContext:
    """What a factory may need: the config, the training images and the run folder."""

    config: TrainConfig
    train_paths: list[Path]
    run_dir: Path
    is_main: bool


_FACTORIES: dict[str, Callable[[ObjectiveContext], Objective]] = {}


def register_objective(output_kind: str) -> Callable[[Callable[[ObjectiveContext], Objective]], Callable[[ObjectiveContext], Objective]]:
    def decorator(factory: Callable[[ObjectiveContext], Objective]) -> Callable[[ObjectiveContext], Objective]:
        _FACTORIES[output_kind] = factory
        return factory

    return decorator


def build_objective(output_kind: str, context: ObjectiveContext) -> Objective:
    try:
        factory = _FACTORIES[output_kind]
    except KeyError:
        raise UsageError(f"no training objective for networks that output {output_kind!r}") from None
    return factory(context)


def estimate_prior(context: ObjectiveContext) -> np.ndarray:
    """Empirical ab prior of the training images, cached as ``prior_counts.npy`` in the run."""
    from autocolor.data.prior import count_ab_bins

    cache = context.run_dir / "prior_counts.npy"
    counts = None
    if cache.exists():
        try:
            counts = np.load(cache, allow_pickle=False)
        except (OSError, ValueError):  # cut short by a crash before atomic writes: count again
            counts = None
    if counts is None:
        counts = count_ab_bins(context.train_paths, context.config.objective.prior_thumbnail)
        if context.is_main:
            # Temp file + rename: a run killed mid-write must not leave a half file to resume from.
            tmp = cache.with_name(f".{cache.name}.tmp")
            with open(tmp, "wb") as handle:
                np.save(handle, counts, allow_pickle=False)
            os.replace(tmp, cache)
    return counts / counts.sum()


@register_objective("ab_bins")
def _cic(context: ObjectiveContext) -> Objective:
    from autocolor.color.prior import rebalancing_weights
    from autocolor.train.cic_objective import CicObjective
    from autocolor.train.hint_simulation import HintSpec

    prior = estimate_prior(context)
    section = context.config.objective
    weights = rebalancing_weights(prior, lam=section.rebalance_lambda, sigma=section.prior_sigma)
    hints = None
    if section.hints:
        try:
            hints = HintSpec(
                p_none=section.hint_p_none, geometric_p=section.hint_geometric_p, max_patch=section.hint_max_patch
            )
        except ValueError as exc:
            raise UsageError(f"objective: {exc}") from None
    return CicObjective(weights, hints=hints, seed=context.config.train.seed)


@register_objective("ab_mixture")
def _pic(context: ObjectiveContext) -> Objective:
    from autocolor.train.pic_objective import PicObjective

    return PicObjective()


@register_objective("hue_chroma")
def _larsson(context: ObjectiveContext) -> Objective:
    from autocolor.train.larsson_objective import LarssonObjective

    return LarssonObjective(seed=context.config.train.seed)
