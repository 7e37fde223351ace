"""Every bad input, bad output and bad option: one line naming the file, no traceback, the
right exit code, and a batch that goes on."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from autocolor import pipeline
from autocolor.cli import main

TINY = ["--model", "cic.tiny", "--random-weights", "--device", "cpu"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def colorize(*args: str, input: bytes | None = None) -> Result:
    return run("colorize", *args, input=input)


def good_png(path: Path, size: tuple[int, int] = (48, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8), mode="L").save(path)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path, side: int = 40_000) -> Path:
    """A tiny file whose header claims side x side 8-bit gray pixels (1.6 gigapixels)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    data += _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + _png_chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def make_bad_inputs(folder: Path) -> dict[str, str]:
    """Every bad input of the issue, in ``folder``; returns name -> expected words of the reason."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.png").write_bytes(b"")
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 64), 128, np.uint8), mode="L").save(buffer, format="JPEG")
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (folder / "text.png").write_text("this is a text file renamed to .png\n")
    bomb_png(folder / "bomb.png")
    Image.fromarray(np.zeros((1, 1), np.uint8), mode="L").save(folder / "dot.png")
    return {
        "zero.png": "empty",
        "truncated.jpg": "truncated",
        "text.png": "not an image",
        "bomb.png": "decompression bomb",
        "dot.png": "too small",
    }


def assert_one_line_error(result: Result, path: Path | str, words: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"autocolor: error: {path}:"), lines[0]
    assert words in lines[0]


@pytest.mark.parametrize("name", ["zero.png", "truncated.jpg", "text.png", "bomb.png", "dot.png"])
def test_each_bad_input_alone(tmp_path: Path, name: str) -> None:
    expected = make_bad_inputs(tmp_path)
    result = colorize(str(tmp_path / name), *TINY)
    assert_one_line_error(result, tmp_path / name, expected[name])
    assert not list(tmp_path.glob("*_color*"))  # nothing half-written


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    assert_one_line_error(colorize(str(tmp_path / "nope.png"), *TINY), tmp_path / "nope.png", "no such file")
    if IS_ROOT:
        pytest.skip("root can read any file; permission case not testable")
    locked = good_png(tmp_path / "locked.png")
    locked.chmod(0)
    try:
        assert_one_line_error(colorize(str(locked), *TINY), locked, "permission denied")
    finally:
        locked.chmod(0o644)


def test_batch_goes_on_and_the_summary_names_every_failure(tmp_path: Path) -> None:
    expected = make_bad_inputs(tmp_path / "batch")
    good_png(tmp_path / "batch" / "good.png")
    out = tmp_path / "out"
    result = colorize(str(tmp_path / "batch"), str(tmp_path / "absent.png"), "-o", str(out), *TINY, "--json")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert (out / "good.png").is_file()
    for name, words in expected.items():
        prefix = f"autocolor: error: {tmp_path / 'batch' / name}:"
        line = next(line for line in result.stderr.splitlines() if line.startswith(prefix))
        assert words in line
    assert f"autocolor: error: {tmp_path / 'absent.png'}: no such file" in result.stderr
    assert "1 ok, 0 skipped, 6 failed" in result.stderr
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["good.png"]["status"] == "ok"
    assert all(records[name]["status"] == "failed" and records[name]["error"] for name in expected)


def test_output_equal_to_input_is_refused_even_with_overwrite(tmp_path: Path) -> None:
    src = good_png(tmp_path / "keep.png")
    before = src.read_bytes()
    for extra in ([], ["--overwrite"]):
        result = colorize(str(src), "-o", str(src), *TINY, *extra)
        assert_one_line_error(result, src, "is the input file")
    # The same file by another spelling, and a folder run whose output folder is the input folder.
    other_spelling = str(tmp_path / "." / "keep.png")
    assert colorize(str(src), "-o", other_spelling, *TINY, "--overwrite").exit_code == 1
    folder_run = colorize(str(tmp_path), "-o", str(tmp_path), *TINY, "--overwrite")
    assert folder_run.exit_code == 1 and "is the input file" in folder_run.stderr
    assert src.read_bytes() == before


def test_an_output_never_replaces_another_input_or_another_output(tmp_path: Path) -> None:
    first = good_png(tmp_path / "a.png")
    second = good_png(tmp_path / "a_color.png", size=(40, 40))
    before = second.read_bytes()
    result = colorize(str(first), str(second), *TINY, "--overwrite")
    assert result.exit_code == 1
    assert f"autocolor: error: {first}: cannot write {second}: is another input" in result.stderr
    assert second.read_bytes() == before
    assert (tmp_path / "a_color_color.png").is_file()
    # Two inputs that would land on the same output name: the first wins, the second fails.
    good_png(tmp_path / "in" / "p.png")
    good_png(tmp_path / "in" / "p.jpg")
    clash = colorize(str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--format", "png", *TINY)
    assert clash.exit_code == 1
    assert "is also the output of" in clash.stderr
    assert "1 ok, 0 skipped, 1 failed" in clash.stderr


def test_output_folder_that_cannot_be_created(tmp_path: Path) -> None:
    src = good_png(tmp_path / "a.png")
    (tmp_path / "blocker").write_text("a file where the output folder should go")
    result = colorize(str(src), "-o", str(tmp_path / "blocker" / "out") + "/", *TINY)
    assert_one_line_error(result, src, "cannot create folder")


def test_blocked_subfolder_fails_its_files_and_the_rest_goes_on(tmp_path: Path) -> None:
    good_png(tmp_path / "in" / "top.png")
    good_png(tmp_path / "in" / "sub" / "inner.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").write_text("a file, not a folder")
    result = colorize(str(tmp_path / "in"), "-o", str(tmp_path / "out"), *TINY)
    assert result.exit_code == 1
    assert (tmp_path / "out" / "top.png").is_file()
    assert f"autocolor: error: {tmp_path / 'in' / 'sub' / 'inner.png'}: " in result.stderr
    assert "1 ok, 0 skipped, 1 failed" in result.stderr


@pytest.mark.skipif(IS_ROOT, reason="root can write into read-only folders")
def test_read_only_output_folder(tmp_path: Path) -> None:
    src = good_png(tmp_path / "a.png")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        result = colorize(str(src), "-o", str(readonly), *TINY)
    finally:
        readonly.chmod(0o755)
    assert_one_line_error(result, readonly, "not writable")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["colorize"], "Missing argument"),
        (["colorize", "A.png", "B.png", "-o", "C.png"], "several inputs need -o to be a folder"),
        (["colorize", "A.png", "--model", "no.such_model"], "unknown model 'no.such_model'"),
        (["colorize", "A.png", "--upsample", "cubic"], "Invalid value for '--upsample'"),
        (["colorize", "A.png", "--temperature", "0"], "Invalid value for '--temperature'"),
        (["colorize", "A.png", "-o", "-", "--json"], "--json prints to stdout"),
        (["colorize", "A.png", "--decoding", "median", *TINY], "decoding 'median' does not apply"),
        (["colorize", "A.png", "--size", "60", *TINY], "multiple of 8"),
        (["colorize", "A.png", "--device", "tpu", "--model", "cic.tiny", "--random-weights"], "unknown device 'tpu'"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], words: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    good_png(tmp_path / "A.png")
    good_png(tmp_path / "B.png")
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "A_color.png").exists()


def test_folder_without_images_and_stdin_to_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    result = colorize(str(tmp_path / "empty"), *TINY)
    assert result.exit_code == 2 and "no supported images" in result.stderr
    (tmp_path / "dest").mkdir()
    piped = colorize("-", "-o", str(tmp_path / "dest"), *TINY, input=b"")
    assert piped.exit_code == 2 and "stdin input needs -o FILE" in piped.stderr


def test_empty_stdin_is_a_one_line_error(tmp_path: Path) -> None:
    result = colorize("-", "-o", str(tmp_path / "x.png"), *TINY, input=b"")
    assert_one_line_error(result, "-", "empty")


def test_missing_weights_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    src = good_png(tmp_path / "a.png")
    # cic.tiny has no pretrained weights: without --random-weights the load must fail cleanly.
    plain = colorize(str(src), "--model", "cic.tiny", "--device", "cpu", "--offline")
    assert plain.exit_code in (1, 2)  # weights error or "no weights known for this name"
    lines = plain.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autocolor: error:") and "cic.tiny" in lines[0]
    debug = run("--debug", "colorize", str(src), "--model", "cic.tiny", "--device", "cpu", "--offline")
    assert debug.exit_code == plain.exit_code and "Traceback" in debug.stderr
    assert not (tmp_path / "a_color.png").exists()


def test_unexpected_error_in_one_file_does_not_stop_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good_png(tmp_path / "in" / "a.png")
    good_png(tmp_path / "in" / "b.png", size=(40, 40))
    real = pipeline.Colorizer.render

    def flaky(self: pipeline.Colorizer, photo, ab_low, *args, **kwargs):  # type: ignore[no-untyped-def]
        if photo.source.endswith("a.png"):
            raise RuntimeError("simulated kernel failure")
        return real(self, photo, ab_low, *args, **kwargs)

    # render is the full-resolution stage the batch runner calls per photo (writer threads).
    monkeypatch.setattr(pipeline.Colorizer, "render", flaky)
    result = colorize(str(tmp_path / "in"), "-o", str(tmp_path / "out"), *TINY)
    assert result.exit_code == 1
    assert f"{tmp_path / 'in' / 'a.png'}: internal error: RuntimeError: simulated kernel failure" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out" / "b.png").is_file()


def test_ctrl_c_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = good_png(tmp_path / "a.png")

    def interrupted(self: pipeline.Colorizer, photo, ab_low, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # in a writer thread: the runner hands it to the main thread

    monkeypatch.setattr(pipeline.Colorizer, "render", interrupted)
    result = colorize(str(src), *TINY)
    assert result.exit_code == 130
    assert "Traceback" not in result.output
