"""``colorize --shard / --files-from / --manifest`` and ``autocolor report``, end to end.

The tiny CIC network with random weights at 32 px keeps each run to a fraction of a second;
the kill test runs a real ``python -m autocolor`` process and SIGKILLs it mid-batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from autocolor.batch.manifest import read_manifest
from autocolor.cli import main

TINY = ["--model", "cic.tiny", "--random-weights", "--device", "cpu", "--size", "32"]


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def gray(path: Path, size: tuple[int, int] = (40, 32), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8), mode="L").save(path)
    return path


def folder(root: Path, count: int, size: tuple[int, int] = (40, 32)) -> list[str]:
    """``count`` images in a small tree; returns their paths relative to ``root``."""
    names = [f"{'ab'[i % 2]}/{i // 4}/img {i:03d}.png" if i % 3 else f"top{i}.png" for i in range(count)]
    for i, name in enumerate(names):
        gray(root / name, size, seed=i)
    return sorted(names)


def json_lines(result: Result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_shards_cover_the_folder_exactly_once(tmp_path: Path, count: int) -> None:
    names = folder(tmp_path / "scans", 14)
    out = tmp_path / "out"
    taken: list[str] = []
    for k in range(1, count + 1):
        result = run("colorize", str(tmp_path / "scans"), "-o", str(out), "--shard", f"{k}/{count}", *TINY, "--json")
        assert result.exit_code == 0, result.output
        lines = json_lines(result)
        assert all(line["status"] == "ok" for line in lines)  # no shard met another's output
        taken += [Path(line["input"]).relative_to(tmp_path / "scans").as_posix() for line in lines]
    assert sorted(taken) == names  # every file once, none twice
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == names


def test_an_empty_shard_is_not_an_error(tmp_path: Path) -> None:
    gray(tmp_path / "one.png")
    results = [run("colorize", str(tmp_path / "one.png"), "-o", f"{tmp_path / 'o'}/", "--shard", f"{k}/3", *TINY)
               for k in (1, 2, 3)]  # fmt: skip
    assert [r.exit_code for r in results] == [0, 0, 0]
    assert sum("has none of the 1 input(s)" in r.stderr for r in results) == 2
    assert len(list((tmp_path / "o").glob("*.png"))) == 1


def test_files_from_relative_to_the_folder_stdin_and_nul(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "scans"
    names = folder(src, 6)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{names[0]}\n{src / names[1]}\n\n{names[0]}\n")  # relative, absolute, blank, repeat
    result = run("colorize", str(src), "--files-from", str(listing), "-o", str(tmp_path / "out"), *TINY, "--json")
    assert result.exit_code == 0, result.output
    assert [line["status"] for line in json_lines(result)] == ["ok", "ok"]
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == names[:2]

    monkeypatch.chdir(src)  # without a folder INPUT: relative to the current folder, NUL-separated from stdin
    piped = ("\0".join(names[2:4]) + "\0").encode()
    result = run("colorize", "--files-from", "-", "-o", str(tmp_path / "out2"), *TINY, input=piped)
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path / "out2").as_posix() for p in (tmp_path / "out2").rglob("*.png")) == names[2:4]


def test_shards_of_a_list_match_shards_of_the_folder(tmp_path: Path) -> None:
    src = tmp_path / "scans"
    names = folder(src, 9)
    (tmp_path / "all.txt").write_text("".join(f"{name}\n" for name in reversed(names)))
    for k in (1, 2):
        walked = run("colorize", str(src), "-o", str(tmp_path / "a"), "--shard", f"{k}/2", *TINY, "--json")
        listed = run("colorize", str(src), "--files-from", str(tmp_path / "all.txt"), "-o", str(tmp_path / "b"),
                     "--shard", f"{k}/2", *TINY, "--json")  # fmt: skip
        assert walked.exit_code == listed.exit_code == 0
        # The same key (path below the folder) whether found by a walk or read from a list.
        assert sorted(line["input"] for line in json_lines(walked)) == sorted(line["input"] for line in json_lines(listed))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--files-from", "L", "A.png"], "--files-from takes at most one INPUT, a folder"),
        (["--files-from", "L", "-o", "-"], "not stdout"),
        (["--files-from", "missing.txt"], "--files-from missing.txt: cannot read"),
        (["--files-from", "L", "-o", "A.png"], "needs -o to be a folder"),
        (["A.png", "--shard", "3/2"], "need 1 <= K <= N"),
        (["A.png", "--shard", "x"], "expected K/N"),
        (["-", "--manifest", "m.jsonl"], "stdin (-) cannot be sharded"),
        (["A.png", "-o", "-", "--ray"], "give -o FOLDER, not stdout"),
        (["A.png", "--ray-actors", "2"], "go with --ray"),
    ],
)
def test_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], words: str) -> None:
    monkeypatch.chdir(tmp_path)
    gray(tmp_path / "A.png")
    (tmp_path / "L").write_text("A.png\n")
    result = run("colorize", *args, *TINY)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "Traceback" not in result.output


def test_manifest_rerun_retries_failures_only(tmp_path: Path) -> None:
    src = tmp_path / "scans"
    names = folder(src, 5)
    (src / "zz broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    manifest = tmp_path / "run.jsonl"
    first = run("colorize", str(src), "-o", str(tmp_path / "out"), "--manifest", str(manifest), *TINY)
    assert first.exit_code == 1
    records = read_manifest(manifest).records
    assert sorted(r["key"] for r in records) == sorted([*names, "zz broken.png"])
    (bad,) = [r for r in records if r["status"] == "failed"]
    assert bad["key"] == "zz broken.png" and bad["error"] and bad["model"] == "cic.tiny"
    assert all(r["weights_sha256"] is None for r in records)  # random weights have no pinned hash
    assert all(isinstance(r["seconds"], float) and r["host"] and r["finished"] for r in records)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.png")}

    gray(src / "zz broken.png", seed=99)  # repaired
    second = run("colorize", str(src), "-o", str(tmp_path / "out"), "--manifest", str(manifest), *TINY, "--json")
    assert second.exit_code == 0, second.output
    assert [(Path(r["input"]).name, r["status"]) for r in json_lines(second)] == [("zz broken.png", "ok")]
    assert "5 input(s) already done according to" in second.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # nothing finished was redone
    assert len(read_manifest(manifest).records) == len(records) + 1

    report = run("report", str(manifest), "--expect", str(src))
    assert report.exit_code == 0, report.output
    assert "6 done, 0 failed, 0 missing of 6 expected" in report.stdout


def test_manifest_records_the_pinned_weights_hash(tmp_path: Path) -> None:
    from autocolor.weights.manifest import spec

    gray(tmp_path / "a.png", (64, 48))
    manifest = tmp_path / "m.jsonl"
    result = run("colorize", str(tmp_path / "a.png"), "-o", f"{tmp_path / 'o'}/", "--manifest", str(manifest),
                 "--model", "cic.lite", "--device", "cpu", "--offline")  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = read_manifest(manifest).records
    assert record["weights_sha256"] == spec("cic.lite").sha256 and record["model"] == "cic.lite"


def test_report_lists_failures_and_missing_with_exit_codes(tmp_path: Path) -> None:
    src = tmp_path / "scans"
    names = folder(src, 4)
    (src / "bad.png").write_bytes(b"nope")
    out = tmp_path / "out"
    run("colorize", str(src), "-o", str(out), "--shard", "1/2", "--manifest", str(tmp_path / "run-1.jsonl"), *TINY)
    with open(tmp_path / "run-1.jsonl", "ab") as file:
        file.write(b'{"input": "torn')  # a shard killed mid-line
    report = run("report", str(tmp_path / "run-1.jsonl"), "--expect", str(src))
    shard_two = [n for n in [*names, "bad.png"] if not (out / n).exists() and n != "bad.png"]
    assert report.exit_code == 1
    assert f"missing of {len(names) + 1} expected" in report.stdout
    for name in shard_two:
        assert f"missing: {name}" in report.stdout
    assert "ignored 1 unreadable line(s)" in report.stderr

    run("colorize", str(src), "-o", str(out), "--shard", "2/2", "--manifest", str(tmp_path / "run-2.jsonl"), *TINY)
    both = run("report", str(tmp_path / "run-1.jsonl"), str(tmp_path / "run-2.jsonl"), "--expect", str(src), "--json")
    assert both.exit_code == 1  # bad.png failed
    summary = json.loads(both.stdout)
    assert (summary["done"], summary["failed"], summary["missing"], summary["expected"]) == (4, 1, 0, 5)
    assert summary["failures"][0]["key"] == "bad.png" and "not an image" in summary["failures"][0]["error"]
    text = run("report", str(tmp_path / "run-1.jsonl"), str(tmp_path / "run-2.jsonl"))
    assert text.exit_code == 1 and "failed: " in text.stdout and "bad.png" in text.stdout

    assert run("report", str(tmp_path / "nope.jsonl")).exit_code == 2
    assert run("report", str(tmp_path / "run-1.jsonl"), "--expect", str(tmp_path / "run-1.jsonl")).exit_code == 2


def _manifest_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_9_mid_batch_then_rerun_finishes_without_redoing(tmp_path: Path) -> None:
    src, out, manifest = tmp_path / "scans", tmp_path / "out", tmp_path / "run.jsonl"
    names = folder(src, 40, size=(256, 192))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "autocolor", "colorize", str(src), "-o", str(out), "--manifest", str(manifest),
               *TINY, "-q"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _manifest_lines(manifest) < 6 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the batch finished before it could be killed; make it longer"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    first = read_manifest(manifest)
    finished = {r["key"] for r in first.records if r["status"] == "ok"}
    assert 6 <= len(finished) < len(names)
    for path in out.rglob("*.png"):  # whatever exists is a whole image (atomic writes)
        with Image.open(path) as img:
            img.load()
            assert img.size == (256, 192)
    stamps = {key: (out / key).stat().st_mtime_ns for key in finished}

    rerun = subprocess.run(command[:-1] + ["--json"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    redone = {Path(json.loads(line)["input"]).relative_to(src).as_posix() for line in rerun.stdout.splitlines()}
    assert not redone & finished  # nothing recorded as done was touched again
    assert all((out / key).stat().st_mtime_ns == stamp for key, stamp in stamps.items())
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == names
    summary = run("report", str(manifest), "--expect", str(src), "--json")
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout)["done"] == len(names)
