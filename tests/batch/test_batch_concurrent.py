"""Two ``autocolor colorize`` processes over one folder into one output folder, at once.

Each output must be written exactly once (by the process holding its claim), complete, and
both processes must exit 0 with a summary that adds up: what one wrote, the other reports as
skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.batch.test_batch_signals import complete_outputs, hidden, make_inputs, start
from tests.reliabilitylog import record

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock claims are POSIX")


def test_two_runs_at_once_split_the_files_and_write_each_once(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", count=16)
    out = tmp_path / "out"
    first, second = start(tmp_path / "in", out), start(tmp_path / "in", out)
    answers = [p.communicate(timeout=180) for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), [err for _, err in answers]
    runs = [[json.loads(line) for line in stdout.splitlines()] for stdout, _ in answers]
    written: dict[str, int] = {}
    for records, (_, err) in zip(runs, answers):
        assert sorted(r["input"] for r in records) == sorted(map(str, inputs))
        ok = [r for r in records if r["status"] == "ok"]
        skipped = [r for r in records if r["status"] == "skipped"]
        assert len(ok) + len(skipped) == len(inputs)
        assert f"autocolor: {len(ok)} ok, {len(skipped)} skipped, 0 failed" in err
        for r in skipped:  # what the other run did: claimed by it, or written by it meanwhile
            assert "another autocolor process" in r["error"] or r["error"].endswith("exists (use --overwrite)"), r
        for r in ok:
            written[r["input"]] = written.get(r["input"], 0) + 1
    assert sorted(written) == sorted(map(str, inputs)) and set(written.values()) == {1}  # once each
    assert complete_outputs(out) == [p.name for p in inputs]
    assert hidden(out) == []
    shares = [sum(r["status"] == "ok" for r in records) for records in runs]
    record("concurrent", processes=2, files=len(inputs), shares=shares, written_twice=0, files_lost=0)
