"""scripts/choose_decoding.py: the stated rule, and a real sweep on a tiny network."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file

from autocolor.models import create_model
from tests.scripts.scripthelpers import load_script, two_tone_photos


def _row(raw: float, reb: float, psnr: float, cf: float, tinted: float) -> dict[str, float]:
    return {"auc_raw": raw, "auc_rebalanced": reb, "psnr": psnr, "colorfulness": cf, "neutral_tinted": tinted}


def test_rule_prefers_more_targets_met_then_rebalanced_auc() -> None:
    script = load_script("choose_decoding")
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
    data = two_tone_photos(tmp_path / "val", 4, neutral_strip=True)  # the tinted share is defined
    weights = tmp_path / "tiny.safetensors"
    save_file(create_model("cic.tiny", pretrained=False).state_dict(), str(weights))
    out = tmp_path / "choice.json"
    script = load_script("choose_decoding")
    code = script.main(["--data", str(data), "--model", "cic.tiny", "--weights", str(weights), "--half", "all",
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
