"""Run manifest: durable appends, torn lines, resume decisions, weights hashes, merged reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from autocolor.batch.manifest import (
    FIELDS,
    ManifestRead,
    ManifestWriter,
    Resume,
    manifest_record,
    read_manifest,
    weights_sha256,
)
from autocolor.batch.report import summarize, summarize_files
from autocolor.errors import UsageError


@dataclass
class Result:
    input: str
    output: str | None
    status: str
    error: str | None = None
    seconds: float = 0.5
    width: int | None = 60
    height: int | None = 40
    model: str | None = "cic.lite"


def record(key: str, status: str = "ok", output: str | None = None, error: str | None = None) -> dict:
    result = Result(f"src/{key}", output or f"out/{key}", status, error)
    return manifest_record(result, key=key, weights_sha256="ab" * 32)


def test_record_has_every_field_in_order() -> None:
    line = record("a.png")
    assert tuple(line) == FIELDS
    assert line["status"] == "ok" and line["key"] == "a.png" and line["weights_sha256"] == "ab" * 32
    assert line["finished"].endswith("Z") and line["host"]


def test_writer_appends_whole_lines_and_seals_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "run.jsonl"  # the folder is created
    with ManifestWriter(path) as writer:
        writer.write(record("a.png"))
        writer.write(record("b.png", "failed", error="not an image"))
    with open(path, "ab") as file:  # a kill -9 in the middle of a write
        file.write(b'{"input": "src/c.png", "key": "c.p')
    read = read_manifest(path)
    assert [r["key"] for r in read.records] == ["a.png", "b.png"]
    assert read.bad_lines == [(str(path), 3)]

    with ManifestWriter(path) as writer:  # the rerun appends after the torn fragment
        writer.write(record("c.png"))
    read = read_manifest(path)
    assert [r["key"] for r in read.records] == ["a.png", "b.png", "c.png"]
    assert read.bad_lines == [(str(path), 3)]
    assert path.read_bytes().endswith(b"\n")


def test_unreadable_manifest_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nope.jsonl"):
        read_manifest(tmp_path / "nope.jsonl")


def test_resume_skips_done_with_existing_output_and_retries_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"x")
    (out / "s.png").write_bytes(b"x")
    records = [
        record("a.png", output=str(out / "a.png")),
        record("gone.png", output=str(out / "gone.png")),  # ok, but the output was deleted since
        record("b.png", "failed", output=str(out / "b.png"), error="boom"),
        record("s.png", "skipped", output=str(out / "s.png")),
        record("c.png", "failed", output=str(out / "c.png")),
        record("c.png", output=str(out / "a.png")),  # a later success... into another output
    ]
    resume = Resume(records)
    assert resume.done("a.png", str(out / "a.png"), "cic.lite")
    assert resume.done("s.png", str(out / "s.png"), "cic.lite")
    assert not resume.done("a.png", str(out / "a.png"), "pic.small")  # another model: redo
    assert not resume.done("a.png", str(out / "elsewhere.png"), "cic.lite")
    assert not resume.done("gone.png", str(out / "gone.png"), "cic.lite")
    assert not resume.done("b.png", str(out / "b.png"), "cic.lite") and resume.failed_before("b.png")
    assert not resume.done("c.png", str(out / "c.png"), "cic.lite")
    assert not resume.done("new.png", str(out / "new.png"), "cic.lite")
    assert len(Resume.from_file(tmp_path / "absent.jsonl")) == 0


def test_weights_sha256_comes_from_weights_toml() -> None:
    from autocolor.weights.manifest import spec

    assert weights_sha256("cic.lite") == spec("cic.lite").sha256
    assert weights_sha256("cic.lite") == "3664d139792405884407529fe9bdf14ea020dd321dc71f8faec0d537d80908a8"
    assert weights_sha256("cic.lite", pretrained=False) is None
    assert weights_sha256("pic.imagenet") is None  # unpublished and not imported in this home
    assert weights_sha256("gcp.imagenet") is None  # its parts are not imported either
    assert weights_sha256("not.a.model") is None


def test_summary_merges_shards_and_finds_missing(tmp_path: Path) -> None:
    one, two = tmp_path / "run-1.jsonl", tmp_path / "run-2.jsonl"
    with ManifestWriter(one) as writer:
        writer.write(record("a.png"))
        writer.write(record("b.png", "failed", error="truncated image"))
        writer.write(record("b.png", "failed", error="truncated image (again)"))
    with ManifestWriter(two) as writer:
        writer.write(record("c.png", "failed", error="boom"))
        writer.write(record("c.png"))  # retried by a rerun: done
        writer.write(record("d.png", "skipped"))
        writer.write(record("stray.png"))
    expected = {k: f"src/{k}" for k in ("a.png", "b.png", "c.png", "d.png", "e.png")}
    summary = summarize_files([str(one), str(two)], expected=expected)
    assert (summary.ok, summary.skipped, summary.done) == (3, 1, 4)
    assert [(f["key"], f["error"]) for f in summary.failed] == [("b.png", "truncated image (again)")]
    assert summary.missing == ["e.png"] and summary.expected == 5 and summary.unexpected == 1
    assert not summary.complete and summary.exit_code == 1
    data = summary.to_json()
    json.dumps(data)
    assert data["failed"] == 1 and data["missing"] == 1 and data["missing_inputs"] == ["e.png"]
    assert data["weights"] == {f"cic.lite sha256:{'ab' * 6}": 3}
    assert data["failures"][0]["input"] == "src/b.png"

    without = summarize_files([str(two)])
    assert without.missing is None and without.failed == [] and without.exit_code == 0


def test_summary_ignores_expected_paths_that_are_outputs() -> None:
    read = ManifestRead([record("a.png", output="src/out/a.png")])
    summary = summarize(read, expected={"a.png": "src/a.png", "out/a.png": "src/out/a.png"})
    assert summary.expected == 1 and summary.missing == [] and summary.complete
