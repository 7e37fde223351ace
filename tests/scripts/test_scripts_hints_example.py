"""scripts/hints_example.py: a four-cell before/after sheet, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.scripts.scripthelpers import load_script


def test_sheet_has_four_cells_the_hint_marked_and_spread_in_the_result(tmp_path: Path) -> None:
    src = tmp_path / "gray.png"
    Image.fromarray(np.full((64, 64), 128, np.uint8), mode="L").save(src)
    out = tmp_path / "sheet.png"
    script = load_script("hints_example")
    code = script.main([str(src), "-o", str(out), "--model", "cic.tiny_regression", "--random-weights",
                       "--device", "cpu", "--cell", "64", "--hint", "32,32,#0000ff", "--hint-radius", "4"])
    assert code == 0
    with Image.open(out) as img:
        sheet = np.asarray(img.convert("RGB")).astype(int)
    assert sheet.shape[1] > 4 * 64  # four cells side by side
    blue = (sheet[..., 2] - sheet[..., 0] > 40) & (sheet[..., 2] - sheet[..., 1] > 20)
    columns = np.nonzero(blue.any(axis=0))[0]
    assert columns.size and columns.min() > 2 * 64  # nothing blue in the gray and automatic cells
    assert blue[:, 2 * 64 : 3 * 64 + 32].any()  # the third cell marks the hint
    # The fourth cell is the result: on a flat gray photo the hint spreads well beyond its mark.
    assert blue[:, -64:].sum() > 2 * blue[:, 2 * 64 : 3 * 64 + 32].sum()


def test_a_model_without_hints_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "gray.png"
    Image.fromarray(np.full((32, 32), 100, np.uint8), mode="L").save(src)
    script = load_script("hints_example")
    code = script.main([str(src), "-o", str(tmp_path / "s.png"), "--model", "cic.tiny", "--random-weights",
                       "--device", "cpu", "--hint", "1,1,#ff0000"])
    assert code == 2 and "cannot take colour hints" in capsys.readouterr().err
