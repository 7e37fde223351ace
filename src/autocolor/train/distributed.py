"""Process-group set-up for multi-process training under ``torchrun`` (gloo on CPU, nccl on CUDA)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar, cast

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job; ``world_size == 1`` means no process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment, if any.

    torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            # Each rank on its own GPU before NCCL starts, or collectives (barrier) all use GPU 0.
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def broadcast_object(value: T, info: DistInfo) -> T:
    """Rank 0's ``value`` on every rank (a picklable object: a checkpoint, a verdict); the
    others' ``value`` is ignored. Without a process group, ``value`` itself.

    Only rank 0 reads the run folder, so it need not be shared between machines; the objects
    come from rank 0 of the same job, which the job already trusts (its code runs there)."""
    if not info.enabled:
        return value
    box = [value if info.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return cast(T, box[0])


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_reduce_mean(value: float, info: DistInfo, device: torch.device) -> float:
    """Average a float over ranks (for logging only)."""
    if not info.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float32 if device.type == "cuda" else torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / info.world_size


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def sync_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP broadcasts buffers *before* each forward, so after the last step every replica holds
    the statistics of its own last batch; this makes the replicas identical again.
    """
    if not info.enabled:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)
