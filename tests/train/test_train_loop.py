from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from autocolor.errors import UsageError
from autocolor.models.registry import create_model
from autocolor.train.checkpoint import load_checkpoint
from autocolor.train.loop import train
from tests.train.trainhelpers import tiny_config

REPO = Path(__file__).resolve().parents[2]


def test_short_run_writes_checkpoint_log_and_weights(tmp_path: Path) -> None:
    result = train(tiny_config(tmp_path, tmp_path / "run"), log=lambda _: None)
    assert result.step == 6
    lines = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == list(range(1, 7))
    assert "val_loss" in lines[2] and all(x["loss"] > 0 for x in lines)
    weights = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert torch.equal(weights["classifier.weight"], result.model.state_dict()["classifier.weight"])
    with pytest.raises(UsageError, match="already exists"):
        train(tiny_config(tmp_path, tmp_path / "run"), log=lambda _: None)


def test_resume_after_kill_9_matches_uninterrupted_run(tmp_path: Path) -> None:
    reference = train(tiny_config(tmp_path, tmp_path / "straight", steps=8), log=lambda _: None).model.state_dict()
    script = (
        "import sys, torch\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from tests.train.trainhelpers import tiny_config\n"
        "from autocolor.train.loop import train\n"
        "from pathlib import Path\n"
        "import time\n"
        "def slow(_):\n    time.sleep(0.4)\n"
        "train(tiny_config(Path(sys.argv[2]), Path(sys.argv[3]), steps=8), on_step=slow, log=lambda _: None)\n"
    )
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", script, str(REPO), str(tmp_path), str(run)])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            checkpoint = load_checkpoint(run) if (run / "latest.pt").exists() else None
            if checkpoint is not None and checkpoint["step"] >= 3:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = load_checkpoint(run)["step"]
    assert 3 <= killed_at < 8
    resumed = train(tiny_config(tmp_path, run, steps=8), resume=True, log=lambda _: None)
    assert resumed.step == 8
    for key, value in reference.items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def _ddp_worker(rank: int, port: int, tmp: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    result = train(tiny_config(Path(tmp), Path(tmp) / "ddp", steps=4), log=lambda _: None)
    torch.save(result.model.state_dict(), Path(tmp) / f"rank{rank}.pt")


def test_ddp_two_cpu_processes_keep_replicas_identical(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(_ddp_worker, args=(port, str(tmp_path)), nprocs=2, join=True)
    replicas = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert load_checkpoint(tmp_path / "ddp")["step"] == 4
    for key in replicas[0]:
        assert torch.equal(replicas[0][key], replicas[1][key]), key
    torch.manual_seed(tiny_config(tmp_path, tmp_path / "x").train.seed)  # the run's initial weights
    initial = create_model("cic.lite_tiny").state_dict()
    assert not torch.equal(initial["classifier.weight"], replicas[0]["classifier.weight"])


def test_validation_reports_every_objective_metric(tmp_path: Path) -> None:
    from autocolor.data.folder import ColorImageFolder, CropSpec
    from autocolor.train.validation import validate
    from tests.train.trainhelpers import make_folder

    make_folder(tmp_path / "val", 3)
    val_set = ColorImageFolder(tmp_path / "val", CropSpec(size=16, train=False))

    def objective(model: torch.nn.Module, lightness: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        value = float(ab[:, 0].mean())
        return torch.tensor(2.0), {"loss": 2.0, "bpd": value}

    result = validate(torch.nn.Identity(), objective, val_set, torch.device("cpu"), batch_size=2)
    expected = sum(float(val_set[i][1][0].mean()) for i in range(3)) / 3
    assert result["val_loss"] == pytest.approx(2.0) and result["val_bpd"] == pytest.approx(expected, rel=1e-5)


def test_hint_aware_network_trains_with_simulated_hints_and_augmentation(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path,
        tmp_path / "run",
        steps=4,
        **{
            "model.name": '"cic.base_tiny"',
            "objective.hints": "true",
            "objective.hint_p_none": "0.25",
            "data.exposure": "0.1",
            "data.degrade": "0.5",
        },
    )
    result = train(config, log=lambda _: None)
    assert result.step == 4 and result.weights is not None
    # The hint inputs start at zero and are the only way hints act: training moved them.
    assert result.model.hint_in.conv.weight.abs().sum() > 0
    lines = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert "val_loss" in lines[2]
