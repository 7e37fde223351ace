"""FID: Fréchet distance of known Gaussians, streaming statistics, the Inception layout, weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autocolor.errors import ChecksumMismatchError, WeightsError
from autocolor.metrics.fid import (
    GaussianStats,
    build_fid_network,
    fid_from_stats,
    frechet_distance,
    load_fid_state_dict,
)
from autocolor.metrics.inception import FIDInceptionV3


def _random_spd(rng: np.random.Generator, dim: int) -> np.ndarray:
    m = rng.normal(size=(dim, dim))
    return m @ m.T + 0.1 * np.eye(dim)


def test_identical_gaussians_have_distance_zero() -> None:
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=6), _random_spd(rng, 6)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_diagonal_gaussians_by_hand() -> None:
    # For commuting covariances: |mu1 - mu2|^2 + sum (sqrt(l1) - sqrt(l2))^2.
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([3.0, 1.0, -2.0])
    l1, l2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = 9.0 + 16.0 + (1.0 + 0.0 + 4.0)
    assert frechet_distance(mu1, np.diag(l1), mu2, np.diag(l2)) == pytest.approx(expected, abs=1e-9)
    # The same in a rotated basis.
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    rotated = frechet_distance(q @ mu1, q @ np.diag(l1) @ q.T, q @ mu2, q @ np.diag(l2) @ q.T)
    assert rotated == pytest.approx(expected, abs=1e-8)


def test_general_covariances_match_scipy_sqrtm() -> None:
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(2)
    s1, s2 = _random_spd(rng, 5), _random_spd(rng, 5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    covmean = scipy_linalg.sqrtm(s1 @ s2).real
    reference = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-8)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-9)


def test_streaming_stats_equal_numpy_in_any_batching() -> None:
    x = np.random.default_rng(3).normal(size=(37, 4)) * [1.0, 5.0, 0.1, 2.0] + 100.0
    stats = GaussianStats(4)
    for chunk in np.array_split(x, [1, 2, 10, 30]):
        stats.update(chunk)
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance(), np.cov(x, rowvar=False), rtol=1e-9)
    other = GaussianStats(4)
    other.update(x)
    assert fid_from_stats(stats, other) == pytest.approx(0.0, abs=1e-7)


def test_inception_layout_matches_the_fid_checkpoint() -> None:
    net = FIDInceptionV3(resize_input=False).eval()
    # torchvision's Inception3 without the auxiliary head, with 1008 classes.
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    state = net.state_dict()
    assert state["fc.weight"].shape == (1008, 2048)
    assert state["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    with torch.inference_mode():
        assert net(torch.rand(2, 3, 75, 75)).shape == (2, 2048)


def test_build_network_checks_keys() -> None:
    state = {k: v for k, v in FIDInceptionV3().state_dict().items() if not k.endswith("num_batches_tracked")}
    net = build_fid_network(state)
    assert not net.training
    state["Mixed_5b.branch1x1.conv.renamed"] = state.pop("Mixed_5b.branch1x1.conv.weight")
    with pytest.raises(WeightsError, match="layout"):
        build_fid_network(state)


def test_missing_weights_say_how_to_fetch_them() -> None:
    with pytest.raises(WeightsError, match="fetch-weights fid.inception"):
        load_fid_state_dict(None)


def test_unpinned_pth_is_refused_before_unpickling(tmp_path) -> None:
    path = tmp_path / "pt_inception.pth"
    torch.save({"fc.bias": torch.zeros(3)}, path)
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        load_fid_state_dict(path)


def test_safetensors_file_loads(tmp_path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "fid.safetensors"
    save_file({"fc.bias": torch.arange(3.0)}, str(path))
    assert torch.equal(load_fid_state_dict(path)["fc.bias"], torch.arange(3.0))
