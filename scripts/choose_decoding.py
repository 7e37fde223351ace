#!/usr/bin/env python
"""Choose a CIC-style model's default decoding (temperature T, prior correction s) by a stated rule.

The network runs once per photo; every (T, s) of the grid is then decoded and scored with
``autocolor eval``'s own metrics (SSIM left out: the rule does not use it), beside the gray
baseline, on a half of the validation photos (``--half odd``: the 2nd, 4th, ... in sorted
order), so the full-set numbers that ``autocolor eval`` reports afterwards are not the ones the
choice was fitted to alone.

The rule (issue 17's targets, with the official ImageNet prior for the rebalanced AuC):
count, per setting, how many of these hold --

  rebalanced AuC >= gray + 9;  raw AuC >= gray;  PSNR >= gray - 1 dB;
  0.85 <= colourfulness / ground truth's <= 1.05;  tinted neutral pixels <= 15 %

-- and take the setting that meets the most; ties go to the higher rebalanced AuC.

Examples::

    python scripts/choose_decoding.py --model cic.base --prior ../shared/reference/prior_probs.npy
    python scripts/choose_decoding.py --model cic.base --weights runs/cic_base_stage3/model.safetensors \\
        --prior ../shared/reference/prior_probs.npy --json choice.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRAY = "gray"


@dataclass(frozen=True)
class Setting:
    """One decoding: annealed-mean temperature and prior-correction share."""

    temperature: float
    correction: float

    @property
    def name(self) -> str:
        return f"T={self.temperature:g} s={self.correction:g}"


def targets_met(row: dict[str, Any], gray: dict[str, Any], gt_colourfulness: float) -> list[str]:
    """Names of the issue-17 targets a summary row meets, against the gray row."""
    ratio = row["colorfulness"] / gt_colourfulness
    checks = {
        "reb>=gray+9": row["auc_rebalanced"] >= gray["auc_rebalanced"] + 9.0,
        "raw>=gray": row["auc_raw"] >= gray["auc_raw"],
        "psnr>=gray-1": row["psnr"] >= gray["psnr"] - 1.0,
        "colourfulness 0.85-1.05x": 0.85 <= ratio <= 1.05,
        "tinted<=15%": (row["neutral_tinted"] or 0.0) <= 15.0,  # None: no neutral pixel to tint
    }
    return [name for name, ok in checks.items() if ok]


def choose(rows: dict[str, dict[str, Any]], gt_colourfulness: float) -> str:
    """The rule: most targets met, then the highest rebalanced AuC. ``rows`` holds ``gray`` too."""
    gray = rows[GRAY]
    candidates = [name for name in rows if name != GRAY]
    if not candidates:
        raise ValueError("no decoding setting to choose from")
    return max(
        candidates,
        key=lambda name: (len(targets_met(rows[name], gray, gt_colourfulness)), rows[name]["auc_rebalanced"]),
    )


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/val"), help="colour photos (ground truth)")
    parser.add_argument("--model", default="cic.base", help="a registered model with 313-bin output")
    parser.add_argument("--weights", type=Path, help=".safetensors for --model (default: its bundled weights)")
    parser.add_argument("--prior", type=Path, help="prior for the rebalanced AuC (default: the project's)")
    parser.add_argument("--half", choices=("odd", "even", "all"), default="odd")
    parser.add_argument("--limit", type=int, help="only the first N photos of the half")
    parser.add_argument("--temperatures", type=_floats, default=_floats("0.2,0.3,0.38,0.5,0.7,1"))
    parser.add_argument("--corrections", type=_floats, default=_floats("0,0.25,0.5,0.75,1"))
    parser.add_argument("--flip-average", action="store_true", help="decode the mirror-averaged logits")
    parser.add_argument("--json", type=Path, help="write every row, the gray row and the choice")
    return parser.parse_args(argv)


def _load_network(model: str, weights: Path | None) -> Any:
    from autocolor.models import create_model, model_info
    from autocolor.pipeline import load_model
    from autocolor.train.warm_start import warm_start

    if model_info(model).output_kind != "ab_bins":
        raise SystemExit(f"choose_decoding: {model} has no 313-bin output")
    if weights is None:
        return load_model(model, "cpu")
    net = create_model(model, pretrained=False)
    warm_start(net, weights)  # the project's checked reader: the file must fit the network exactly
    return net.eval()


def sweep(args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], float, int]:
    """Scores of gray and of every setting: ``(rows by name, ground-truth colourfulness, photos)``."""
    import numpy as np
    import torch

    from autocolor.color.bins import cic_ab_grid
    from autocolor.color.prior import load_prior, project_log_weights, project_prior_path
    from autocolor.color.upsample import upsample_ab
    from autocolor.decode.bins import annealed_mean, correct_rebalancing
    from autocolor.evaluation import Resolution, find_images
    from autocolor.evaluation.images import lab_to_rgb8, rgb8_to_lab
    from autocolor.evaluation.methods import GrayPredictor
    from autocolor.evaluation.run import load_ground_truth
    from autocolor.evaluation.scores import MethodScores
    from autocolor.metrics.auc import rebalancing_weights
    from autocolor.metrics.colorfulness import colorfulness_both
    from autocolor.pipeline import network_input_size, resize_lightness

    net = _load_network(args.model, args.weights)
    grid = cic_ab_grid()
    grid64 = grid.numpy().astype(np.float64)
    gray = GrayPredictor(GRAY)
    log_w = project_log_weights(0.5)
    prior = load_prior(args.prior or project_prior_path())
    files = find_images(args.data)
    files = {"odd": files[1::2], "even": files[0::2], "all": files}[args.half][: args.limit]
    settings = [Setting(t, s) for t in args.temperatures for s in args.corrections]
    scores = {name: MethodScores(name, "model", name, True, ssim=False) for name in [GRAY, *(s.name for s in settings)]}
    gt_cf: dict[str, list[float]] = {"paper": [], "abs": []}
    for path in files:
        gt_rgb = load_ground_truth(path, Resolution("256"))
        gt_lab = rgb8_to_lab(gt_rgb)
        lightness = gt_lab[0].astype(np.float32)
        weights = rebalancing_weights(gt_lab[1:], prior, grid64)
        cf = colorfulness_both(gt_rgb)
        gt_cf["paper"].append(cf["paper"])
        gt_cf["abs"].append(cf["abs"])
        gray_ab, gray_rgb, _ = gray.predict(path.name, gt_rgb, gt_lab)
        scores[GRAY].add(path.name, gt_rgb, gt_lab, gray_ab, gray_rgb, weights, cf, None)
        with torch.inference_mode():
            small = resize_lightness(torch.from_numpy(lightness)[None, None], network_input_size(net, *lightness.shape, 256))
            logits = net(small).float()
            if args.flip_average:
                logits = (logits + net(small.flip(-1)).float().flip(-1)) / 2
        for setting in settings:
            ab_low = annealed_mean(correct_rebalancing(logits, log_w, setting.correction), grid, setting.temperature)
            ab = np.asarray(upsample_ab(ab_low[0].numpy(), lightness, method="guided"), dtype=np.float64)
            scores[setting.name].add(path.name, gt_rgb, gt_lab, ab, lab_to_rgb8(gt_lab[0], ab), weights, cf, None)
    means = {key: float(np.mean(values)) for key, values in gt_cf.items()}
    rows = {name: score.summary(means) for name, score in scores.items()}
    for row in rows.values():
        row.pop("cmf_raw", None), row.pop("cmf_rebalanced", None)
    return rows, means["paper"], len(files)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    rows, gt_colourfulness, photos = sweep(args)
    chosen = choose(rows, gt_colourfulness)
    gray = rows[GRAY]
    print(f"{args.model} on {photos} photos ({args.half} half of {args.data}), {time.perf_counter() - start:.0f} s")
    print(f"{'setting':16} {'raw AuC':>8} {'reb AuC':>8} {'PSNR':>6} {'colour':>7} {'tinted':>7}  targets met")
    for name, row in rows.items():
        met = "" if name == GRAY else ", ".join(targets_met(row, gray, gt_colourfulness)) or "-"
        mark = "  <- chosen" if name == chosen else ""
        print(f"{name:16} {row['auc_raw']:8.2f} {row['auc_rebalanced']:8.2f} {row['psnr']:6.2f} "
              f"{row['colorfulness'] / gt_colourfulness:6.2f}x {row['neutral_tinted'] or 0.0:6.1f}%  {met}{mark}")  # fmt: skip
    if args.json is not None:
        report = {"model": args.model, "weights": str(args.weights or "bundled"), "half": args.half,
                  "photos": photos, "flip_average": args.flip_average, "prior": str(args.prior or "project"),
                  "gt_colourfulness": gt_colourfulness, "rows": rows, "chosen": chosen}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
