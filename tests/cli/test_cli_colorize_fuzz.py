"""``autocolor colorize`` as a real process over a folder of damaged files of every kind.

The folder holds a seeded sample of the mutations of :mod:`tests.fuzzimages` (every seed file,
every kind of damage) plus the intact seeds. One run must go through all of them: exit 1, one
``autocolor: error: FILE: reason`` line per failed file, no traceback or Python warning, a
``--json`` line per file, and in the output folder exactly the complete outputs.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.fuzzimages import (
    KINDS,
    Mutation,
    boundaries,
    dimension_fields,
    length_fields,
    metadata_spans,
    reason_class,
    seed_files,
    suffix_of,
)
from tests.reliabilitylog import record

SRC = Path(__file__).resolve().parents[2] / "src"
FILES = int(os.environ.get("AUTOCOLOR_FUZZ_CLI_FILES", "80"))
TIMEOUT = 30 + 2 * FILES  # seconds for the whole batch: a hang on any file fails the test


def _random_mutation(rng: random.Random, data: bytes, kind: str) -> Mutation:
    if kind == "truncate":
        return Mutation(kind, (rng.choice(boundaries(data)),))
    if kind == "metadata" and metadata_spans(data):
        low, high = rng.choice(metadata_spans(data))
        return Mutation(kind, (rng.randrange(low, high),), (rng.randrange(1, 256),))
    if kind in ("length", "dimensions") and (length_fields(data) if kind == "length" else dimension_fields(data)):
        return Mutation(kind, (rng.randrange(64),), (rng.choice([0, 1, 65535, 2**31 - 1, rng.randrange(2**32)]),))
    if kind == "none":
        return Mutation("none")
    count = rng.randint(1, 6)
    return Mutation("flip", tuple(rng.randrange(len(data)) for _ in range(count)),
                    tuple(rng.randrange(1, 256) for _ in range(count)), fix_crc=rng.random() < 0.5)  # fmt: skip


def test_a_folder_of_damaged_files_runs_to_the_end_with_one_line_per_failure(tmp_path: Path) -> None:
    rng = random.Random(1616)
    scans = tmp_path / "scans"
    scans.mkdir()
    seeds = seed_files()
    made: dict[str, str] = {}
    for i in range(FILES):
        name = sorted(seeds)[i % len(seeds)]
        kind = KINDS[(i // len(seeds) + i) % len(KINDS)]
        mutation = _random_mutation(rng, seeds[name], kind)
        path = scans / f"f{i:03d}_{name}{suffix_of(name)}"
        path.write_bytes(mutation.apply(seeds[name]))
        made[str(path)] = mutation.kind
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "autocolor", "colorize", str(scans), "-o", str(out), "--json",
               "--max-pixels", "300k", "--model", "cic.tiny", "--random-weights", "--device", "cpu"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["input"] for r in records) == sorted(made)  # every file answered for
    failed = [r for r in records if r["status"] == "failed"]
    ok = [r for r in records if r["status"] == "ok"]
    assert done.returncode == (1 if failed else 0), done.stderr
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    ours = [line for line in done.stderr.splitlines() if line.startswith("autocolor: ")]
    errors = [line for line in ours if line.startswith("autocolor: error: ")]
    assert sorted(errors) == sorted(f"autocolor: error: {r['input']}: {r['error']}" for r in failed)
    assert not any(r["error"].startswith("internal error") for r in failed), failed
    assert ours[-1] == f"autocolor: {len(ok)} ok, 0 skipped, {len(failed)} failed"
    outputs = sorted(str(p) for p in out.rglob("*") if p.is_file()) if out.exists() else []
    assert outputs == sorted(r["output"] for r in ok)  # complete outputs only, no temp files
    for r in ok:
        with Image.open(r["output"]) as image:
            image.load()
            assert image.size == (r["width"], r["height"])
    for r in records:
        record("fuzz", where="cli", mutation=made[r["input"]], outcome="ok" if r["status"] == "ok" else reason_class(r["error"]))
    other = [line for line in done.stderr.splitlines() if not line.startswith("autocolor: ")]
    record("cli_stderr_noise", lines=len(other), sample=other[:3])
    assert other == []  # no library chatter (libtiff, libpng) either: one line per failure
