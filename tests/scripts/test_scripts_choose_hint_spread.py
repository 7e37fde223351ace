"""scripts/choose_hint_spread.py: the stated rule, and a real sweep on a tiny hint-aware network."""

from __future__ import annotations

import json
from pathlib import Path

from tests.scripts.scripthelpers import load_script, two_tone_photos


def test_rule_takes_the_best_mean_and_breaks_ties_at_ten_hints() -> None:
    script = load_script("choose_hint_spread")
    psnr = {
        "a": {1: 24.0, 10: 25.0, 50: 27.0},  # mean 25.333
        "b": {1: 24.1, 10: 25.1, 50: 26.0},  # mean 25.067
    }
    assert script.choose(psnr) == "a"
    psnr["c"] = {1: 23.9, 10: 25.2, 50: 26.899}  # mean 25.333 (tied with a), better at 10 hints
    assert script.choose(psnr) == "c"


def test_sweep_scores_every_setting_and_writes_the_choice(tmp_path: Path) -> None:
    data = two_tone_photos(tmp_path / "val", 3)
    out = tmp_path / "choice.json"
    script = load_script("choose_hint_spread")
    code = script.main(["--data", str(data), "--model", "cic.tiny_regression", "--random-weights", "--half", "all",
                       "--resolution", "native", "--counts", "0,3", "--reach", "0.02,0.05,0.5", "--edge", "1",
                       "--floor", "0.05", "--evidence", "0,3", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    # reach 0.5 is left out: a lone hint would still weigh half at 0.5 * ln(20) = 1.5 sides away.
    assert result["photos"] == 3 and set(result["psnr"]) == {"off"} | {
        f"reach={r} edge=1 floor=0.05 evidence={v}" for r in ("0.02", "0.05") for v in ("0", "3")
    }
    assert result["choice"] in result["psnr"] and result["choice"] != "off"
    # 0 hints: nothing to spread, every setting scores as the network alone.
    assert len({round(v["0"], 9) for v in result["psnr"].values()}) == 1
    # 3 hints: the reach changes what is scored (evidence needs a 313-bin model; this one regresses ab).
    assert len({round(v["3"], 6) for v in result["psnr"].values()}) == 3
    assert all(0 < v["3"] <= 100 for v in result["auc"].values())
