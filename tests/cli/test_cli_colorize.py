"""``autocolor colorize`` end to end with the tiny CIC network (random weights, CPU)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from autocolor import pipeline
from autocolor.cli import main
from autocolor.imagefile import read_photo

# --random-weights is the hidden test-only switch: cic.tiny has no published weights.
TINY = ["--model", "cic.tiny", "--random-weights", "--device", "cpu"]


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["colorize", *args], input=input, catch_exceptions=False)


def gray_image(path: Path, size: tuple[int, int] = (60, 40), seed: int = 0) -> Path:
    """An 8-bit gray image (width, height) with a gradient and texture, in path's format."""
    width, height = size
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, width)[None, :] * np.ones((height, 1))
    pixels = np.clip(0.7 * ramp + 0.3 * rng.uniform(0, 255, (height, width)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode="L").save(path)
    return path


def test_single_file_default_name_skip_and_overwrite(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png")
    first = run(str(src), *TINY)
    assert first.exit_code == 0, first.output
    out = tmp_path / "old_color.png"
    with Image.open(out) as img:
        assert img.size == (60, 40) and img.mode == "RGB"
    assert first.stderr == ""  # one file that worked: nothing to say

    out.write_bytes(b"sentinel")
    again = run(str(src), *TINY)
    assert again.exit_code == 0  # a skip is not a failure
    assert out.read_bytes() == b"sentinel"
    assert "skipped" in again.stderr and "--overwrite" in again.stderr

    forced = run(str(src), *TINY, "--overwrite")
    assert forced.exit_code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_output_file_folder_and_format(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "in" / "photo.png")
    assert run(str(src), "-o", str(tmp_path / "chosen.jpg"), *TINY).exit_code == 0
    with Image.open(tmp_path / "chosen.jpg") as img:
        assert img.format == "JPEG"
    (tmp_path / "dest").mkdir()
    assert run(str(src), "-o", str(tmp_path / "dest"), *TINY).exit_code == 0
    assert (tmp_path / "dest" / "photo.png").is_file()
    assert run(str(src), *TINY, "--format", "jpg").exit_code == 0
    with Image.open(tmp_path / "in" / "photo_color.jpg") as img:
        assert img.format == "JPEG"


def test_folder_mirrors_tree_and_skips_existing(tmp_path: Path) -> None:
    gray_image(tmp_path / "scans" / "a.png")
    gray_image(tmp_path / "scans" / "sub" / "b.jpg", seed=1)
    gray_image(tmp_path / "scans" / "sub" / "deeper" / "c.tif", seed=2)
    (tmp_path / "scans" / "notes.txt").write_text("not an image")
    gray_image(tmp_path / "scans" / ".hidden.png")
    out = tmp_path / "colored"

    result = run(str(tmp_path / "scans"), "-o", str(out), *TINY)
    assert result.exit_code == 0, result.output
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert made == ["a.png", "sub/b.jpg", "sub/deeper/c.tif"]
    # The files not taken are listed with their reason, never passed over in silence.
    assert "3 ok, 2 skipped, 0 failed (2 file(s) not taken, listed above)" in result.stderr
    assert "notes.txt: .txt is not an image format autocolor reads" in result.stderr
    assert ".hidden.png: hidden file" in result.stderr

    (out / "sub" / "b.jpg").unlink()
    again = run(str(tmp_path / "scans"), "-o", str(out), *TINY, "--json")
    assert again.exit_code == 0
    status = {Path(r["input"]).name: r["status"] for r in map(json.loads, again.stdout.splitlines())}
    assert status == {"a.png": "skipped", "b.jpg": "ok", "c.tif": "skipped", "notes.txt": "skipped", ".hidden.png": "skipped"}
    assert "1 ok, 4 skipped, 0 failed (2 output(s) exist; --overwrite to redo; 2 file(s) not taken" in again.stderr


def test_no_recursive_and_png_format_in_folder_mode(tmp_path: Path) -> None:
    gray_image(tmp_path / "scans" / "top.jpg")
    gray_image(tmp_path / "scans" / "sub" / "inner.png")
    out = tmp_path / "out"
    result = run(str(tmp_path / "scans"), "-o", str(out), "--no-recursive", "--format", "png", *TINY)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["top.png"]


def test_output_folder_inside_the_input_folder_is_not_walked(tmp_path: Path) -> None:
    gray_image(tmp_path / "scans" / "a.png")
    out = tmp_path / "scans" / "colored"
    assert run(str(tmp_path / "scans"), "-o", str(out), *TINY).exit_code == 0
    second = run(str(tmp_path / "scans"), "-o", str(out), *TINY, "--json")
    records = [json.loads(line) for line in second.stdout.splitlines()]
    assert [(Path(r["input"]).name, r["status"]) for r in records] == [("a.png", "skipped")]


def test_folder_without_output_writes_beside_and_ignores_earlier_outputs(tmp_path: Path) -> None:
    gray_image(tmp_path / "album" / "x.png")
    gray_image(tmp_path / "album" / "sub" / "y.png")
    assert run(str(tmp_path / "album"), *TINY).exit_code == 0
    assert (tmp_path / "album" / "x_color.png").is_file()
    assert (tmp_path / "album" / "sub" / "y_color.png").is_file()
    again = run(str(tmp_path / "album"), *TINY, "--json")
    records = [json.loads(line) for line in again.stdout.splitlines()]
    assert sorted(Path(r["input"]).name for r in records) == ["x.png", "x_color.png", "y.png", "y_color.png"]
    assert {r["status"] for r in records} == {"skipped"}
    earlier = [r["error"] for r in records if "_color" in r["input"]]
    assert earlier == ["looks like an earlier output (*_color.*)"] * 2
    assert not list((tmp_path / "album").rglob("*_color_color*"))


def test_json_lines_have_every_field(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "p.png", size=(50, 30))
    result = run(str(src), str(tmp_path / "missing.png"), "-o", str(tmp_path / "o"), *TINY, "--json")
    assert result.exit_code == 1
    ok, failed = (json.loads(line) for line in result.stdout.splitlines())
    keys = {"input", "output", "status", "error", "seconds", "width", "height", "model"}
    assert set(ok) == keys and set(failed) == keys
    assert ok["status"] == "ok" and ok["error"] is None
    assert (ok["width"], ok["height"], ok["model"]) == (50, 30, "cic.tiny")
    assert Path(ok["output"]) == tmp_path / "o" / "p.png" and ok["seconds"] > 0
    assert failed["status"] == "failed" and failed["error"] == "no such file"
    assert failed["width"] is None


def test_stdin_to_stdout_and_file_to_stdout(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "s.png", size=(33, 21))
    result = run("-", *TINY, input=src.read_bytes())
    assert result.exit_code == 0, result.stderr
    with Image.open(io.BytesIO(result.stdout_bytes)) as img:
        assert img.format == "PNG" and img.size == (33, 21) and img.mode == "RGB"
    as_jpeg = run(str(src), "-o", "-", "--format", "jpg", *TINY)
    with Image.open(io.BytesIO(as_jpeg.stdout_bytes)) as img:
        assert img.format == "JPEG" and img.size == (33, 21)
    to_file = run("-", "-o", str(tmp_path / "from_stdin.png"), *TINY, input=src.read_bytes())
    assert to_file.exit_code == 0 and (tmp_path / "from_stdin.png").is_file()


def test_output_keeps_the_full_resolution_lightness(tmp_path: Path) -> None:
    # Non-square, not a multiple of the network size: L must come through untouched.
    src = gray_image(tmp_path / "detail.png", size=(91, 37), seed=5)
    out = tmp_path / "detail_color.png"
    assert run(str(src), *TINY, "--temperature", "0.1").exit_code == 0
    before, after = read_photo(src), read_photo(out)
    assert after.lightness.shape == before.lightness.shape == (37, 91)
    # 8-bit rounding of the RGB output moves L* by well under 0.5.
    assert float(np.abs(after.lightness - before.lightness).max()) < 0.5
    with Image.open(out) as img:
        rgb = np.asarray(img, dtype=np.int16)
    assert int(np.abs(rgb[..., 0] - rgb[..., 2]).max()) > 2  # it did get colour


def test_same_seed_same_output(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "s.png")

    def sample(seed: str, name: str) -> bytes:
        out = tmp_path / name
        assert run(str(src), "-o", str(out), *TINY, "--decoding", "sample", "--seed", seed).exit_code == 0
        return out.read_bytes()

    assert sample("7", "a.png") == sample("7", "b.png")
    assert sample("7", "a.png") != sample("8", "c.png")


def test_model_is_loaded_once_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        gray_image(tmp_path / "many" / f"{i}.png", seed=i)
    calls: list[str] = []
    real = pipeline.load_model

    def counting(name: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "load_model", counting)
    assert run(str(tmp_path / "many"), "-o", str(tmp_path / "o"), *TINY).exit_code == 0
    assert calls == ["cic.tiny"]
    # Nothing to do: no model load at all.
    assert run(str(tmp_path / "many"), "-o", str(tmp_path / "o"), *TINY).exit_code == 0
    assert calls == ["cic.tiny"]


def test_default_model_comes_from_the_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "DEFAULT_MODEL", "cic.tiny")
    monkeypatch.setenv("AUTOCOLOR_RANDOM_WEIGHTS", "1")
    src = gray_image(tmp_path / "d.png")
    result = run(str(src), "--device", "cpu", "--json", "-o", str(tmp_path / "d_out.png"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"] == "cic.tiny"


def test_help_shows_examples() -> None:
    result = CliRunner().invoke(main, ["colorize", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "autocolor colorize scans/ -o colored/" in result.output
    assert "--random-weights" not in result.output  # test-only switch stays hidden


def _imports_after(*args: str) -> tuple[str, set[str]]:
    code = (
        "import sys\n"
        "from autocolor.cli import main\n"
        f"try:\n    main({list(args)!r})\n"
        "except SystemExit:\n    pass\n"
        "print('|'.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    *text, modules = done.stdout.strip().splitlines()
    return "\n".join(text), set(modules.split("|"))


@pytest.mark.parametrize("args", [("--version",), ("--help",)])
def test_version_and_help_do_not_import_torch(args: tuple[str, ...]) -> None:
    text, modules = _imports_after(*args)
    assert "torch" not in modules and "numpy" not in modules
    if args == ("--version",):
        assert text == f"autocolor {__import__('autocolor').__version__}"
    else:
        assert "colorize" in text and "fetch-weights" in text


def test_python_dash_m_runs_the_cli() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "autocolor", "--version"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0 and done.stdout.startswith("autocolor ")


def test_max_memory_bad_size_too_small_budget_and_a_photo_that_cannot_fit(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "a.png")
    bad = run(str(src), "--max-memory", "lots", *TINY)
    assert bad.exit_code == 2 and "--max-memory 'lots'" in bad.stderr
    tiny = run(str(src), "--max-memory", "1M", *TINY)
    assert tiny.exit_code == 2 and "leaves no room for photos" in tiny.stderr
    big = tmp_path / "big.png"
    Image.new("L", (6000, 4000)).save(big)  # 24 MP, PNG out: about 170 MB in flight
    from autocolor.batch.memory import resident_bytes

    budget = f"{(resident_bytes() >> 20) + 100}M"  # what this process holds, plus room for a.png only
    result = run(str(src), str(big), "-o", str(tmp_path / "out"), "--max-memory", budget, *TINY)
    assert result.exit_code == 1 and (tmp_path / "out" / "a.png").is_file()
    assert "big.png: too large for --max-memory: 6000x4000" in result.stderr


def test_prior_correction_and_flip_average_reach_the_decoder(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "s.png", size=(64, 48))

    def chroma(*extra: str) -> float:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}.png"
        result = run(str(src), "-o", str(out), *TINY, *extra)
        assert result.exit_code == 0, result.output
        rgb = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64)
        return float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean())

    vivid, muted = chroma("--prior-correction", "0"), chroma("--prior-correction", "1")
    assert muted < vivid  # the correction favours the frequent, near-neutral colours
    assert chroma("--flip-average") != vivid
    for bad in (["--prior-correction", "1.5"], ["--prior-correction", "x"]):
        assert run(str(src), *TINY, *bad).exit_code == 2


@pytest.mark.parametrize("option", [["--prior-correction", "0.5"], ["--flip-average"]])
def test_bin_decoding_options_refuse_models_they_do_not_fit(tmp_path: Path, option: list[str]) -> None:
    src = gray_image(tmp_path / "s.png")
    result = CliRunner().invoke(main, ["colorize", str(src), "--model", "pic.tiny", "--random-weights", *option])
    assert result.exit_code == 2
    assert option[0] in result.output and "pic.tiny" in result.output
    assert not (tmp_path / "s_color.png").exists()
