"""``autocolor eval --data`` over a folder with damaged files of several kinds: each is reported
and skipped with its reason, the others are scored, the run goes on (exit 1)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from autocolor.cli import main
from tests.cli.test_cli_eval import make_photos
from tests.fuzzimages import Mutation, seed_files


def test_damaged_ground_truths_are_skipped_with_their_reason(tmp_path: Path) -> None:
    data = tmp_path / "gt"
    make_photos(data)
    Image.open(data / "photo0.png").convert("P").save(data / "palette.gif")  # read, not skipped
    seeds = seed_files()
    (data / "cut.tif").write_bytes(Mutation("truncate", (40,)).apply(seeds["tiff_rgb_24x16"]))
    (data / "flipped.webp").write_bytes(seeds["webp_lossy_24x16"][:30] + b"\xff" * 40)
    bomb = bytearray(seeds["png_gray_24x16"])
    bomb[16:24] = struct.pack(">II", 90_000, 90_000)
    bomb[29:33] = struct.pack(">I", zlib.crc32(bytes(bomb[12:29])))
    (data / "bomb.png").write_bytes(bytes(bomb))
    out = tmp_path / "s.json"
    result = CliRunner().invoke(main, ["eval", "--data", str(data), "--baseline", "gray", "--json", str(out), "-q"])
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"bomb.png", "cut.tif", "flipped.webp"}
    assert reasons["bomb.png"].startswith("too large: 90000x90000")
    assert reasons["cut.tif"].startswith("corrupt TIFF file")
    assert report["summary"]["gray"]["images"] == 4  # three PNGs and the GIF
    for name in reasons:
        assert f"skipped {name}: {reasons[name]}" in result.stderr
    assert "Traceback" not in result.output
