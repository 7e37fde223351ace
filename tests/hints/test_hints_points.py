"""Parsing colour hints: X,Y,COLOR, colours, percentages, JSON files, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import color

from autocolor.errors import UsageError
from autocolor.hints import DEFAULT_RADIUS, Coordinate, load_hints_file, parse_color, parse_hint


def test_hex_colour_gives_its_lab_chroma() -> None:
    a, b = parse_color("#1F3A93")
    expected = color.rgb2lab(np.array([[[0x1F, 0x3A, 0x93]]], np.uint8))[0, 0]
    assert (a, b) == pytest.approx((expected[1], expected[2]), abs=1e-3)
    assert parse_color("#808080") == pytest.approx((0.0, 0.0), abs=0.01)  # white point rounding


def test_lab_colour_is_taken_as_is() -> None:
    assert parse_color("lab:20,-40.5") == (20.0, -40.5)
    assert parse_color("LAB: -5 , 7") == (-5.0, 7.0)


@pytest.mark.parametrize("text", ["red", "#12345", "#1234567", "#gg0000", "lab:20", "lab:200,0", "rgb(1,2,3)", ""])
def test_bad_colours_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="colour"):
        parse_color(text)


def test_point_in_pixels_and_percent() -> None:
    hint = parse_hint("120,40.5,#ff0000", radius=3)
    assert hint.x == Coordinate(120.0) and hint.y == Coordinate(40.5) and hint.radius == 3
    assert hint.position(100, 200) == (120.0, 40.5)
    relative = parse_hint("50%,100%,lab:10,10")
    assert relative.radius == DEFAULT_RADIUS
    assert relative.position(101, 201) == (100.0, 100.0)  # 100% is the last pixel
    assert str(relative) == "50%,100%,lab:10,10"


def test_point_outside_the_image_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match=r"120,5,#ff0000 lies outside the 100x50 image"):
        parse_hint("120,5,#ff0000").position(50, 100)
    with pytest.raises(UsageError, match="outside"):
        parse_hint("-1,5,#ff0000")
    with pytest.raises(UsageError, match="outside"):
        parse_hint("101%,5,#ff0000")


@pytest.mark.parametrize("text", ["10,20", "a,20,#ff0000", "10,,#ff0000", "10,20,#ff00"])
def test_malformed_points_are_usage_errors_quoting_the_hint(text: str) -> None:
    with pytest.raises(UsageError, match="hint"):
        parse_hint(text)


def test_radius_is_bounded() -> None:
    with pytest.raises(UsageError, match="radius"):
        parse_hint("1,1,#ff0000", radius=-1)
    with pytest.raises(UsageError, match="radius"):
        parse_hint("1,1,#ff0000", radius=99)


def test_json_list_of_points(tmp_path: Path) -> None:
    path = tmp_path / "hints.json"
    path.write_text(json.dumps(["1,2,#ff0000", {"x": "10%", "y": 3, "color": "lab:5,6", "radius": 4}]))
    loaded = load_hints_file(path, radius=1)
    hints = loaded.for_input("anything.jpg")
    assert [h.radius for h in hints] == [1, 4]
    assert hints[1].x == Coordinate(10.0, percent=True) and hints[1].ab == (5.0, 6.0)
    assert hints[1].to_json() == {"x": "10%", "y": 3.0, "color": "lab:5,6", "ab": [5.0, 6.0], "radius": 4}


def test_json_map_per_relative_path(tmp_path: Path) -> None:
    path = tmp_path / "hints.json"
    path.write_text(json.dumps({"a.jpg": ["1,2,#ff0000"], "sub/b.png": []}))
    loaded = load_hints_file(path)
    assert len(loaded.for_input("a.jpg")) == 1
    assert loaded.for_input("sub/b.png") == [] and loaded.for_input("other.jpg") == []


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a JSON hints file"),
        ('"1,2,#ff0000"', "expected a list"),
        ('[{"x": 1, "y": 2}]', r"hints.json\[0\]: a hint must be"),
        ('[{"x": 1, "y": 2, "color": "#ff0000", "size": 3}]', "unknown hint field"),
        ('[{"x": 1, "y": 2, "color": "#ff0000", "radius": 1.5}]', "radius must be an integer"),
        ('{"a.jpg": ["1,2,blue"]}', "a.jpg.*unparsable colour 'blue'"),
    ],
)
def test_bad_json_files_name_the_file_and_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "hints.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message) as info:
        load_hints_file(path)
    assert "hints.json" in str(info.value) and "\n" not in str(info.value)


def test_missing_hints_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read hints file"):
        load_hints_file(tmp_path / "nope.json")


def test_parse_color_is_float64_exact_for_pure_white() -> None:
    a, b = parse_color("#ffffff")
    assert abs(a) < 0.01 and abs(b) < 0.01
    assert torch.get_default_dtype() == torch.float32  # parsing does not change global state
