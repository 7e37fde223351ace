"""Training on several processes: a real ``torchrun`` job (c10d rendezvous, gloo on CPU)
resumes a one-process run with another world size and continues it exactly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import autocolor
from autocolor.errors import UsageError
from autocolor.train.checkpoint import load_checkpoint
from autocolor.train.config import TrainConfig, apply_overrides
from autocolor.train.loop import train
from tests.train.trainhelpers import make_folder

STEPS = 6


def pic_overrides(tmp: Path, out: Path, batch_size: int) -> list[str]:
    """A pic.tiny run (no BatchNorm, no dropout: a batch split over ranks gives the same mean
    gradient) over 12 colour photos; 3 steps of 4 images per epoch."""
    if not (tmp / "train").exists():
        make_folder(tmp / "train", 12, seed=1, gray=1)
        make_folder(tmp / "val", 2, seed=2)
    return [
        'model.name="pic.tiny"',
        f'data.train="{tmp / "train"}"',
        f'data.val="{tmp / "val"}"',
        "data.crop_size=32",
        "data.val_size=32",
        "data.workers=0",
        f"train.batch_size={batch_size}",
        f"train.steps={STEPS}",
        "train.checkpoint_every=1",
        "train.val_every=100",
        "train.threads=1",
        'train.device="cpu"',
        f'train.out="{out}"',
        "optim.warmup_steps=2",
        "optim.lr=0.01",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def torchrun(tmp: Path, overrides: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --nnodes 1 --nproc-per-node 2 --rdzv-backend c10d ... -m autocolor train``,
    the README's command on one machine, with this checkout's autocolor."""
    source = str(Path(autocolor.__file__).resolve().parents[1])
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]))
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--max-restarts", "0",
        "-m", "autocolor", "train", "--quiet", *(f"--set={o}" for o in overrides), *args,
    ]  # fmt: skip
    return subprocess.run(command, env=env, cwd=tmp, capture_output=True, text=True, timeout=300)


def test_two_processes_resume_a_one_process_checkpoint(tmp_path: Path) -> None:
    # Reference: one process, 4 images a step, straight to the end.
    straight = train(apply_overrides(TrainConfig(), pic_overrides(tmp_path, tmp_path / "straight", 4)), log=lambda _: None)
    # The same run stopped after 2 steps (8 of the epoch's 12 images) ...
    run = tmp_path / "run"
    train(apply_overrides(TrainConfig(), pic_overrides(tmp_path, run, 4)), stop_after=2, log=lambda _: None)
    saved = load_checkpoint(run)
    assert saved is not None and (saved["step"], saved["images_in_epoch"], saved["world_size"]) == (2, 8, 1)
    # ... continued by 2 processes of 2 images each: the same 4 images a step, dealt to two ranks.
    done = torchrun(tmp_path, pic_overrides(tmp_path, run, 2), "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed" in done.stdout + done.stderr and "1 process(es) then, 2 now" in done.stdout + done.stderr

    final = load_checkpoint(run)
    assert final is not None
    assert (final["step"], final["epoch"], final["images_in_epoch"], final["world_size"]) == (STEPS, 2, 0, 2)
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, STEPS + 1))  # 1-2 by one process, 3-6 by two (rank 0 logs)
    # Step counter, optimizer moments, data position and schedule all carried over: the
    # weights are the uninterrupted run's (up to the order of the gradient all-reduce).
    reference = straight.model.state_dict()
    shipped = load_file(str(run / "model.safetensors"))
    for key, value in reference.items():
        assert torch.allclose(final["model"][key], value, rtol=1e-4, atol=1e-5), key
        assert torch.equal(shipped[key], final["model"][key]), key
    assert final["optimizer"]["state"][0]["step"].item() == STEPS  # Adam's own count, continued


def test_resume_needs_a_checkpoint_and_a_fresh_run_refuses_an_old_one(tmp_path: Path) -> None:
    config = apply_overrides(TrainConfig(), pic_overrides(tmp_path, tmp_path / "none", 4))
    with pytest.raises(UsageError, match="nothing to resume"):
        train(config, resume=True, log=lambda _: None)
    train(config, stop_after=1, log=lambda _: None)
    with pytest.raises(UsageError, match="a run already exists there"):
        train(config, log=lambda _: None)
