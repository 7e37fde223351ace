"""Merge run manifests (one per shard, or reruns) into one summary: done / failed / missing.

Records are matched on their ``key`` (the input's path below its folder), so manifests
written on different machines, from different working directories, merge. Per input:

- *done*: some record says ``ok`` or ``skipped`` (a later rerun that skipped it counts too);
- *failed*: records exist and none is done; the last failure's reason is kept;
- *missing*: expected (``expected`` given) but in no manifest: never finished (a killed job,
  a shard that never ran).

Inputs recorded but not expected are counted as ``unexpected`` (a list from another run, a
changed folder). Pure data in, data out; the CLI (``autocolor report``) prints it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autocolor.batch.manifest import DONE_STATUSES, ManifestRead, read_manifest, record_key

__all__ = ["Summary", "summarize", "summarize_files"]


@dataclass
class Summary:
    """The merged state of a run. ``failed`` holds the last failure record of each failed
    input; ``missing`` the keys expected but never recorded (``None``: nothing was expected)."""

    manifests: list[str]
    ok: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] | None = None
    expected: int | None = None
    unexpected: int = 0
    bad_lines: list[tuple[str, int]] = field(default_factory=list)
    weights: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return self.ok + self.skipped

    @property
    def complete(self) -> bool:
        """Nothing failed and nothing expected is missing."""
        return not self.failed and not self.missing

    @property
    def exit_code(self) -> int:
        """0 when :attr:`complete`, else 1."""
        return 0 if self.complete else 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``autocolor report --json``)."""
        return {
            "manifests": self.manifests,
            "done": self.done,
            "ok": self.ok,
            "skipped": self.skipped,
            "failed": len(self.failed),
            "missing": None if self.missing is None else len(self.missing),
            "expected": self.expected,
            "unexpected": self.unexpected,
            "complete": self.complete,
            "seconds": round(self.seconds, 3),
            "weights": self.weights,
            "bad_lines": [{"manifest": name, "line": line} for name, line in self.bad_lines],
            "failures": [
                {"input": r.get("input"), "key": record_key(r), "error": r.get("error"), "host": r.get("host")}
                for r in self.failed
            ],
            "missing_inputs": self.missing,
        }


def summarize(
    read: ManifestRead,
    *,
    manifests: Sequence[str] = (),
    expected: Mapping[str, str] | None = None,
) -> Summary:
    """Merge the records of ``read``.

    Args:
        read: records of all manifests, in file order (later lines are later events).
        manifests: their names, for the summary.
        expected: key -> path of every input the run should have covered, or ``None``.
            An expected path that some record names as its *output* is dropped (an output
            folder inside the input folder).
    """
    done: dict[str, str] = {}
    last_failure: dict[str, dict[str, Any]] = {}
    weights: Counter[str] = Counter()
    seconds = 0.0
    outputs: set[str] = set()
    for record in read.records:
        key = record_key(record)
        status = record.get("status")
        if isinstance(record.get("seconds"), (int, float)):
            seconds += float(record["seconds"])
        if isinstance(record.get("output"), str):
            outputs.add(os.path.normpath(os.path.abspath(record["output"])))
        if status in DONE_STATUSES:
            # "ok" wins over "skipped": the summary says what was actually written.
            if done.get(key) != "ok":
                done[key] = str(status)
            if status == "ok":
                weights[_weights_label(record)] += 1
        elif status == "failed":
            last_failure[key] = record
    summary = Summary(list(manifests), bad_lines=list(read.bad_lines), seconds=seconds)
    summary.ok = sum(status == "ok" for status in done.values())
    summary.skipped = len(done) - summary.ok
    summary.failed = [record for key, record in last_failure.items() if key not in done]
    summary.weights = dict(weights)
    if expected is not None:
        wanted = {
            key: path
            for key, path in expected.items()
            if os.path.normpath(os.path.abspath(path)) not in outputs
        }
        seen = set(done) | set(last_failure)
        summary.expected = len(wanted)
        summary.missing = sorted(key for key in wanted if key not in seen)
        summary.unexpected = len(seen - set(wanted))
    return summary


def _weights_label(record: Mapping[str, Any]) -> str:
    model = record.get("model") or "?"
    sha = record.get("weights_sha256")
    return f"{model} sha256:{sha[:12]}" if isinstance(sha, str) else f"{model} (random or unpinned weights)"


def summarize_files(paths: Iterable[str], *, expected: Mapping[str, str] | None = None) -> Summary:
    """:func:`summarize` of the manifest files ``paths`` (read in the order given).

    Raises:
        UsageError: a manifest cannot be read.
    """
    names = [str(p) for p in paths]
    read = ManifestRead()
    for name in names:
        read.extend(read_manifest(name))
    return summarize(read, manifests=names, expected=expected)
