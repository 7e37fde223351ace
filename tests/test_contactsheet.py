"""Contact sheets (layout, placement, labels, writing) and scripts/make_contact_sheet.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from autocolor.contactsheet import (
    BACKGROUND,
    make_contact_sheet,
    save_contact_sheet,
    sheet_layout,
    thumbnail,
)

COLOURS = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 0.0), (0.0, 1.0, 1.0)]


def solid(colour: tuple[float, float, float], height: int = 40, width: int = 60) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.float32), (height, width, 3)).copy()


def box_centre(sheet: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, height, width = box
    return sheet[top + height // 2, left + width // 2]


def test_layout_shape_and_placement() -> None:
    images = [solid(c) for c in COLOURS]
    sheet = make_contact_sheet(images, [f"image {i}" for i in range(5)], columns=2, cell=64)
    layout = sheet_layout([(40, 60)] * 5, columns=2, cell=64)
    # 60x40 images fitted to 64 px wide are 43 px tall: rows are 43 px + a 12 px label band.
    assert (layout.rows, layout.row_heights, layout.label_height, layout.gap) == (3, (43, 43, 43), 12, 2)
    assert sheet.shape == (*layout.shape, 3) == (3 * 43 + 3 * 12 + 4 * 2, 2 * 64 + 3 * 2, 3)
    assert sheet.dtype == np.float32 and sheet.min() >= 0.0 and sheet.max() <= 1.0
    for index, colour in enumerate(COLOURS):
        np.testing.assert_allclose(box_centre(sheet, layout.cell_box(index)), colour)
    # Row-major order: image 2 starts the second row, under image 0.
    assert layout.cell_box(2)[:2] == (2 + 43 + 12 + 2, 2)
    # The sixth box of the 2x3 grid is empty, and so are the gaps.
    top, left = layout.cell_box(4)[0], layout.cell_box(1)[1]
    np.testing.assert_allclose(sheet[top + 20, left + 30], BACKGROUND)
    np.testing.assert_allclose(sheet[:, 64 + 2], np.broadcast_to(BACKGROUND, (sheet.shape[0], 3)))


def test_labels_drawn_in_their_band_only() -> None:
    images = [solid((1.0, 1.0, 1.0)) for _ in range(3)]
    labelled = make_contact_sheet(images, ["a", "seed 12", "x" * 200], columns=3, cell=96)
    plain = make_contact_sheet(images, None, columns=3, cell=96)
    layout = sheet_layout([(40, 60)] * 3, columns=3, cell=96)
    assert labelled.shape[0] - plain.shape[0] == layout.label_height == 12
    assert plain.min() == 1.0  # white images on white: without labels nothing is drawn
    for index in range(3):
        top, left, height, width = layout.label_box(index)
        band = labelled[top : top + height, left : left + width]
        assert (band.min(axis=2) < 0.6).sum() >= 5, f"label {index} not drawn"  # thin anti-aliased strokes
        image_top, image_left, image_height, _ = layout.cell_box(index)
        assert labelled[image_top : image_top + image_height, left : left + width].min() == 1.0
    # The 200-character label is shortened to its box: the gaps beside it stay background.
    top, left, height, width = layout.label_box(2)
    assert labelled[top : top + height, left - 2 : left].min() == 1.0
    assert labelled[top : top + height, left + width :].min() == 1.0


def test_default_columns_and_row_heights() -> None:
    assert sheet_layout([(10, 10)] * 9, cell=32).columns == 3
    assert sheet_layout([(10, 10)] * 10, cell=32).columns == 4
    assert sheet_layout([(10, 10)] * 2, columns=5, cell=32).columns == 2  # never wider than needed
    # A portrait image makes its row a full cell tall; other rows stay short.
    layout = sheet_layout([(40, 60), (60, 30), (40, 60), (40, 60)], columns=2, cell=60, labelled=False)
    assert layout.row_heights == (60, 40)
    sheet = make_contact_sheet([solid((0, 0, 0)), solid((0, 0, 0), 60, 30), solid((0, 0, 0)), solid((0, 0, 0))],
                               None, columns=2, cell=60)  # fmt: skip
    assert sheet.shape[:2] == layout.shape == (60 + 40 + 3 * 2, 2 * 60 + 3 * 2)
    # The landscape image is centred vertically in the taller row: background above it.
    top, left, _, _ = layout.cell_box(0)
    assert sheet[top + 5, left + 30].tolist() == [1.0, 1.0, 1.0]
    assert sheet[top + 30, left + 30].tolist() == [0.0, 0.0, 0.0]


def test_gray_input_and_thumbnail() -> None:
    gray = np.linspace(0, 1, 100 * 50, dtype=np.float32).reshape(100, 50)
    small = thumbnail(gray, 20)
    assert small.shape == (20, 10, 3) and small.dtype == np.float32
    assert np.all(small[..., 0] == small[..., 1])
    assert small[0, 0, 0] < 0.1 and small[-1, -1, 0] > 0.9  # area-averaged, not scrambled
    assert thumbnail(solid((0.5, 0.25, 0.0), 4, 8), 32).shape == (16, 32, 3)  # enlarged too


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one"):
        make_contact_sheet([])
    with pytest.raises(ValueError, match="2 labels for 1 images"):
        make_contact_sheet([solid((0, 0, 0))], ["a", "b"])
    with pytest.raises(ValueError, match="image 1"):
        make_contact_sheet([solid((0, 0, 0)), np.zeros((4, 4, 4))])
    with pytest.raises(ValueError, match="cell"):
        make_contact_sheet([solid((0, 0, 0))], cell=4)


def test_save_contact_sheet(tmp_path: Path) -> None:
    sheet = make_contact_sheet([solid(c) for c in COLOURS[:2]], ["a", "b"], cell=32)
    path = save_contact_sheet(tmp_path / "sheet.png", sheet)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        assert np.array_equal(np.asarray(img), np.rint(sheet * 255).astype(np.uint8))
    with Image.open(save_contact_sheet(tmp_path / "sheet.out", sheet, format="jpg")) as img:
        assert img.format == "JPEG" and img.size == (sheet.shape[1], sheet.shape[0])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def _script() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "scripts" / "make_contact_sheet.py"
    spec = importlib.util.spec_from_file_location("make_contact_sheet_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_rows_are_photos_columns_are_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name, size in (("a.png", (48, 32)), ("b.jpg", (40, 40))):
        Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8), mode="L").save(photos / name)
    (photos / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "docs" / "sheet.png"
    code = _script().main([str(photos), "-o", str(out), "--model", "cic.tiny", "--model", "cic.tiny:mode",
                           "--cell", "48", "--random-weights", "--device", "cpu"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "broken.png" in captured.err and "2 photos x 2 models" in captured.out
    # 2 rows (a: 48x32 -> 48 wide, 32 tall; b: 48x48) x 3 columns (gray + 2 models), labelled.
    layout = sheet_layout([(32, 48), (32, 48), (32, 48), (48, 48), (48, 48), (48, 48)], columns=3, cell=48)
    with Image.open(out) as img:
        assert (img.height, img.width) == layout.shape
        pixels = np.asarray(img.convert("RGB")).astype(int)
    top, left, height, width = layout.cell_box(0)
    gray = pixels[top : top + height, left : left + width]
    assert np.array_equal(gray[..., 0], gray[..., 2])  # first column: the gray input
    top, left, height, width = layout.cell_box(1)
    coloured = pixels[top : top + height, left : left + width]
    assert np.abs(coloured[..., 0] - coloured[..., 2]).max() > 10  # a model column has colour


def test_script_reports_unknown_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(np.zeros((16, 16), np.uint8), mode="L").save(tmp_path / "a.png")
    code = _script().main([str(tmp_path / "a.png"), "-o", str(tmp_path / "s.png"), "--model", "nope.x"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'nope.x'" in err[0]


def test_script_original_column_shows_the_stored_colours(tmp_path: Path) -> None:
    pixels = np.zeros((32, 32, 3), np.uint8)
    pixels[...] = (200, 40, 40)  # a red photo: the last column must stay red
    Image.fromarray(pixels).save(tmp_path / "red.png")
    out = tmp_path / "sheet.png"
    code = _script().main([str(tmp_path / "red.png"), "-o", str(out), "--model", "cic.tiny", "--original",
                           "--cell", "32", "--random-weights", "--device", "cpu"])  # fmt: skip
    assert code == 0
    layout = sheet_layout([(32, 32)] * 3, columns=3, cell=32)
    with Image.open(out) as img:
        sheet = np.asarray(img.convert("RGB")).astype(int)
    top, left, height, width = layout.cell_box(2)
    assert np.abs(sheet[top : top + height, left : left + width] - (200, 40, 40)).max() <= 2


def test_script_samples_give_one_column_per_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8), mode="L").save(tmp_path / "a.png")
    out = tmp_path / "sheet.png"
    args = [str(tmp_path / "a.png"), "-o", str(out), "--model", "pic.tiny", "--samples", "3", "--seed", "5",
            "--temperature", "1.5", "--cell", "32", "--random-weights", "--device", "cpu"]  # fmt: skip
    assert _script().main(args) == 0
    assert "1 photos x 1 models, 3 samples each" in capsys.readouterr().out
    layout = sheet_layout([(32, 32)] * 4, columns=4, cell=32)
    with Image.open(out) as img:
        assert (img.height, img.width) == layout.shape
        sheet = np.asarray(img.convert("RGB")).astype(int)
    cells = []
    for index in range(1, 4):
        top, left, height, width = layout.cell_box(index)
        cells.append(sheet[top : top + height, left : left + width])
    assert not np.array_equal(cells[0], cells[1]) and not np.array_equal(cells[1], cells[2])  # seeds 5, 6, 7
    assert _script().main(args) == 0  # the same seeds draw the same sheet
    with Image.open(out) as img:
        assert np.array_equal(np.asarray(img.convert("RGB")).astype(int), sheet)


def test_script_rejects_zero_samples(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        _script().main([str(tmp_path / "a.png"), "-o", str(tmp_path / "s.png"), "--samples", "0"])
    assert exc.value.code == 2
