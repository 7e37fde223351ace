"""Fréchet Inception Distance (optional metric): Gaussian feature statistics and their distance.

Protocol: every image (8-bit sRGB, at the evaluation resolution) goes through
:class:`~autocolor.metrics.inception.FIDInceptionV3` (resized to 299 x 299 bilinear, pool3
features, 2048 numbers); the features of the predictions and of the ground truths are each
summarised by their mean and unbiased covariance (``ddof = 1``, as ``np.cov``), and

``FID = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2))``.

``tr((S_1 S_2)^(1/2))`` is computed as ``sum sqrt(eig(A S_2 A))`` with ``A = S_1^(1/2)``, a
symmetric positive semi-definite form that needs no complex matrix square root; eigenvalues
under the numerical-rank tolerance (``max |eig| * dim * eps``) count as 0. With fewer
images than 2048 the covariances are singular and FID is biased upwards: compare FIDs only
between runs on the same number of images.

Weights: the pytorch-fid port of the TF Inception (``pt_inception-2015-12-05-6726825d.pth``).
They are never downloaded here: either the weights cache holds them (``autocolor fetch-weights
fid.inception``) or the user passes the file, whose sha256 is checked before it is unpickled
(``torch.load(weights_only=True)``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autocolor.errors import ChecksumMismatchError, WeightsError
from autocolor.metrics.inception import FIDInceptionV3

#: Name of the FID network in the weights manifest / cache.
FID_WEIGHTS_NAME = "fid.inception"
FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)
#: sha256 of that file as recorded by a third party for the same-named torch-fidelity copy; its
#: first 8 hex digits match the ``6726825d`` in the file name (torch.hub's naming convention).
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"


class GaussianStats:
    """Streaming mean and covariance of feature vectors (Chan et al.'s pairwise merge, float64)."""

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        self.count = 0
        self.mean = np.zeros(self.dim, dtype=np.float64)
        self._m2 = np.zeros((self.dim, self.dim), dtype=np.float64)

    def update(self, features: np.ndarray) -> None:
        """Add a batch ``(N, dim)`` (or one vector ``(dim,)``)."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if x.shape[1] != self.dim:
            raise ValueError(f"expected features of size {self.dim}, got {x.shape}")
        n_b = x.shape[0]
        if n_b == 0:
            return
        mean_b = x.mean(0)
        centred = x - mean_b
        m2_b = centred.T @ centred
        n_a = self.count
        total = n_a + n_b
        delta = mean_b - self.mean
        self._m2 += m2_b + np.outer(delta, delta) * (n_a * n_b / total)
        self.mean += delta * (n_b / total)
        self.count = total

    def covariance(self) -> np.ndarray:
        """Unbiased covariance ``(dim, dim)``; needs at least two vectors."""
        if self.count < 2:
            raise ValueError("a covariance needs at least two feature vectors")
        return self._m2 / (self.count - 1)


def _clean_eigenvalues(values: np.ndarray) -> np.ndarray:
    # Eigenvalues below the numerical-rank tolerance are rounding noise of a singular matrix
    # (always the case with fewer images than features); their square roots, ~1e-8 each over
    # thousands of them, would otherwise bias the trace term.
    tol = np.abs(values).max(initial=0.0) * values.size * np.finfo(np.float64).eps
    return np.where(values > tol, values, 0.0)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(_clean_eigenvalues(values))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (see the module docstring)."""
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    s1, s2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched shapes: {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}")
    root1 = _sqrt_psd(s1)
    inner = root1 @ s2 @ root1
    eig = _clean_eigenvalues(np.linalg.eigvalsh((inner + inner.T) / 2.0))
    tr_covmean = float(np.sqrt(eig).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def fid_from_stats(a: GaussianStats, b: GaussianStats) -> float:
    return frechet_distance(a.mean, a.covariance(), b.mean, b.covariance())


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_fid_state_dict(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The Inception state dict, from ``path`` or from the weights cache; never downloads.

    Args:
        path: a ``.pth`` (sha256 checked against :data:`FID_WEIGHTS_SHA256`, then loaded with
            ``weights_only=True``) or a ``.safetensors`` file. ``None``: the cached
            ``fid.inception`` safetensors file made by ``autocolor fetch-weights``.

    Raises:
        WeightsError: the weights are not present or cannot be read.
        ChecksumMismatchError: a ``.pth`` file is not the pinned one.
    """
    if path is None:
        from autocolor.weights.cache import cached_path

        cached = cached_path(FID_WEIGHTS_NAME)
        if not cached.is_file():
            raise WeightsError(
                f"FID weights not present ({cached}): run `autocolor fetch-weights {FID_WEIGHTS_NAME}` "
                "or pass --fid-weights FILE"
            )
        path = cached
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: FID weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        digest = _sha256(path)
        if digest != FID_WEIGHTS_SHA256:
            raise ChecksumMismatchError(f"{path}: sha256 {digest} is not the pinned FID Inception file")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except WeightsError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user-facing weights problem
        raise WeightsError(f"{path}: cannot read FID weights ({exc})") from exc
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def build_fid_network(state_dict: dict[str, torch.Tensor], device: str | torch.device = "cpu") -> FIDInceptionV3:
    """An eval-mode :class:`FIDInceptionV3` with ``state_dict`` loaded; checks the key layout."""
    net = FIDInceptionV3()
    result = net.load_state_dict(state_dict, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    unexpected = [k for k in result.unexpected_keys if not k.startswith("AuxLogits.")]
    if missing or unexpected:
        raise WeightsError(
            f"FID weights do not fit the Inception layout: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return net.to(device).eval()


class FIDScorer:
    """Accumulates Inception statistics of ground truths and of each method's outputs."""

    def __init__(self, net: FIDInceptionV3, device: str | torch.device = "cpu") -> None:
        self.net = net
        self.device = torch.device(device)
        self.stats: dict[str, GaussianStats] = {}

    def features(self, rgb_uint8: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 sRGB -> ``(2048,)`` float64 pool3 features."""
        pixels = np.require(rgb_uint8, dtype=np.uint8, requirements=["C", "W"])  # torch needs writable
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255.0
        with torch.inference_mode():
            return self.net(x.to(self.device))[0].double().cpu().numpy()

    def add(self, key: str, rgb_uint8: np.ndarray) -> None:
        """Add one image to the statistics named ``key`` (e.g. ``"ground_truth"`` or a method)."""
        stats = self.stats.setdefault(key, GaussianStats(self.net.fc.in_features))
        stats.update(self.features(rgb_uint8))

    def fid(self, key: str, reference: str) -> float:
        return fid_from_stats(self.stats[key], self.stats[reference])
