"""`autocolor eval`'s JSON on a fixed self-made folder equals a committed golden file.

Guards refactors of the evaluation package: a tiny model with seeded random weights
(``cic.lite_tiny``) and the gray baseline are scored on three BMP photos (uncompressed, so the
dataset fingerprint, which hashes byte sizes, does not depend on an encoder's version; one is
resized) and a broken file that is skipped. Only what names the machine is normalised: the data
folder, the package version, the prior's install path and Pillow's wording of a decode error.
Everything else must match: key order, strings, integers, ``None``s, list lengths, and every float
to 1e-9 relative (a float32 network's floats may differ in the last bits between CPUs, not more).

Regenerate, after a change that is *meant* to alter the output, with
``AUTOCOLOR_REGENERATE_GOLDEN=1 python3 -m pytest tests/evaluation/test_evaluation_golden.py``
(the run then fails once, saying it wrote the file) and review the diff.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner
from PIL import Image

from autocolor.cli import main

GOLDEN = Path(__file__).parent / "golden" / "eval_cic_lite_tiny_gray.json"
FLOAT_REL = 1e-9


def make_folder(folder: Path) -> None:
    """Three deterministic BMPs (a gradient, a two-colour split, a larger one that is resized) and a broken one."""
    (folder / "sub").mkdir(parents=True)
    y, x = np.mgrid[0:40, 0:32]
    gradient = np.stack([x * 8, y * 6, 255 - x * 4], axis=-1).astype(np.uint8)
    Image.fromarray(gradient).save(folder / "a_gradient.bmp")
    split = np.empty((32, 48, 3), dtype=np.uint8)
    split[:, :24], split[:, 24:] = (200, 30, 40), (40, 160, 60)
    Image.fromarray(split).save(folder / "b_split.bmp")
    rng = np.random.default_rng(7)
    noisy = np.clip(rng.normal(128, 50, size=(80, 64, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(folder / "sub" / "c_noise.bmp")
    (folder / "d_broken.bmp").write_bytes(b"BM truncated")


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Replace what names this machine (paths, version) by fixed text; the rest is kept."""
    protocol = data["protocol"]
    protocol["data_dir"] = "<data>"
    protocol["autocolor_version"] = "<version>"
    protocol["auc_rebalanced"]["prior"] = Path(protocol["auc_rebalanced"]["prior"]).name
    for skip in data["skipped"]:  # the decoder's own words after ours depend on Pillow's version
        skip["reason"] = skip["reason"].split(" (")[0]
    return data


def assert_same(actual: Any, expected: Any, where: str = "$") -> None:
    """Equal in structure, key order, types and values; floats to ``FLOAT_REL``."""
    assert type(actual) is type(expected), f"{where}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{where}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert math.isclose(actual, expected, rel_tol=FLOAT_REL, abs_tol=1e-12), f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def test_eval_json_matches_the_golden_file(tmp_path: Path) -> None:
    make_folder(tmp_path / "photos")
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(main, [
        "eval", "--data", str(tmp_path / "photos"), "--model", "cic.lite_tiny", "--random-weights",
        "--baseline", "gray", "--device", "cpu", "--resolution", "32", "--json", str(out), "-q",
    ])  # fmt: skip
    assert result.exit_code == 1, result.output  # d_broken.bmp is skipped
    assert "skipped d_broken.bmp" in result.stderr
    text = out.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "protocol": {\n')  # indent 2, one final newline
    actual = normalise(json.loads(text))
    if os.environ.get("AUTOCOLOR_REGENERATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(actual, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        raise AssertionError(f"wrote {GOLDEN}; review the diff and rerun without AUTOCOLOR_REGENERATE_GOLDEN")
    assert_same(actual, json.loads(GOLDEN.read_text(encoding="utf-8")))
