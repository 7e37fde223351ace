"""``autocolor colorize`` when outputs cannot be written: a full disk (RLIMIT_FSIZE) or a
read-only folder. The error names the output, inputs are untouched, no partial output is
left, and the batch reports every failure. Real subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.reliabilitylog import record

SRC = Path(__file__).resolve().parents[2] / "src"
TINY = ["--model", "cic.tiny", "--random-weights", "--device", "cpu"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _photos(folder: Path, sizes: list[tuple[int, int]]) -> dict[Path, str]:
    """Noisy gray PNGs (they compress badly, so the output size follows the pixel count)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    digests = {}
    for i, size in enumerate(sizes):
        path = folder / f"p{i}.png"
        Image.fromarray((rng.random(size[::-1]) * 255).astype(np.uint8)).save(path)
        digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _colorize(*args: str, file_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # in the child only: writes past this many bytes fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "autocolor", "colorize", *args, *TINY], env=env, capture_output=True,
        text=True, timeout=120, preexec_fn=limit if file_limit else None,
    )  # fmt: skip


def test_a_full_disk_fails_the_big_outputs_and_keeps_going(tmp_path: Path) -> None:
    inputs = _photos(tmp_path / "in", [(40, 30), (300, 200), (60, 40), (400, 300)])
    out = tmp_path / "out"
    done = _colorize(str(tmp_path / "in"), "-o", str(out), "--json", file_limit=80_000)
    assert done.returncode == 1, done.stderr
    records = {Path(r["input"]).name: r for r in map(json.loads, done.stdout.splitlines())}
    assert {n: r["status"] for n, r in records.items()} == {"p0.png": "ok", "p1.png": "failed", "p2.png": "ok", "p3.png": "failed"}
    for name in ("p1.png", "p3.png"):
        line = f"autocolor: error: {tmp_path / 'in' / name}: cannot write {out / name}: File too large"
        assert line in done.stderr.splitlines(), done.stderr
    assert "2 ok, 0 skipped, 2 failed" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p2.png"]  # no partial or temp file
    for name in ("p0.png", "p2.png"):
        with Image.open(out / name) as image:
            image.load()
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs} == inputs  # untouched
    record("write_fault", fault="RLIMIT_FSIZE", failures_reported=2, files_lost=0)


def test_a_full_disk_never_harms_an_existing_output(tmp_path: Path) -> None:
    _photos(tmp_path / "in", [(300, 200)])
    out = tmp_path / "out.png"
    out.write_bytes(b"an earlier output, kept whole")
    done = _colorize(str(tmp_path / "in" / "p0.png"), "-o", str(out), "--overwrite", file_limit=20_000)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"autocolor: error: {tmp_path / 'in' / 'p0.png'}: cannot write {out}: File too large"
    ]
    assert out.read_bytes() == b"an earlier output, kept whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.png"]


@pytest.mark.skipif(IS_ROOT or sys.platform == "win32", reason="root ignores folder permissions")
def test_a_read_only_output_folder_is_named_in_one_line(tmp_path: Path) -> None:
    _photos(tmp_path / "in", [(40, 30), (60, 40)])
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "p0.png").rename(tmp_path / "in" / "sub" / "p0.png")
    inputs = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "in").rglob("*.png")}
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub").chmod(0o555)
    try:
        done = _colorize(str(tmp_path / "in"), "-o", str(out))
        assert done.returncode == 1
        errors = [line for line in done.stderr.splitlines() if line.startswith("autocolor: error:")]
        assert len(errors) == 1 and f"cannot write {out / 'sub' / 'p0.png'}" in errors[0], done.stderr
        assert list((out / "sub").iterdir()) == [] and (out / "p1.png").is_file()
        out.chmod(0o555)
        whole = _colorize(str(tmp_path / "in"), "-o", str(out), "--overwrite")
        assert whole.returncode == 1 and "output folder is not writable" in whole.stderr
    finally:
        (out / "sub").chmod(0o755)
        out.chmod(0o755)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs} == inputs  # untouched
