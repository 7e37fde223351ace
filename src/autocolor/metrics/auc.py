"""Zhang et al.'s per-pixel accuracy: area under the cumulative mass function (CMF) of ab errors.

Protocol (the one number ``auc()`` returns, and what ``cmf()`` returns):

* Per-pixel error ``e = sqrt((a_pred - a_gt)^2 + (b_pred - b_gt)^2)`` in Lab units (float64).
* For every integer threshold ``t = 0, 1, ..., 150`` (151 thresholds, both ends included),
  ``Acc(t) = sum_{pixels with e <= t} w / sum_{all pixels} w``, pooled over every pixel of
  every image of the set (not a mean of per-image curves). ``w = 1`` for the raw AuC.
* ``AuC = (1/150) * sum_{t=0}^{149} (Acc(t) + Acc(t+1)) / 2`` (trapezoid rule at unit steps,
  normalised by the threshold range), in ``[0, 1]``; reported in percent by the runner.
  The alternative reading "mean of Acc over the 151 thresholds" differs from this by
  ``(Acc(0) + Acc(150)) / 2 / 150 - mean / 151``, well under 0.1 point for real images.
* Class-rebalanced AuC (Zhang's "rebal"): the same with ``w = 1 / p(q*)``, where ``q*`` is the
  CIC bin nearest to the *ground-truth* ab of the pixel and ``p`` is an ab prior over the 313
  bins. Zhang's rebalancing weight is ``((1 - lambda) p~ + lambda / Q)^-1`` and the paper uses
  ``lambda = 0`` for this metric, i.e. the plain inverse of the prior; the normalisation of
  ``w`` cancels in ``Acc``. The official ``prior_probs.npy`` is already the smoothed ``p~``
  (its author, richzhang/colorization issue #47) and the official training code uses it as is,
  so the prior file is used as given; the runner can smooth it first
  (:func:`autocolor.color.prior.smooth_prior`), which a prior with empty bins needs.
* With ``lambda = 0`` the number is only as good as the prior's tail: a prior estimated on a
  few thousand images is near 0 (1e-30 after smoothing) in bins that a test set still hits,
  and one such pixel then outweighs millions. The runner reports Kish's effective pixel count
  ``(sum w)^2 / sum w^2`` with the number and warns when it is tiny.

The accumulator keeps one histogram of ``ceil(e)`` (152 numbers), so it is exact at the integer
thresholds and its memory does not grow with the number of pixels or images.
"""

from __future__ import annotations

import numpy as np
import torch

MAX_THRESHOLD = 150
#: The 151 integer thresholds ``0..150`` (Lab units) at which ``Acc`` is evaluated.
THRESHOLDS = np.arange(MAX_THRESHOLD + 1, dtype=np.int64)
# Pixels per chunk for the nearest-bin search: bounds the (313, chunk) distance matrix to ~80 MB.
_BIN_CHUNK = 1 << 16


def ab_errors(pred_ab: np.ndarray, gt_ab: np.ndarray) -> np.ndarray:
    """Euclidean ab distance per pixel: ``(2, H, W)`` and ``(2, H, W)`` -> float64 ``(H, W)``."""
    pred = np.asarray(pred_ab, dtype=np.float64)
    gt = np.asarray(gt_ab, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[0] != 2:
        raise ValueError(f"expected two (2, H, W) ab arrays, got {pred.shape} and {gt.shape}")
    return np.hypot(pred[0] - gt[0], pred[1] - gt[1])


class CMFAccumulator:
    """Streaming (weighted) CMF of per-pixel ab errors at the integer thresholds ``0..150``.

    Holds ``hist[k]`` = total weight of pixels with ``ceil(e) == k`` for ``k <= 150`` and the
    weight of all pixels with ``e > 150`` in the last slot; ``Acc(t)`` is a cumulative sum.
    """

    def __init__(self, max_threshold: int = MAX_THRESHOLD) -> None:
        if max_threshold < 1:
            raise ValueError(f"max_threshold must be >= 1, got {max_threshold}")
        self.max_threshold = int(max_threshold)
        self._hist = np.zeros(self.max_threshold + 2, dtype=np.float64)
        self.pixels = 0

    def update(self, errors: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Add pixels: ``errors`` any shape (Lab units, >= 0); ``weights`` same shape or None."""
        e = np.asarray(errors, dtype=np.float64).ravel()
        if not np.all(np.isfinite(e)) or (e.size and e.min() < 0):
            raise ValueError("ab errors must be finite and non-negative")
        w = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64).ravel()
            if w.shape != e.shape:
                raise ValueError(f"weights have {w.size} values for {e.size} errors")
            if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
                raise ValueError("weights must be finite and non-negative")
        # ceil(e) is the smallest integer threshold t with e <= t; beyond max goes to the last slot.
        k = np.minimum(np.ceil(e), self.max_threshold + 1).astype(np.int64)
        self._hist += np.bincount(k, weights=w, minlength=self.max_threshold + 2)
        self.pixels += e.size

    def merge(self, other: CMFAccumulator) -> None:
        """Add another accumulator's pixels (same ``max_threshold``)."""
        if other.max_threshold != self.max_threshold:
            raise ValueError("cannot merge CMFs with different threshold ranges")
        self._hist += other._hist
        self.pixels += other.pixels

    @property
    def total_weight(self) -> float:
        return float(self._hist.sum())

    def cmf(self) -> np.ndarray:
        """``Acc(t)`` for ``t = 0..max_threshold``: float64 ``(max_threshold + 1,)`` in [0, 1]."""
        total = self.total_weight
        if total <= 0:
            raise ValueError("the CMF is empty: no pixels (or only zero weights) were added")
        return np.cumsum(self._hist)[: self.max_threshold + 1] / total

    def auc(self) -> float:
        """Trapezoid area under ``Acc`` over ``[0, max_threshold]`` divided by ``max_threshold``."""
        acc = self.cmf()
        return float((acc.sum() - 0.5 * (acc[0] + acc[-1])) / self.max_threshold)


def _lattice_table(grid: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(lowest lattice cell, cell -> bin index table with -1 for no bin), or None off-lattice."""
    cells = grid / step
    if not np.array_equal(cells, np.round(cells)):
        return None
    cells = cells.astype(np.int64)
    low = cells.min(0)
    table = np.full(cells.max(0) - low + 1, -1, dtype=np.int64)
    table[cells[:, 0] - low[0], cells[:, 1] - low[1]] = np.arange(len(cells))
    return low, table


def nearest_bins(ab: np.ndarray, grid: np.ndarray, step: float = 10.0) -> np.ndarray:
    """Index of the nearest grid centre for every pixel: ``(2, H, W)`` -> int64 ``(H, W)``.

    When the centres lie on a square lattice of ``step`` (the CIC grid), a pixel whose nearest
    lattice point is a centre takes it directly (that point is then the nearest centre); the
    rest, off the edge of the in-gamut bins, go through an exhaustive search
    (:func:`autocolor.color.bins.nearest_bin`, in chunks to bound memory). Exact ties between two
    centres (a set of measure zero) may resolve differently from the exhaustive search.
    """
    from autocolor.color.bins import nearest_bin

    ab = np.asarray(ab, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    flat = ab.reshape(2, -1)
    out = np.full(flat.shape[1], -1, dtype=np.int64)
    lattice = _lattice_table(grid, step)
    if lattice is not None:
        low, table = lattice
        cell = np.floor(flat / step + 0.5).astype(np.int64) - low[:, None]
        inside = (cell >= 0).all(0) & (cell[0] < table.shape[0]) & (cell[1] < table.shape[1])
        out[inside] = table[cell[0, inside], cell[1, inside]]
    todo = np.flatnonzero(out < 0)
    grid_t = torch.from_numpy(grid).float()
    for start in range(0, todo.size, _BIN_CHUNK):
        idx = todo[start : start + _BIN_CHUNK]
        chunk = torch.from_numpy(np.ascontiguousarray(flat[:, idx], dtype=np.float32))
        out[idx] = nearest_bin(chunk[None, :, None, :], grid_t)[0, 0].numpy()
    return out.reshape(ab.shape[1:])


def rebalancing_weights(gt_ab: np.ndarray, prior: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per-pixel weight ``1 / prior[nearest bin of the ground-truth ab]``: float64 ``(H, W)``.

    Raises:
        ValueError: a ground-truth pixel falls in a bin of zero prior probability.
    """
    prior = np.asarray(prior, dtype=np.float64)
    if len(prior) != len(grid):
        raise ValueError(f"prior has {len(prior)} bins, grid has {len(grid)}")
    p = prior[nearest_bins(gt_ab, grid)]
    if p.size and p.min() <= 0:
        raise ValueError("a ground-truth pixel falls in a bin of prior probability 0; smooth the prior")
    return 1.0 / p
