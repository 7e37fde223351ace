"""Weights under faults: a bit flipped in the cache, two fetches at once, a download killed midway.

Real subprocesses run ``autocolor fetch-weights`` against a loopback HTTP server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from weights_testutil import LoopbackServer, TinyCheckpoint, model_toml, save_pth, url_source

from autocolor import weights
from autocolor.errors import ChecksumMismatchError
from autocolor.weights import cache

Manifest = Callable[[str], Path]
SRC = Path(__file__).resolve().parents[2] / "src"


def _big_checkpoint(path: Path) -> TinyCheckpoint:
    """~400 KB, so a trickled download takes about 2 s and can be killed halfway."""
    g = torch.Generator().manual_seed(3)
    return save_pth(path, {"model1.0.weight": torch.randn(100_000, generator=g)})


def _fetch_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "autocolor", "fetch-weights", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_bit_flipped_in_the_cache_is_refused_at_load_with_the_repair_command(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", tiny_pth.data)
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    path = weights.fetch("toy.net", progress=False)
    assert set(weights.load_state_dict("toy.net")) == set(tiny_pth.state)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x10  # one bit, same size and mtime-independent: only the hash can tell
    path.write_bytes(bytes(blob))
    with pytest.raises(ChecksumMismatchError) as caught:
        weights.load_state_dict("toy.net")
    message = str(caught.value)
    assert message.startswith(f"{path}: the cached weights of toy.net are corrupted")
    assert message.endswith("run `autocolor fetch-weights toy.net --force` to replace them")
    weights.fetch("toy.net", progress=False, force=True)  # the repair works
    loaded = weights.load_state_dict("toy.net")
    assert all(torch.equal(loaded[k], tiny_pth.state[k]) for k in tiny_pth.state)


def test_the_repair_command_of_a_by_hand_model_imports_the_file_again(
    tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    use_manifest(model_toml("toy.net", ['{manual = "https://example.org/get-it"}'], sha256=tiny_pth.sha256, size=tiny_pth.size))
    path = weights.import_file("toy.net", tiny_pth.path)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ChecksumMismatchError, match=r"run `autocolor fetch-weights toy.net --from FILE`"):
        weights.load_state_dict("toy.net")


def test_two_fetch_weights_processes_at_once_download_once_and_agree(
    http_server: LoopbackServer, tmp_path: Path, use_manifest: Manifest
) -> None:
    ckpt = _big_checkpoint(tmp_path / "big.pth")
    url = http_server.add("/big.pth", ckpt.data, mode="trickle")
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=ckpt.sha256, size=ckpt.size))
    first, second = _fetch_cli("toy.net"), _fetch_cli("toy.net")
    outs = [p.communicate(timeout=60) for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), outs
    assert len(http_server.requests_for("/big.pth")) == 1  # the second waited on the lock
    assert weights.verify("toy.net").ok
    leftovers = [p.name for p in cache.cache_dir().rglob("*") if p.is_file() and p.suffix in (".tmp", ".part")]
    assert leftovers == []


def test_a_download_killed_midway_resumes_where_it_stopped(
    http_server: LoopbackServer, tmp_path: Path, use_manifest: Manifest
) -> None:
    ckpt = _big_checkpoint(tmp_path / "big.pth")
    url = http_server.add("/big.pth", ckpt.data, mode="trickle")
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=ckpt.sha256, size=ckpt.size))
    part = cache.download_path("toy.net")
    victim = _fetch_cli("toy.net")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not part.exists() or part.stat().st_size < ckpt.size // 4):
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=10)
    kept = part.stat().st_size
    assert 0 < kept < ckpt.size and ckpt.data.startswith(part.read_bytes())
    http_server.routes["/big.pth"].mode = "range"
    rerun = _fetch_cli("toy.net")
    _, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert http_server.requests_for("/big.pth")[-1] == f"bytes={kept}-"
    assert weights.verify("toy.net").ok and not part.exists()
