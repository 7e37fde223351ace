"""``autocolor colorize --hint/--hints/--hint-radius`` end to end (tiny SIGGRAPH17-shaped net)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from autocolor.cli import main
from autocolor.hints import parse_hint
from autocolor.imagefile import read_photo
from autocolor.pipeline import Colorizer

GUIDED = ["--model", "cic.tiny_regression", "--random-weights", "--device", "cpu"]
AUTOMATIC = ["--model", "cic.tiny", "--random-weights", "--device", "cpu"]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["colorize", *args], catch_exceptions=False)


def gray_image(path: Path, size: tuple[int, int] = (60, 40), exif_orientation: int | None = None) -> Path:
    width, height = size
    ramp = np.linspace(30, 220, width)[None, :] * np.ones((height, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(ramp.astype(np.uint8), mode="L")
    if exif_orientation is None:
        img.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(path, exif=exif)
    return path


def test_hinted_output_is_what_the_python_api_gives(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "in.png")
    out = tmp_path / "out.png"
    result = run(str(src), "-o", str(out), *GUIDED, "--hint", "10,20,#1f3a93", "--hint", "80%,50%,lab:40,30",
                 "--hint-radius", "3", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "ok"
    assert [h["color"] for h in record["hints"]] == ["#1f3a93", "lab:40,30"]
    assert record["hints"][1]["x"] == "80%" and record["hints"][0]["radius"] == 3
    hints = [parse_hint("10,20,#1f3a93", 3), parse_hint("80%,50%,lab:40,30", 3)]
    colorizer = Colorizer("cic.tiny_regression", "cpu", pretrained=False)
    expected = colorizer.colorize_photo(read_photo(src), hints)
    automatic = colorizer.colorize_photo(read_photo(src))
    written = np.asarray(Image.open(out), dtype=np.float32) / 255
    assert np.abs(written - expected).max() <= 1 / 255 + 1e-6
    assert np.abs(written - automatic).max() > 2 / 255  # the hints made a difference


def test_json_lines_without_hints_have_no_hints_key(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "in.png")
    result = run(str(src), "-o", str(tmp_path / "o.png"), *GUIDED, "--json")
    assert result.exit_code == 0 and "hints" not in json.loads(result.stdout)


def test_per_file_hints_for_a_folder(tmp_path: Path) -> None:
    gray_image(tmp_path / "in" / "a.png")
    gray_image(tmp_path / "in" / "sub" / "b.png")
    gray_image(tmp_path / "in" / "c.png")
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps({"a.png": ["5,5,#ff0000"], "sub/b.png": [{"x": 1, "y": 2, "color": "#00ff00", "radius": 0}]}))
    result = run(str(tmp_path / "in"), "-o", str(tmp_path / "out"), *GUIDED, "--hints", str(hints), "--json")
    assert result.exit_code == 0, result.output
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["a.png"]["hints"][0]["color"] == "#ff0000"
    assert records["b.png"]["hints"][0]["radius"] == 0
    assert "hints" not in records["c.png"]
    assert all(r["status"] == "ok" for r in records.values())


def one_line_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_hint_outside_the_image_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "in.png", size=(60, 40))
    one_line_usage_error(run(str(src), *GUIDED, "--hint", "60,10,#ff0000"), "in.png", "outside the 60x40 image")
    assert not (tmp_path / "in_color.png").exists()


def test_outside_is_judged_on_the_upright_photo(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "in.jpg", size=(60, 40), exif_orientation=6)  # read as 40 wide, 60 high
    one_line_usage_error(run(str(src), *GUIDED, "--hint", "50,10,#ff0000"), "outside the 40x60 image")
    assert run(str(src), *GUIDED, "--hint", "10,50,#ff0000").exit_code == 0


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--hint", "10,10,blue"], "unparsable colour 'blue'"),
        (["--hint", "10,10"], "is not X,Y,COLOR"),
        (["--hint", "1,1,#ff0000", "--hints", "x.json"], "not both"),
    ],
)
def test_bad_hints_are_one_line_usage_errors(tmp_path: Path, args: list[str], fragment: str) -> None:
    src = gray_image(tmp_path / "in.png")
    one_line_usage_error(run(str(src), *GUIDED, *args), fragment)


def test_hint_radius_is_range_checked_by_click(tmp_path: Path) -> None:
    result = run(str(gray_image(tmp_path / "in.png")), *GUIDED, "--hint-radius", "99", "--hint", "1,1,#ff0000")
    assert result.exit_code == 2 and "'--hint-radius': 99 is not in the range 0<=x<=16" in result.stderr


def test_a_model_without_hints_refuses_them(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "in.png")
    one_line_usage_error(run(str(src), *AUTOMATIC, "--hint", "1,1,#ff0000"), "cic.tiny cannot take colour hints")


def test_hints_for_several_inputs_need_a_per_file_map(tmp_path: Path) -> None:
    a, b = gray_image(tmp_path / "a.png"), gray_image(tmp_path / "b.png")
    one_line_usage_error(run(str(a), str(b), *GUIDED, "--hint", "1,1,#ff0000"), "2 inputs", "JSON object")
    listed = tmp_path / "list.json"
    listed.write_text('["1,1,#ff0000"]')
    one_line_usage_error(run(str(a), str(b), *GUIDED, "--hints", str(listed)), "list.json")


def test_map_keys_must_match_inputs(tmp_path: Path) -> None:
    gray_image(tmp_path / "in" / "a.png")
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps({"typo.png": ["1,1,#ff0000"]}))
    one_line_usage_error(run(str(tmp_path / "in"), *GUIDED, "--hints", str(hints)), "hints.json", "'typo.png'")


def test_hint_spread_zero_is_the_network_alone_and_the_reach_is_passed_on(tmp_path: Path) -> None:
    from autocolor.hints import HintSpread

    src = gray_image(tmp_path / "in.png")
    hints = [parse_hint("30,20,lab:0,-40", 2)]
    for reach, spread in (("0", None), ("0.25", HintSpread(reach=0.25))):
        out = tmp_path / f"out-{reach}.png"
        result = run(str(src), "-o", str(out), *GUIDED, "--hint", "30,20,lab:0,-40", "--hint-spread", reach)
        assert result.exit_code == 0, result.output
        colorizer = Colorizer("cic.tiny_regression", "cpu", pretrained=False, hint_spread=spread)
        expected = colorizer.colorize_photo(read_photo(src), hints)
        written = np.asarray(Image.open(out), dtype=np.float32) / 255
        assert np.abs(written - expected).max() <= 1 / 255 + 1e-6
    spread_out = np.asarray(Image.open(tmp_path / "out-0.25.png"), dtype=np.int16)
    assert np.abs(spread_out - np.asarray(Image.open(tmp_path / "out-0.png"), dtype=np.int16)).max() > 2


def test_hint_spread_is_range_checked(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["colorize", str(gray_image(tmp_path / "in.png")), *GUIDED, "--hint-spread", "-1"])
    assert result.exit_code == 2 and "--hint-spread" in result.output
