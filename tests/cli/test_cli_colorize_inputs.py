"""``autocolor colorize`` over every format Pillow reads, files it does not take, and bombs."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from autocolor.cli import main

TINY = ("--model", "cic.tiny", "--random-weights", "--device", "cpu")


def run(*args: str):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(main, ["colorize", *args], catch_exceptions=False)


def gray(size: tuple[int, int] = (40, 30), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random(size[::-1]) * 255).astype(np.uint8))


def test_gif_pcx_ppm_jpeg2000_and_tga_are_colorized_to_png(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    image = gray()
    image.convert("P").save(scans / "a.gif")
    image.save(scans / "b.pcx")
    image.convert("RGB").save(scans / "c.ppm")
    image.save(scans / "d.jp2")
    image.save(scans / "e.tga")
    (scans / "f.txt").write_text("notes")
    (scans / "g.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    result = run(str(scans), "-o", str(tmp_path / "out"), *TINY, "--json")
    assert result.exit_code == 0, result.output
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert {n: r["status"] for n, r in records.items()} == {
        "a.gif": "ok", "b.pcx": "ok", "c.ppm": "ok", "d.jp2": "ok", "e.tga": "ok", "f.txt": "skipped",
        "g.mp4": "skipped",
    }  # fmt: skip
    assert records["f.txt"]["error"] == ".txt is not an image format autocolor reads"
    assert records["g.mp4"]["error"].startswith("a video: give video files one at a time")
    for stem in "abcde":
        with Image.open(tmp_path / "out" / f"{stem}.png") as out:
            assert out.size == (40, 30) and out.mode == "RGB"
    assert "f.txt: .txt is not an image format" in result.stderr


def test_a_folder_of_only_non_images_is_a_usage_error_that_says_why(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    result = run(str(tmp_path / "docs"), *TINY)
    assert result.exit_code == 2
    assert "1 other file(s) not taken" in result.stderr and "a.txt" in result.stderr


def _png_claiming(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, format="PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def _jpeg_claiming(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, format="JPEG")
    jpeg = bytearray(buffer.getvalue())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(jpeg)


def _tiff_claiming(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, format="TIFF")
    tiff = bytearray(buffer.getvalue())
    ifd = struct.unpack("<I", tiff[4:8])[0]
    for i in range(struct.unpack("<H", tiff[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack("<HH", tiff[entry : entry + 4])
        if tag in (256, 257):
            value = width if tag == 256 else height
            tiff[entry + 8 : entry + 12] = struct.pack("<I" if kind == 4 else "<HH", *((value,) if kind == 4 else (value, 0)))
    return bytes(tiff)


def test_bombs_are_refused_from_the_header_with_the_limit_named(tmp_path: Path) -> None:
    (tmp_path / "bombs").mkdir()
    (tmp_path / "bombs" / "a.png").write_bytes(_png_claiming(50_000, 40_000))
    (tmp_path / "bombs" / "b.jpg").write_bytes(_jpeg_claiming(60_000, 60_000))
    (tmp_path / "bombs" / "c.tif").write_bytes(_tiff_claiming(30_000, 30_000))
    gray().save(tmp_path / "bombs" / "fine.png")
    out = tmp_path / "out"
    result = run(str(tmp_path / "bombs"), "-o", str(out), *TINY, "--max-pixels", "500M", "--json")
    assert result.exit_code == 1
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["fine.png"]["status"] == "ok"
    claims = {"a.png": "50000x40000", "b.jpg": "60000x60000", "c.tif": "30000x30000"}
    for name, claim in claims.items():
        error = records[name]["error"]
        # The header's claim and the limit are named: refused before a pixel was decoded
        # (decoding would have failed as truncated data instead).
        assert error.startswith(f"too large: {claim} = ") and "limit of 500,000,000" in error, error
        assert f"{name}: too large" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["fine.png"]
    small = run(str(tmp_path / "bombs" / "fine.png"), "-o", str(tmp_path / "x.png"), *TINY, "--max-pixels", "1k")
    assert small.exit_code == 1 and "40x30 = 1,200 pixels exceeds the limit of 1,000" in small.stderr
    bad = run(str(tmp_path / "bombs" / "fine.png"), *TINY, "--max-pixels", "lots")
    assert bad.exit_code == 2 and "not a positive pixel count" in bad.stderr
