"""`autocolor eval` end to end on tiny synthetic folders: files written, exit codes, messages."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from autocolor.cli import main

COLOURS = (((200, 30, 40), (40, 160, 60)), ((30, 60, 200), (230, 210, 40)), ((120, 120, 120), (60, 60, 60)))


def make_photos(folder: Path) -> list[str]:
    """Three lossless 16 x 20 two-colour PNGs; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, (top, bottom) in enumerate(COLOURS):
        img = np.empty((20, 16, 3), dtype=np.uint8)
        img[:10], img[10:] = top, bottom
        names.append(f"photo{i}.png")
        Image.fromarray(img).save(folder / names[-1])
    return names


def run(*args: str) -> object:
    return CliRunner().invoke(main, ["eval", *args])


def _tiny_scores(data: Path, first: str, second: str, *extra: str) -> dict:
    """JSON of ``eval`` of two tiny random-weight models at 32 px on ``data`` (must succeed)."""
    result = run("--data", str(data), "--model", first, "--model", second, "--random-weights",
                 "--device", "cpu", "--resolution", "32", "--json", "-", "-q", *extra)  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_help_has_examples_and_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and "--baseline gray" in result.stdout
    assert "Exit status" in result.stdout and "--predictions" in result.stdout


def test_gray_and_predictions_write_json_and_csv(tmp_path: Path) -> None:
    names = make_photos(tmp_path / "gt")
    pred = tmp_path / "pred"
    pred.mkdir()
    for name in names:  # a lossless copy: a perfect "method"
        (pred / name).write_bytes((tmp_path / "gt" / name).read_bytes())
    out_json, out_csv = tmp_path / "scores.json", tmp_path / "scores.csv"
    result = run("--data", str(tmp_path / "gt"), "--baseline", "gray", "--predictions", f"copy={pred}",
                 "--resolution", "native", "--json", str(out_json), "--csv", str(out_csv), "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text())
    assert set(data) == {"protocol", "summary", "images", "skipped"}
    assert data["summary"]["copy"]["psnr"] == "inf" and data["summary"]["copy"]["auc_raw"] == 100.0
    assert 0 < data["summary"]["gray"]["auc_raw"] < 100
    assert data["protocol"]["resolution"].startswith("native") and data["protocol"]["images_scored"] == 3
    assert len(data["images"]) == 6 and data["skipped"] == []
    with out_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {r["method"] for r in rows} == {"gray", "copy"}
    with (tmp_path / "scores_summary.csv").open() as fh:
        summary = {r["method"]: r for r in csv.DictReader(fh)}
    assert summary["copy"]["psnr"] == "inf" and float(summary["copy"]["rmse_ab"]) == 0.0
    assert summary["gray"]["autocolor_version"] and summary["gray"]["resolution"].startswith("native")


def test_bad_image_is_reported_skipped_and_exits_1(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")
    (tmp_path / "gt" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    out_json = tmp_path / "s.json"
    result = run("--data", str(tmp_path / "gt"), "--baseline", "gray", "--json", str(out_json), "-q")
    assert result.exit_code == 1
    assert "skipped broken.jpg" in result.stderr and "1 image(s) skipped" in result.stderr
    data = json.loads(out_json.read_text())
    assert [s["file"] for s in data["skipped"]] == ["broken.jpg"]
    assert data["summary"]["gray"]["images"] == 3


def test_table_and_json_on_stdout(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")
    table = run("--data", str(tmp_path / "gt"), "--baseline", "gray")
    assert table.exit_code == 0 and "gray" in table.stdout and "AuC" in table.stdout
    piped = run("--data", str(tmp_path / "gt"), "--baseline", "gray", "--json", "-")
    assert piped.exit_code == 0
    assert json.loads(piped.stdout)["summary"]["gray"]["images"] == 3


def test_plot_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    make_photos(tmp_path / "gt")
    prior = tmp_path / "prior.npy"
    np.save(prior, np.full(313, 1.0 / 313))
    plot = tmp_path / "cmf.png"
    result = run("--data", str(tmp_path / "gt"), "--baseline", "gray", "--prior", str(prior),
                 "--plot", str(plot), "--resolution", "native", "-q")
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(plot).size[0] > 1000


def test_plot_without_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_photos(tmp_path / "gt")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    result = run("--data", str(tmp_path / "gt"), "--baseline", "gray", "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 1
    assert "autocolor[plot]" in result.stderr
    assert not (tmp_path / "p.png").exists()


def test_usage_errors(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")
    nothing = run("--data", str(tmp_path / "gt"))
    assert nothing.exit_code == 2 and "nothing to score" in nothing.stderr
    bad = run("--data", str(tmp_path / "gt"), "--baseline", "gray", "--resolution", "huge")
    assert bad.exit_code == 2 and "resolution" in bad.stderr
    missing = run("--data", str(tmp_path / "gt"), "--predictions", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "nope" in missing.stderr
    no_data = run("--data", str(tmp_path / "absent"), "--baseline", "gray")
    assert no_data.exit_code == 2 and "absent" in no_data.stderr


def test_fid_without_weights_says_what_to_fetch(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")
    result = run("--data", str(tmp_path / "gt"), "--baseline", "gray", "--fid")
    assert result.exit_code == 1
    assert "fetch-weights fid.inception" in result.stderr


def test_temperature_reaches_the_sampler_and_the_protocol(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")

    def scores(*extra: str) -> dict:
        result = run("--data", str(tmp_path / "gt"), "--model", "pic.tiny", "--random-weights", "--device", "cpu",
                     "--resolution", "32", "--json", "-", "-q", *extra)  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    default, cold, cold_again = scores(), scores("--temperature", "0.05"), scores("--temperature", "0.05")
    assert default["protocol"]["temperature"] == "each model's default"
    assert cold["protocol"]["temperature"] == 0.05
    assert cold["summary"] == cold_again["summary"]  # same seed, same temperature: same numbers
    # The option reached the decoder: other draws, other numbers (random weights, so no direction).
    assert cold["summary"]["pic.tiny"]["rmse_ab"] != default["summary"]["pic.tiny"]["rmse_ab"]
    assert run("--data", str(tmp_path / "gt"), "--temperature", "0").exit_code == 2


def test_mixture_temperature_reaches_pic_models_and_the_protocol(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")

    def scores(*extra: str) -> dict:
        return _tiny_scores(tmp_path / "gt", "pic.tiny", "cic.tiny", *extra)

    default, sharp = scores(), scores("--mixture-temperature", "0.3")
    assert default["protocol"]["mixture_temperature"] == "each PIC model's default"
    assert sharp["protocol"]["mixture_temperature"] == 0.3
    assert sharp["summary"]["pic.tiny"]["rmse_ab"] != default["summary"]["pic.tiny"]["rmse_ab"]
    assert sharp["summary"]["cic.tiny"] == default["summary"]["cic.tiny"]  # not a PIC model: unchanged
    assert run("--data", str(tmp_path / "gt"), "--mixture-temperature", "0").exit_code == 2


def test_prior_correction_and_flip_average_reach_bin_models_and_the_protocol(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt")

    def scores(*extra: str) -> dict:
        return _tiny_scores(tmp_path / "gt", "cic.tiny", "pic.tiny", *extra)

    default, corrected, flipped = scores(), scores("--prior-correction", "1"), scores("--flip-average")
    assert default["protocol"]["prior_correction"] == "each 313-bin model's default"
    assert corrected["protocol"]["prior_correction"] == 1.0 and flipped["protocol"]["flip_average"] is True
    assert corrected["summary"]["cic.tiny"]["rmse_ab"] != default["summary"]["cic.tiny"]["rmse_ab"]
    assert flipped["summary"]["cic.tiny"]["rmse_ab"] != default["summary"]["cic.tiny"]["rmse_ab"]
    assert corrected["summary"]["pic.tiny"] == default["summary"]["pic.tiny"]  # not a 313-bin model
    assert run("--data", str(tmp_path / "gt"), "--prior-correction", "2").exit_code == 2
