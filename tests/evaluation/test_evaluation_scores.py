"""The per-method streaming accumulators: fixed-size state whatever the number of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from autocolor.evaluation.images import rgb8_to_lab
from autocolor.evaluation.methods import GrayPredictor
from autocolor.evaluation.scores import MethodScores
from tests.evaluation.evalhelpers import make_photos


def test_accumulators_do_not_keep_pixels(tmp_path: Path) -> None:
    make_photos(tmp_path / "gt", size=(40, 30))
    scores = MethodScores("gray", "baseline", "ab = 0", rebalanced=False)
    predictor = GrayPredictor()
    for path in sorted((tmp_path / "gt").iterdir()):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        lab = rgb8_to_lab(rgb)
        ab, pred, _ = predictor.predict(path.name, rgb, lab)
        scores.add(path.name, rgb, lab, ab, pred, None, {"paper": 0.0, "abs": 0.0}, None)
    arrays = [v for v in vars(scores).values() if isinstance(v, np.ndarray)]
    arrays += [v for acc in (scores.cmf_raw,) for v in vars(acc).values() if isinstance(v, np.ndarray)]
    assert arrays and max(a.size for a in arrays) <= 152  # fixed-size histograms only
    assert len(scores.colorfulness_values) == 3
