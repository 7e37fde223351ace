"""Evaluation: score colorizations of a folder of colour photos with the field's metrics.

One place for "how is a model scored", over :mod:`autocolor.metrics` (the pure formulas):

* :mod:`.config`: what is asked (:class:`EvalConfig`, :class:`Resolution`) and returned
  (:class:`EvalResult`); plain data that every other module may import;
* :mod:`.images`: decoding to 8-bit sRGB, resizing, Lab conversions shared by ground truth and
  prediction files;
* :mod:`.methods`: the predictors being scored (a model, a folder of outputs, the gray baseline);
* :mod:`.scores`: per-method streaming accumulators (one row per image, one summary);
* :mod:`.run`: :func:`evaluate`, the loop over images, and the protocol written beside the numbers;
* :mod:`.report`: JSON, CSV, the rich table and the plot of an :class:`EvalResult`.

Imports inside the package point one way: ``config`` and ``images`` <- ``methods``, ``scores``
<- ``run``; ``report`` needs only ``config``.
"""

from __future__ import annotations

from autocolor.evaluation.config import BASELINES, GROUND_TRUTH, EvalConfig, EvalResult, Resolution
from autocolor.evaluation.run import evaluate, find_images

__all__ = ["BASELINES", "GROUND_TRUTH", "EvalConfig", "EvalResult", "Resolution", "evaluate", "find_images"]
