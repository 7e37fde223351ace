"""Signals during a folder batch, with real ``autocolor colorize`` processes.

SIGINT and SIGTERM stop after the files in flight: exit 130 / 143, the summary names the files
not started, the output folder holds complete outputs only. ``kill -9`` may leave hidden
temporary and lock files, which the next run removes; every rerun finishes the rest, and in the
end every input has its complete output (files lost: 0).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.reliabilitylog import record

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
SRC = Path(__file__).resolve().parents[2] / "src"
FILES = 16


def make_inputs(folder: Path, count: int = FILES, side: int = 320) -> list[Path]:
    """Noisy gray photos big enough that each takes a noticeable moment (~0.1 s)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        path = folder / f"photo{i:02d}.png"
        Image.fromarray((rng.random((side * 3 // 4, side)) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def start(inputs: Path, out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "autocolor", "colorize", str(inputs), "-o", str(out), "--json",
               "--model", "cic.tiny", "--random-weights", "--device", "cpu"]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_first_result(process: subprocess.Popen[str]) -> str:
    """The first ``--json`` line (a file is done: the batch is in full swing)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, process.stderr.read() if process.stderr else ""
    return line


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    """The rest of stdout and all of stderr once the process ends.

    Not ``communicate()``: after a ``readline()`` it would read the pipe past the lines already
    buffered in ``process.stdout`` and lose them.
    """
    assert process.stdout is not None and process.stderr is not None
    rest, err = process.stdout.read(), process.stderr.read()  # stderr is a few lines: no deadlock
    process.wait(timeout=timeout)
    return rest, err


def complete_outputs(out: Path) -> list[str]:
    """Names of the visible files in ``out``, each checked to decode to the end."""
    names = []
    for path in sorted(out.iterdir()) if out.exists() else []:
        if path.name.startswith("."):
            continue
        with Image.open(path) as image:
            image.load()
        names.append(path.name)
    return names


def hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".")) if out.exists() else []


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_stop_after_the_files_in_flight(tmp_path: Path, signum: int, code: int) -> None:
    inputs = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    process = start(tmp_path / "in", out)
    first = wait_for_first_result(process)
    process.send_signal(signum)
    rest, err = finish(process)
    records = [json.loads(line) for line in (first + rest).splitlines()]
    assert process.returncode == code, err
    assert "Traceback" not in err
    name = signal.Signals(signum).name
    done = [r for r in records if r["status"] == "ok"]
    not_started = [r for r in records if r["status"] == "skipped"]
    assert sorted(r["input"] for r in records) == sorted(map(str, inputs))  # every file answered for
    assert not_started and all(r["error"] == f"not started: interrupted by {name}" for r in not_started)
    assert f"autocolor: interrupted by {name}: {len(not_started)} file(s) not started" in err
    assert f"{len(done)} ok, {len(not_started)} skipped, 0 failed ({len(not_started)} not started)" in err
    assert complete_outputs(out) == sorted(Path(r["output"]).name for r in done)
    assert hidden(out) == []  # no temporary or lock file
    rerun = start(tmp_path / "in", out)
    rest, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert complete_outputs(out) == [p.name for p in inputs]  # the rerun finished the rest
    record("signal", where="colorize", signal=name, survived=True, files_lost=FILES - len(complete_outputs(out)))


def test_kill_9_leaves_only_hidden_leftovers_that_the_rerun_removes(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    rng = random.Random(9)
    for trial in range(2):
        process = start(tmp_path / "in", out)
        wait_for_first_result(process)  # mid-batch (the second run first sweeps what the first left)
        time.sleep(rng.uniform(0.0, 0.5))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        complete_outputs(out)  # whatever is visible is complete
        assert all(n.endswith((".tmp", ".lock")) for n in hidden(out)), hidden(out)
        record("signal", where="colorize", signal="SIGKILL", survived=True, files_lost=0, leftovers=hidden(out))
    rerun = start(tmp_path / "in", out)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert complete_outputs(out) == [p.name for p in inputs]
    assert hidden(out) == []  # leftovers of the killed runs are gone
