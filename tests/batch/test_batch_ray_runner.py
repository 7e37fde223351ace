"""The Ray executor on a real local Ray instance (2 CPUs, loopback only, no dashboard).

One Ray instance serves the whole session (starting one takes seconds); each test that runs a
dataset pays for its actors' start-up (loading torch and the model), so there are few of them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from autocolor.batch.manifest import read_manifest
from autocolor.cli import main
from autocolor.errors import UsageError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'autocolor[ray]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed")

from autocolor.batch.ray_runner import RayOptions, RayUnavailableError, colorize_with_ray  # noqa: E402

TINY = ["--model", "cic.tiny", "--random-weights", "--device", "cpu", "--size", "32"]


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("ray_autocolor_home")
    env = {"AUTOCOLOR_HOME": str(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    ray.init(address="local", num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env},
             logging_level="WARNING", log_to_driver=False)  # fmt: skip
    yield ray
    ray.shutdown()


def make_folder(root: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        path = root / ("sub" if i % 3 == 0 else "") / f"photo {i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        ramp = np.linspace(0, 255, 48)[None, :] * np.ones((36, 1))
        pixels = np.clip(0.6 * ramp + 0.4 * rng.uniform(0, 255, (36, 48)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(path)
        paths.append(path)
    (root / "broken.png").write_bytes(b"not a png")
    return paths


def test_outputs_byte_identical_to_single_process_and_manifest_complete(ray_local, tmp_path: Path) -> None:
    src = tmp_path / "scans"
    photos = make_folder(src, 6)
    single = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "single"), *TINY, "-q"])
    assert single.exit_code == 1  # broken.png

    manifest = tmp_path / "run.jsonl"
    seen = []
    results = colorize_with_ray(
        f"file://{src}", str(tmp_path / "ray"), model="cic.tiny", device="cpu", size=32, pretrained=False,
        manifest=manifest, options=RayOptions(rows_per_call=2), on_result=seen.append,
    )  # fmt: skip
    assert sorted(r.input for r in seen) == sorted(r.input for r in results)
    assert sum(r.status == "ok" for r in results) == 6
    (broken,) = [r for r in results if r.status == "failed"]
    assert broken.input.endswith("broken.png") and "not an image" in broken.error
    for photo in photos:
        relative = photo.relative_to(src)
        assert (tmp_path / "ray" / relative).read_bytes() == (tmp_path / "single" / relative).read_bytes()

    read = read_manifest(manifest)
    assert read.bad_lines == []
    keys = sorted(r["key"] for r in read.records)
    assert keys == sorted([p.relative_to(src).as_posix() for p in photos] + ["broken.png"])
    assert {r["status"] for r in read.records} == {"ok", "failed"}
    assert all(r["model"] == "cic.tiny" and r["weights_sha256"] is None for r in read.records)

    # A rerun with the same manifest has nothing left but the failure, and retries just that.
    again = colorize_with_ray(str(src), str(tmp_path / "ray"), model="cic.tiny", device="cpu", size=32,
                              pretrained=False, manifest=manifest)  # fmt: skip
    assert [Path(r.input).name for r in again] == ["broken.png"]
    assert len(read_manifest(manifest).records) == len(read.records) + 1


def test_cli_ray_path_with_shards_hints_and_report(ray_local, tmp_path: Path) -> None:
    src = tmp_path / "scans"
    photos = make_folder(src, 5)
    (src / "broken.png").unlink()
    points = {p.relative_to(src).as_posix(): [{"x": 10, "y": 10 + i, "color": "#c03020"}] for i, p in enumerate(photos)}
    (tmp_path / "hints.json").write_text(json.dumps(points))
    guided = ["--model", "cic.tiny_regression", "--random-weights", "--device", "cpu", "--hints", str(tmp_path / "hints.json")]
    single = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "single"), *guided, "-q"])
    assert single.exit_code == 0, single.output
    out = tmp_path / "out"
    for k in (1, 2):
        result = CliRunner().invoke(main, [
            "colorize", str(src), "-o", str(out), *guided, "--ray", "--shard", f"{k}/2",
            "--manifest", str(tmp_path / f"run-{k}.jsonl"), "--json",
        ])  # fmt: skip
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert all(line["status"] == "ok" and line["hints"][0]["color"] == "#c03020" for line in lines)
    for photo in photos:  # the hints reached the actors: same pixels as the hinted single-process run
        relative = photo.relative_to(src)
        assert (out / relative).read_bytes() == (tmp_path / "single" / relative).read_bytes()
    report = CliRunner().invoke(main, ["report", str(tmp_path / "run-1.jsonl"), str(tmp_path / "run-2.jsonl"),
                                       "--expect", str(src), "--json"])  # fmt: skip
    assert report.exit_code == 0, report.output
    summary = json.loads(report.stdout)
    assert (summary["done"], summary["failed"], summary["missing"]) == (5, 0, 0)


def test_refusals_before_ray_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "scans"
    make_folder(src, 1)
    with pytest.raises(UsageError, match="local or shared folder"):
        colorize_with_ray(str(src), "s3://bucket/out", model="cic.tiny", pretrained=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no supported images"):
        colorize_with_ray(str(tmp_path / "empty"), str(tmp_path / "x"), model="cic.tiny")
    with pytest.raises(UsageError, match="decoding"):
        colorize_with_ray(str(src), str(tmp_path / "o"), model="cic.tiny", decoding="nonsense", pretrained=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(RayUnavailableError, match=r"autocolor\[ray\]"):
        colorize_with_ray(str(src), str(tmp_path / "o"), model="cic.tiny", device="cpu", pretrained=False)
