"""Claims on outputs: exclusive between processes, dropped when a process dies, leftovers swept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autocolor.batch.claims import ClaimedElsewhere, claim, lock_path, sweep

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
SRC = Path(__file__).resolve().parents[2] / "src"


def _holder(output: Path) -> subprocess.Popen[str]:
    """A process that takes the claim on ``output``, says so, and sleeps."""
    code = (
        "import sys, time\n"
        "from autocolor.batch.claims import claim\n"
        "held = claim(sys.argv[1])\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    process = subprocess.Popen([sys.executable, "-c", code, str(output)], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    return process


def test_a_claim_is_exclusive_and_released(tmp_path: Path) -> None:
    output = tmp_path / "a.png"
    with claim(output):
        assert lock_path(output).exists()
        with pytest.raises(ClaimedElsewhere):
            claim(output)  # a second open file description: refused like another process
    assert not lock_path(output).exists()
    claim(output).release()


def test_another_process_holds_it_until_it_is_killed(tmp_path: Path) -> None:
    output = tmp_path / "a.png"
    holder = _holder(output)
    try:
        with pytest.raises(ClaimedElsewhere):
            claim(output)
        (tmp_path / f".a.png.{holder.pid}.abcd1234.tmp").write_bytes(b"half")
        assert sweep(tmp_path) == []  # in use: nothing is touched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # kill -9 dropped the claim; what it left is swept, and the claim can be taken again.
    removed = sorted(p.name for p in sweep(tmp_path))
    assert removed == sorted([".a.png.lock", f".a.png.{holder.pid}.abcd1234.tmp"])
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    claim(output).release()


def test_sweep_leaves_a_live_writers_temporary_file_and_other_files(tmp_path: Path) -> None:
    mine = tmp_path / f".b.png.{os.getpid()}.abcd1234.tmp"  # a writer that holds no claim, alive
    mine.write_bytes(b"x")
    (tmp_path / ".hidden").write_bytes(b"x")
    (tmp_path / "c.png").write_bytes(b"x")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f".c.png.{int(dead.stdout)}.zz99__00.tmp"
    gone.write_bytes(b"half")
    time.sleep(0.05)
    assert sweep(tmp_path) == [gone]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, ".hidden", "c.png"])


@pytest.mark.parametrize("all_done", [True, False])
def test_a_rerun_removes_lock_files_beside_finished_outputs(tmp_path: Path, all_done: bool) -> None:
    """A run killed after its last rename leaves ``.name.lock`` beside a complete output; the next
    run removes it, also when every output is already there and it has nothing to colorize."""
    import numpy as np
    from click.testing import CliRunner
    from PIL import Image

    from autocolor.cli import main

    (tmp_path / "in").mkdir()
    for i in range(3):
        Image.fromarray(np.full((24, 32), 40 * i, np.uint8), mode="L").save(tmp_path / "in" / f"p{i}.png")
    out = tmp_path / "out"
    args = ["colorize", str(tmp_path / "in"), "-o", str(out), "--model", "cic.tiny", "--random-weights",
            "--device", "cpu", "-q"]  # fmt: skip
    assert CliRunner().invoke(main, args).exit_code == 0
    stale = [lock_path(out / "p0.png"), out / f".p1.png.{2**22 + 12345}.abcdefgh.tmp"]  # no such pid
    for path in stale:
        path.write_bytes(b"")
    if not all_done:
        (out / "p2.png").unlink()
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]
