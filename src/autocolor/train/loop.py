"""The generic training loop: any registered network, its objective, checkpoints, DDP.

One process or many under ``torchrun`` (on one machine or several); CPU (fp32) or CUDA (bf16
autocast). Rank 0 alone writes ``<out>/latest.pt`` every ``checkpoint_every`` steps,
``<out>/log.jsonl`` and, at the end, ``<out>/model.safetensors`` (the weights to ship).
``resume=True`` continues exactly; rank 0 reads the checkpoint and sends it to the other ranks,
so ``<out>`` need only exist where rank 0 runs. A run may resume with another number of
processes: the checkpoint counts the images of the current epoch already used (all ranks
together) and the sampler deals the rest (see :class:`autocolor.data.folder.EpochSampler`).
``train.batch_size`` is per process; the learning-rate schedule counts steps.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from autocolor.data.augment import AugmentSpec
from autocolor.data.folder import ColorImageFolder, CropSpec, EpochSampler
from autocolor.errors import UsageError
from autocolor.models.registry import create_model, model_info
from autocolor.train.batchnorm import recalibrate_batchnorm
from autocolor.train.checkpoint import load_checkpoint, remove_stale_temporaries, save_checkpoint
from autocolor.train.checkpoint import write_atomically as _write_atomically
from autocolor.train.config import TrainConfig
from autocolor.train.distributed import (
    DistInfo,
    all_reduce_mean,
    barrier,
    broadcast_object,
    init_distributed,
    shutdown,
    sync_buffers,
)
from autocolor.train.objectives import Objective, ObjectiveContext, build_objective
from autocolor.train.validation import validate
from autocolor.train.warm_start import freeze, set_train_mode, warm_start

StepCallback = Callable[[dict[str, float]], None]


@dataclass
class TrainResult:
    """Where the run stands when :func:`train` returns."""

    step: int
    run_dir: Path
    weights: Path | None
    last_metrics: dict[str, float]
    model: nn.Module


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``min_lr`` at the last step.

    With ``optim.decay_steps > 0`` the rate stays at ``lr`` after the warm-up and the cosine
    spans only the last ``decay_steps`` steps (warm-up, stable, decay): until the decay starts
    the schedule does not depend on ``train.steps``, so a run can be lengthened or shortened
    on ``--resume`` and still be exactly what its final config reproduces.
    """
    optim, total = config.optim, config.train.steps
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    start = optim.warmup_steps if optim.decay_steps <= 0 else max(optim.warmup_steps, total - optim.decay_steps)
    if step < start:
        return optim.lr
    progress = min(1.0, (step - start) / max(1, total - start))
    return optim.min_lr + 0.5 * (optim.lr - optim.min_lr) * (1 + math.cos(math.pi * progress))


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    # Decay conv/linear weights only: decaying BatchNorm scales and biases only shrinks them.
    trained = [p for p in model.parameters() if p.requires_grad]  # frozen ones stay out
    decay = [p for p in trained if p.ndim > 1]
    no_decay = [p for p in trained if p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[object]:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _batches(loader: DataLoader[tuple[torch.Tensor, torch.Tensor]], device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for lightness, ab in loader:
        yield lightness.to(device, non_blocking=True), ab.to(device, non_blocking=True)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def _images_in_epoch(checkpoint: dict[str, object]) -> int:
    """Images of the checkpoint's epoch already used, all ranks together."""
    if "images_in_epoch" in checkpoint:
        return int(checkpoint["images_in_epoch"])  # type: ignore[call-overload]
    # Checkpoints before multi-node resume counted batches per process; their runs were almost
    # always one process (with several, the rest of that epoch is dealt slightly differently).
    config = checkpoint["config"]
    assert isinstance(config, dict)
    return int(checkpoint["batch_in_epoch"]) * int(config["train"]["batch_size"])  # type: ignore[call-overload]


def _append_log(run_dir: Path, record: dict[str, float]) -> None:
    """One JSON line at the end of ``<run_dir>/log.jsonl``."""
    with (run_dir / "log.jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """Keep the lines of ``log.jsonl`` up to ``step`` (all of it is dropped for a fresh start)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):  # a line cut short by a kill
            continue
    _write_atomically(path, "".join(f"{line}\n" for line in kept).encode())


def _resolve_device(name: str, dist_local_rank: int) -> torch.device:
    from autocolor.devices import resolve_device

    device = resolve_device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", dist_local_rank)
    return device


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    on_step: StepCallback | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train ``config.model.name`` with its objective; see the module docstring.

    Args:
        config: the validated run configuration.
        resume: continue from ``<out>/latest.pt`` (error if absent); without it an existing
            checkpoint is an error, so a run is never silently overwritten.
        stop_after: stop (after checkpointing) once this global step is reached; the schedule
            still follows ``config.train.steps`` (used to pause and to test resumption).
        on_step: called on rank 0 after every step with the step's metrics (progress bars).
        log: where rank 0 prints one-line status messages.
    """
    import os

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _resolve_device(config.train.device, local_rank)
    dist = init_distributed(device)
    try:
        return _train(config, device, dist, resume=resume, stop_after=stop_after, on_step=on_step, log=log)
    finally:
        shutdown(dist)


def _train(
    config: TrainConfig,
    device: torch.device,
    dist: DistInfo,
    *,
    resume: bool,
    stop_after: int | None,
    on_step: StepCallback | None,
    log: Callable[[str], None],
) -> TrainResult:
    run_dir = Path(config.train.out)
    if dist.is_main and resume:
        remove_stale_temporaries(run_dir)  # what a kill -9 mid-write left behind
    if config.train.threads > 0:
        torch.set_num_threads(config.train.threads)
    # Rank 0 alone looks at <out> and decides; every rank then gets its verdict and checkpoint,
    # so all fail alike and <out> need not be on a filesystem the other machines share.
    found = load_checkpoint(run_dir) if resume and dist.is_main else None
    started = dist.is_main and (run_dir / "config.json").exists()
    exists = dist.is_main and (run_dir / "latest.pt").exists()
    checkpoint, started, exists = broadcast_object((found, started, exists), dist)
    if resume and checkpoint is None and not started:
        raise UsageError(f"{run_dir}: nothing to resume (no {run_dir / 'latest.pt'})")
    if resume and checkpoint is None and dist.is_main:
        # Started, then killed before its first checkpoint: resuming is starting over.
        log(f"{run_dir}: no checkpoint yet; starting from step 0")
    if not resume and exists:
        raise UsageError(f"{run_dir}: a run already exists there; pass --resume to continue it or choose another --out")
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(run_dir / "config.json", json.dumps(config.to_dict(), indent=2).encode())
        # Steps logged after the checkpoint we resume from are done again: drop their lines.
        _truncate_log(run_dir / "log.jsonl", checkpoint["step"] if checkpoint is not None else 0)
    barrier(dist)

    seed = config.train.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

    data = config.data
    train_set = ColorImageFolder(
        data.train,
        CropSpec(size=data.crop_size, scale=data.scale),
        seed=seed,
        min_chroma=data.min_chroma,
        chroma_cache=run_dir / "chroma_cache.json" if dist.is_main else None,
        augment=AugmentSpec(exposure=data.exposure, contrast=data.contrast, degrade=data.degrade),
    )
    val_set = ColorImageFolder(
        data.val, CropSpec(size=data.val_size, train=False), min_chroma=data.min_chroma, limit=data.val_limit
    )
    if dist.is_main:
        broken = train_set.broken + val_set.broken
        gray = train_set.skipped - len(train_set.broken)
        log(
            f"data: {len(train_set)} training images ({gray} gray skipped, {len(broken)} unreadable skipped), "
            f"{len(val_set)} validation"
        )
        for path, reason in broken:  # every file left out is named, with why
            log(f"skipped {path}: {reason}")

    info = model_info(config.model.name)
    model = create_model(config.model.name)
    if config.model.init and checkpoint is None:
        fresh = warm_start(model, config.model.init, strict=config.model.init_strict)
        if dist.is_main and fresh:
            log(f"init: {config.model.init} lacks {len(fresh)} modules, started fresh: {', '.join(fresh)}")
    frozen = freeze(model, config.model.freeze)
    model = model.to(device)
    context = ObjectiveContext(config, train_set.paths, run_dir, dist.is_main)
    # Rank 0 counts the prior first and caches it; the others then read the cache.
    objective: Objective | None = build_objective(info.output_kind, context) if dist.is_main else None
    barrier(dist)
    if objective is None:
        objective = build_objective(info.output_kind, context)

    optimizer = torch.optim.AdamW(
        _param_groups(model, config.optim.weight_decay), lr=config.optim.lr, betas=config.optim.betas
    )
    step, epoch, images_in_epoch = 0, 0, 0  # images of this epoch used so far, all ranks together
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        step, epoch, images_in_epoch = checkpoint["step"], checkpoint["epoch"], _images_in_epoch(checkpoint)
        torch.set_rng_state(checkpoint["torch_rng"])
        if hasattr(objective, "load_state_dict") and checkpoint.get("objective"):
            objective.load_state_dict(checkpoint["objective"])  # e.g. sparse-sampling RNG
        if dist.is_main:
            saved_by = checkpoint.get("world_size", 1)
            log(f"resumed {run_dir} at step {step} (epoch {epoch}, image {images_in_epoch}); "
                f"{saved_by} process(es) then, {dist.world_size} now")  # fmt: skip
    net: nn.Module = DistributedDataParallel(model) if dist.enabled else model

    sampler = EpochSampler(
        len(train_set), seed=seed, batch_size=config.train.batch_size, rank=dist.rank, world_size=dist.world_size
    )
    if sampler.batches_per_epoch() == 0:
        raise UsageError(
            f"{data.train}: {len(train_set)} images, fewer than one step of {config.train.batch_size} per process "
            f"x {dist.world_size} processes"
        )
    last: dict[str, float] = {}
    end = min(config.train.steps, stop_after) if stop_after is not None else config.train.steps

    def state() -> dict[str, object]:
        return {
            "model": _unwrap(net).state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "epoch": epoch,
            "images_in_epoch": images_in_epoch,
            "world_size": dist.world_size,
            "batch_size": config.train.batch_size,
            "torch_rng": torch.get_rng_state(),
            "objective": objective.state_dict() if hasattr(objective, "state_dict") else {},
            "config": config.to_dict(),
        }

    while step < end:
        sampler.set_epoch(epoch, images_in_epoch)
        if sampler.batches_left() == 0:  # resumed with more processes: too few images left for a step
            epoch, images_in_epoch = epoch + 1, 0
            continue
        train_set.set_epoch(epoch)
        loader = DataLoader(
            train_set,
            batch_size=config.train.batch_size,
            sampler=sampler,
            num_workers=data.workers,
            pin_memory=device.type == "cuda",
        )
        set_train_mode(net, frozen)
        tick = time.perf_counter()
        for lightness, ab in _batches(loader, device):
            lr = learning_rate(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with _autocast(device):
                loss, metrics = objective(net, lightness, ab)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.optim.grad_clip)
            optimizer.step()
            step += 1
            images_in_epoch += sampler.images_per_step
            if len(train_set) - images_in_epoch < sampler.images_per_step:  # the sampler's last step
                epoch, images_in_epoch = epoch + 1, 0
            now = time.perf_counter()
            images_per_s = lightness.shape[0] * dist.world_size / max(now - tick, 1e-9)
            tick = now
            last = {
                "step": step,
                "epoch": epoch,
                "lr": lr,
                "loss": all_reduce_mean(float(loss.detach()), dist, device),
                "grad_norm": float(grad_norm),
                "images_per_s": images_per_s,
            }
            if step % config.train.val_every == 0 or step == end:
                if dist.is_main:
                    last.update(validate(_unwrap(net), objective, val_set, device))
                set_train_mode(net, frozen)
            if dist.is_main:
                _append_log(run_dir, last)
                if on_step is not None:
                    on_step(last)
            if step % config.train.checkpoint_every == 0 or step == end:
                sync_buffers(_unwrap(net), dist)
                if dist.is_main:
                    save_checkpoint(run_dir, state())
                barrier(dist)
            if step >= end:
                break

    weights = None
    if dist.is_main and step >= config.train.steps:
        if config.train.recalibrate_batchnorm > 0:
            # After the last checkpoint: a resumed longer run continues from training's own statistics.
            model = _unwrap(net)
            whole = ColorImageFolder(
                data.train,
                CropSpec(size=data.val_size, train=False),
                min_chroma=data.min_chroma,
                chroma_cache=run_dir / "chroma_cache.json",  # the training set's scan, not a second one
            )
            used = recalibrate_batchnorm(
                model, whole, count=config.train.recalibrate_batchnorm, seed=seed, device=device
            )
            after = validate(model, objective, val_set, device)
            recalibrated = {f"{name}_recalibrated": value for name, value in after.items()}
            last.update(recalibrated)
            _append_log(run_dir, {"step": step, **recalibrated})
            log(f"BatchNorm statistics re-estimated on {used} whole training photos at {data.val_size} px: "
                f"val_loss {after['val_loss']:.4g}")  # fmt: skip
        weights = run_dir / "model.safetensors"
        tensors = {k: v.detach().cpu().contiguous() for k, v in _unwrap(net).state_dict().items()}
        blob = save(tensors, metadata={"arch": config.model.name, "steps": str(step)})
        _write_atomically(weights, blob)  # a kill mid-write leaves no half weights file
        log(f"finished: {weights}")
    barrier(dist)
    return TrainResult(step=step, run_dir=run_dir, weights=weights, last_metrics=last, model=_unwrap(net))
