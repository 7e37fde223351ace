"""scripts/choose_decoding.py: the stated rule, and a real sweep on a tiny network."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image
from safetensors.torch import save_file

from autocolor.models import create_model


def _script() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "choose_decoding.py"
    spec = importlib.util.spec_from_file_location("choose_decoding_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _row(raw: float, reb: float, psnr: float, cf: float, tinted: float) -> dict[str, float]:
    return {"auc_raw": raw, "auc_rebalanced": reb, "psnr": psnr, "colorfulness": cf, "neutral_tinted": tinted}


def test_rule_prefers_more_targets_met_then_rebalanced_auc() -> None:
    script = _script()
    rows = {
        "gray": _row(88.0, 80.0, 22.0, 0.0, 0.0),
        "vivid": _row(85.0, 86.0, 19.0, 40.0, 40.0),  # meets only the colourfulness target
        "muted": _row(88.5, 83.0, 21.5, 20.0, 5.0),  # raw, PSNR, tinted: three
        "muted_better": _row(88.2, 84.0, 21.2, 21.0, 10.0),  # also three, higher rebalanced AuC
    }
    assert script.targets_met(rows["vivid"], rows["gray"], 40.0) == ["colourfulness 0.85-1.05x"]
    assert script.choose(rows, 40.0) == "muted_better"
    rows["all"] = _row(88.0, 89.0, 21.0, 38.0, 15.0)
    assert len(script.targets_met(rows["all"], rows["gray"], 40.0)) == 5
    assert script.choose(rows, 40.0) == "all"


def test_sweep_scores_every_setting_and_writes_the_choice(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "val"
    data.mkdir()
    for i in range(4):
        img = np.zeros((40, 48, 3), np.uint8)
        img[:20] = rng.integers(0, 255, 3)
        img[20:] = rng.integers(0, 255, 3)
        img[:, :8] = 128  # a neutral strip: the tinted share is defined
        Image.fromarray(img).save(data / f"p{i}.png")
    weights = tmp_path / "tiny.safetensors"
    save_file(create_model("cic.tiny", pretrained=False).state_dict(), str(weights))
    out = tmp_path / "choice.json"
    code = _script().main(["--data", str(data), "--model", "cic.tiny", "--weights", str(weights), "--half", "all",
                           "--temperatures", "0.38,1", "--corrections", "0,1", "--json", str(out)])  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    assert report["photos"] == 4
    assert set(report["rows"]) == {"gray", "T=0.38 s=0", "T=0.38 s=1", "T=1 s=0", "T=1 s=1"}
    assert report["rows"]["gray"]["colorfulness"] < 1.0  # gray has (almost) no colour
    assert report["rows"]["gray"]["neutral_tinted"] == 0.0
    assert report["chosen"] in report["rows"] and report["chosen"] != "gray"
    # The correction moves the decoded colours: the settings score differently.
    assert report["rows"]["T=0.38 s=0"]["rmse_ab"] != report["rows"]["T=0.38 s=1"]["rmse_ab"]
