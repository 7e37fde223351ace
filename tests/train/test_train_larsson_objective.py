"""Larsson objective: sparse sampling, targets, chroma-weighted KL, equality with dense evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.color import lab2rgb, rgb2hsv

from autocolor.color.lab import rgb_to_lab
from autocolor.models import create_model
from autocolor.train.larsson_objective import (
    LarssonObjective,
    chroma_loss_weight,
    dense_window_histograms,
    window_histograms,
)


def _batch(n: int = 2, h: int = 40, w: int = 52, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random colour images as (L*, ab) in double precision."""
    g = torch.Generator().manual_seed(seed)
    rgb = F.interpolate(torch.rand(n, 3, h // 4, w // 4, generator=g, dtype=torch.float64),
                        size=(h, w), mode="bilinear", align_corners=False)
    lab = rgb_to_lab(rgb)
    return lab[:, :1], lab[:, 1:]


def _reference_loss(net: torch.nn.Module, lightness: torch.Tensor, ab: torch.Tensor,
                    points: torch.Tensor, window: int = 7) -> torch.Tensor:
    """The objective written the dense way: a materialised full-resolution hypercolumn and
    per-point targets counted by loops from scikit-image's HSV."""
    n, _, h, w = lightness.shape
    padded = F.pad(lightness, (0, -w % 32, 0, -h % 32))
    ph, pw = padded.shape[-2:]
    feats = net.hypercolumn_features(padded)
    full = torch.cat([F.interpolate(f, size=(ph, pw), mode="bilinear", align_corners=False)
                      if f.shape[-2:] != (ph, pw) else f for f in feats], dim=1)
    hidden = F.relu(net.h_fc1(full))
    logits = torch.cat((net.prediction_h(hidden), net.prediction_c(hidden)), dim=1)
    lab = torch.cat((lightness, ab), dim=1).numpy().transpose(0, 2, 3, 1)
    total_h, total_c, count = 0.0, 0.0, 0
    r = window // 2
    for i in range(n):
        rgb = np.clip(lab2rgb(lab[i]), 0, 1)
        hue = rgb2hsv(rgb)[..., 0]
        chroma = rgb.max(-1) - rgb.min(-1)
        hue_bins = np.minimum((hue * 32).astype(int), 31)
        chroma_bins = np.minimum((chroma * 32).astype(int), 31)
        for y, x in points[i].tolist():
            box = np.s_[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1]
            t_h = torch.from_numpy(np.bincount(hue_bins[box].ravel(), minlength=32) / hue_bins[box].size)
            t_c = torch.from_numpy(np.bincount(chroma_bins[box].ravel(), minlength=32) / hue_bins[box].size)
            log_h = F.log_softmax(logits[i, :32, y, x], dim=0)
            log_c = F.log_softmax(logits[i, 32:, y, x], dim=0)
            kl_h = (torch.xlogy(t_h, t_h) - t_h * log_h).sum()
            kl_c = (torch.xlogy(t_c, t_c) - t_c * log_c).sum()
            g = rgb[y, x].mean()
            total_h = total_h + chroma[y, x] * kl_h
            total_c = total_c + min(3 * g, 1.0, 3 * (1 - g)) * kl_c
            count += 1
    return 5.0 * total_h / count + 1.0 * total_c / count


def test_sparse_loss_and_gradients_equal_the_dense_computation_at_the_points() -> None:
    torch.manual_seed(0)
    net = create_model("larsson.tiny").double()
    lightness, ab = _batch()
    objective = LarssonObjective(points_per_image=24, seed=5)
    points = objective.sample_points(2, 40, 52)
    points[0, 0] = torch.tensor([0, 0])  # a corner: truncated window, border sampling
    points[1, 1] = torch.tensor([39, 51])
    loss, metrics = objective.loss_at(net, lightness, ab, points)
    grad = torch.autograd.grad(loss, net.conv1_1.weight)[0]
    reference = _reference_loss(net, lightness, ab, points)
    ref_grad = torch.autograd.grad(reference, net.conv1_1.weight)[0]
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)
    assert metrics["loss"] == pytest.approx(loss.item())
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-9)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    net = create_model("larsson.tiny").train()
    lightness, ab = _batch(seed=1)
    loss, metrics = LarssonObjective(points_per_image=64, seed=0)(net, lightness.float(), ab.float())
    loss.backward()
    assert loss.item() > 0 and set(metrics) >= {"loss", "kl_hue", "kl_chroma"}
    for name, param in net.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_locations_are_seeded() -> None:
    a, b, c = (LarssonObjective(points_per_image=16, seed=s) for s in (3, 3, 4))
    first = a.sample_points(2, 50, 60)
    torch.testing.assert_close(first, b.sample_points(2, 50, 60))
    assert not torch.equal(first, c.sample_points(2, 50, 60))
    assert not torch.equal(first, a.sample_points(2, 50, 60))  # the sequence moves on
    assert first[..., 0].max() < 50 and first[..., 1].max() < 60 and first.min() >= 0
    inner = LarssonObjective(points_per_image=500, seed=0, margin=0.25).sample_points(1, 100, 200)
    assert inner[..., 0].min() >= 25 and inner[..., 0].max() < 75
    assert inner[..., 1].min() >= 50 and inner[..., 1].max() < 150


def test_validation_locations_are_fixed_and_leave_the_training_sequence_alone() -> None:
    net = create_model("larsson.tiny").eval()
    lightness, ab = _batch(seed=3)
    objective = LarssonObjective(points_per_image=8, seed=1)
    first = objective(net, lightness.float(), ab.float())[0]
    second = objective(net, lightness.float(), ab.float())[0]
    assert first.item() == second.item()
    torch.testing.assert_close(objective.sample_points(2, 40, 52),
                               LarssonObjective(points_per_image=8, seed=1).sample_points(2, 40, 52))


def test_dense_mode_equals_sparse_at_every_pixel() -> None:
    torch.manual_seed(0)
    net = create_model("larsson.tiny").double()
    lightness, ab = _batch(n=1, h=36, w=44, seed=2)
    ys, xs = torch.meshgrid(torch.arange(36), torch.arange(44), indexing="ij")
    every = torch.stack((ys.flatten(), xs.flatten()), dim=-1)[None]
    sparse, _ = LarssonObjective(points_per_image=1).loss_at(net, lightness, ab, every)
    dense, _ = LarssonObjective(dense=True)(net, lightness, ab)
    assert dense.item() == pytest.approx(sparse.item(), rel=1e-6)  # the loss is reduced in fp32


def test_window_histograms_sparse_and_dense_agree() -> None:
    g = torch.Generator().manual_seed(0)
    bins = torch.randint(0, 32, (2, 20, 25), generator=g)
    points = torch.tensor([[[0, 0], [10, 12], [19, 24]], [[5, 0], [19, 3], [7, 7]]])
    sparse = window_histograms(bins, points, 7, 32)
    dense = dense_window_histograms(bins, 7, 32)
    for i in range(2):
        for k, (y, x) in enumerate(points[i].tolist()):
            torch.testing.assert_close(sparse[i, k], dense[i, :, y, x])
    assert sparse[0, 0].sum().item() == pytest.approx(1.0)
    assert (sparse[0, 0] * 16).round().sum() == 16  # corner: a 4x4 box survives
    single = window_histograms(bins, points, 1, 32)
    assert single[1, 2].argmax() == bins[1, 7, 7] and single[1, 2].max() == 1


def test_chroma_weight_is_the_official_triangle() -> None:
    gray = torch.tensor([0.0, 0.1, 1 / 3, 0.5, 2 / 3, 0.9, 1.0])
    expected = torch.tensor([0.0, 0.3, 1.0, 1.0, 1.0, 0.3, 0.0])
    torch.testing.assert_close(chroma_loss_weight(gray), expected)


def test_gray_images_have_no_hue_loss() -> None:
    net = create_model("larsson.tiny")
    lightness = torch.rand(1, 1, 32, 32) * 100
    _, metrics = LarssonObjective(points_per_image=32)(net, lightness, torch.zeros(1, 2, 32, 32))
    assert metrics["hue_term"] == pytest.approx(0.0, abs=1e-3)  # chroma ~0 weights hue out
    assert metrics["chroma_term"] > 0


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        LarssonObjective(window=4)
    with pytest.raises(ValueError):
        LarssonObjective(points_per_image=0)
