"""``autocolor train`` killed with SIGKILL at random moments, then ``--resume``: same weights.

Three trials, each a real subprocess killed after a random delay (seeded, so a failure can be
replayed) drawn over the whole run: before the first checkpoint, mid-step, mid-checkpoint
write or after the end. The resumed run must produce *bitwise* the same ``model.safetensors``
as an uninterrupted run: on CPU with one thread every kernel is deterministic, the data order
and augmentations derive from (seed, epoch, index), and the checkpoint restores the RNG state,
so any difference would be a real resume bug, not float noise.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from autocolor.train.loop import train
from tests.reliabilitylog import record
from tests.train.trainhelpers import tiny_config

REPO = Path(__file__).resolve().parents[2]
STEPS = 8


def _cli(tmp: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    config = tiny_config(tmp, out, steps=STEPS)
    sets = [
        f'data.train="{config.data.train}"', f'data.val="{config.data.val}"', "data.crop_size=32",
        "data.val_size=32", "data.workers=0", "train.batch_size=4", f"train.steps={STEPS}",
        "train.checkpoint_every=1", "train.val_every=3", "train.threads=1", 'train.device="cpu"',
        "optim.warmup_steps=2", "objective.prior_thumbnail=16",
    ]  # fmt: skip  -- the same run as tiny_config, through the command line
    args = ["--model", "cic.lite_tiny", "--out", str(out), "--quiet", *extra]
    for item in sets:
        args += ["--set", item]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "autocolor", "train", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_kill_9_at_random_moments_then_resume_gives_bitwise_the_same_weights(tmp_path: Path) -> None:
    reference = train(tiny_config(tmp_path, tmp_path / "straight", steps=STEPS), log=lambda _: None)
    expected = load_file(str(reference.weights))
    # Seed 19 draws one kill during set-up, one early and one late; the variable replays others.
    rng = random.Random(int(os.environ.get("AUTOCOLOR_KILL_SEED", "19")))
    killed_at = []
    for trial in range(3):
        run = tmp_path / f"killed{trial}"
        victim = _cli(tmp_path, run)
        # A random point of the run: after a random number of logged steps (0 = during data
        # scan, prior and model set-up), plus a random part of one step (mid-step, mid-write).
        after_steps, extra = rng.randrange(STEPS), rng.uniform(0.0, 0.2)
        deadline = time.monotonic() + 60
        while victim.poll() is None and time.monotonic() < deadline:
            if (run / "config.json").exists() and _lines(run / "log.jsonl") >= after_steps:
                break
            time.sleep(0.005)
        time.sleep(extra)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"
        checkpoint = run / "latest.pt"
        killed_at.append(torch.load(checkpoint, weights_only=True)["step"] if checkpoint.exists() else 0)
        if trial == 0:  # the command a user types
            resumed = _cli(tmp_path, run, "--resume")
            _, err = resumed.communicate(timeout=120)
            assert resumed.returncode == 0, err
        else:  # the same call in-process: saves a second torch start-up per trial
            train(tiny_config(tmp_path, run, steps=STEPS), resume=True, log=lambda _: None)
        got = load_file(str(run / "model.safetensors"))
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert torch.equal(got[key], value), f"trial {trial} (killed at step {killed_at[-1]}): {key} differs"
        assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
        assert _lines(run / "log.jsonl") == STEPS  # steps redone after the kill are logged once
        record("signal", where="train", signal="SIGKILL", survived=True, files_lost=0, step=killed_at[-1])
    print(f"killed with checkpoints at steps {killed_at}")
