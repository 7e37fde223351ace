"""Reliability report: runs the fuzz and fault tests and prints what they survived.

The tests append one JSON line per event to ``$AUTOCOLOR_RELIABILITY_LOG`` (see
``tests/reliabilitylog.py``); this script points that at a temporary file, runs them with pytest
and prints fuzz cases run (in-process and through the CLI), their outcomes by class, crashes,
signals sent and survived, write faults and concurrent runs, and files lost, each beside its
target.

Usage::

    PYTHONPATH=src python3 benchmarks/bench_reliability.py            # CI-sized, ~2 minutes here
    PYTHONPATH=src python3 benchmarks/bench_reliability.py --long     # 10,000 examples a fuzz test
    PYTHONPATH=src python3 benchmarks/bench_reliability.py --from-log run.jsonl   # report only
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/test_imagefile_fuzz.py",
    "tests/cli/test_cli_colorize_fuzz.py",
    "tests/cli/test_cli_colorize_write_faults.py",
    "tests/batch/test_batch_signals.py",
    "tests/batch/test_batch_concurrent.py",
    "tests/weights/test_weights_faults.py",
    "tests/train/test_train_kill.py",
]


def run_tests(log: Path, long: bool) -> int:
    """Run the reliability tests with the event log switched on; returns pytest's exit status."""
    env = {**os.environ, "AUTOCOLOR_RELIABILITY_LOG": str(log)}
    env["PYTHONPATH"] = f"{REPO / 'src'}{os.pathsep}{env.get('PYTHONPATH', '')}"
    if long:
        env["AUTOCOLOR_FUZZ"] = "long"
        env.setdefault("AUTOCOLOR_FUZZ_CLI_FILES", "400")
    tests = [t for t in TESTS if (REPO / t).exists()]
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=REPO, env=env)


def summarize(events: list[dict[str, object]]) -> list[tuple[str, str, str]]:
    """(figure, measured, target) rows of the report."""
    fuzz = [e for e in events if e["kind"] == "fuzz"]
    rows = []
    for where in ("in-process", "cli"):
        cases = [e for e in fuzz if e["where"] == where]
        rows.append((f"fuzz cases run ({where})", f"{len(cases):,}", ">= 10,000 with --long" if where == "in-process" else "-"))
    outcomes = collections.Counter(str(e["outcome"]) for e in fuzz)
    for outcome, count in outcomes.most_common():
        rows.append((f"  outcome: {outcome}", f"{count:,}", "-"))
    mutations = collections.Counter(str(e["mutation"]) for e in fuzz)
    rows.append(("  by mutation", ", ".join(f"{k} {v:,}" for k, v in sorted(mutations.items())), "-"))
    crashes = sum(1 for e in fuzz if str(e["outcome"]).startswith("internal error"))
    rows.append(("fuzz crashes (internal error / traceback)", str(crashes), "0"))
    seconds = [float(e.get("seconds", 0.0)) for e in fuzz if "seconds" in e]
    if seconds:
        rows.append(("slowest fuzz case (s)", f"{max(seconds):.2f}", "< 20 (no hang)"))
    noise = sum(int(e["lines"]) for e in events if e["kind"] == "cli_stderr_noise")
    rows.append(("stray stderr lines in CLI fuzz runs", str(noise), "0"))
    signals = [e for e in events if e["kind"] == "signal"]
    by_signal = collections.Counter(f"{e['signal']} ({e['where']})" for e in signals)
    survived = sum(1 for e in signals if e.get("survived"))
    rows.append(("signals sent / survived", f"{len(signals)} / {survived}", "all survived"))
    for name, count in sorted(by_signal.items()):
        rows.append((f"  {name}", str(count), "-"))
    faults = [e for e in events if e["kind"] == "write_fault"]
    rows.append(("write faults (failures reported)", f"{len(faults)} ({sum(int(e['failures_reported']) for e in faults)})", "every failure reported"))
    concurrent = [e for e in events if e["kind"] == "concurrent"]
    rows.append(("concurrent runs on one output folder", str(len(concurrent)), "-"))
    rows.append(("  files written twice", str(sum(int(e.get("written_twice", 0)) for e in concurrent)), "0"))
    lost = sum(int(e.get("files_lost", 0)) for e in events)
    rows.append(("files lost", str(lost), "0"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", action="store_true", help="10,000 examples per fuzz test, 400 files in the CLI fuzz run")
    parser.add_argument("--from-log", type=Path, help="report on an existing event log instead of running the tests")
    args = parser.parse_args()
    status = 0
    if args.from_log is not None:
        log = args.from_log
    else:
        log = Path(tempfile.mkdtemp(prefix="autocolor-reliability-")) / "events.jsonl"
        status = run_tests(log, args.long)
    events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    rows = summarize(events)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'measured':>14}  target")
    for name, measured, target in rows:
        print(f"{name:<{width}}  {measured:>14}  {target}")
    print(f"\npytest exit status: {status} (0 = every reliability test passed); events: {log}")
    return status


if __name__ == "__main__":
    sys.exit(main())
