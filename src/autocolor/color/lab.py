"""sRGB <-> CIE L*a*b* (D65, 2 degree observer) in torch, on any device.

The constants and branch points are those of ``skimage.color.rgb2lab`` / ``lab2rgb`` so
that results agree with scikit-image to ~1e-4 (float32). Channel dimension is ``-3``:
inputs may be ``(3, H, W)`` or ``(N, 3, H, W)``.
"""

from __future__ import annotations

import torch

# sRGB primaries -> XYZ (the matrix scikit-image uses).
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_WHITE_D65 = (0.95047, 1.0, 1.08883)
_EPSILON = 0.008856  # (6/29)^3 as rounded by CIE
_KAPPA_SLOPE = 7.787  # (29/6)^2 / 3 as rounded by CIE
_OFFSET = 16.0 / 116.0


def _matrix(rows: tuple[tuple[float, ...], ...], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64, device=like.device)


def _apply_matrix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # x: (..., 3, H, W); contract the channel dim with m (3, 3).
    return torch.einsum("ij,...jhw->...ihw", m.to(x.dtype), x)


def _white(like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(_WHITE_D65, dtype=like.dtype, device=like.device).view(3, 1, 1)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve; values in [0, 1] -> linear light in [0, 1]."""
    return torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055).clamp_min(0) ** 2.4, rgb / 12.92)


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    """Apply the sRGB transfer curve to linear light (negative values stay linear)."""
    return torch.where(
        linear > 0.0031308, 1.055 * linear.clamp_min(0.0031308) ** (1 / 2.4) - 0.055, linear * 12.92
    )


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], shape (..., 3, H, W) -> Lab with L* in [0, 100], a*/b* in ~[-110, 110]."""
    if rgb.shape[-3] != 3:
        raise ValueError(f"expected 3 channels at dim -3, got shape {tuple(rgb.shape)}")
    rgb = rgb.float() if not rgb.is_floating_point() else rgb
    xyz = _apply_matrix(_matrix(_XYZ_FROM_RGB, rgb), srgb_to_linear(rgb)) / _white(rgb)
    f = torch.where(xyz > _EPSILON, xyz.clamp_min(_EPSILON) ** (1 / 3), _KAPPA_SLOPE * xyz + _OFFSET)
    fx, fy, fz = f.unbind(-3)
    lightness = 116.0 * fy - 16.0
    return torch.stack((lightness, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """Lab, shape (..., 3, H, W) -> sRGB; clipped to [0, 1] unless ``clip=False``.

    Like scikit-image, a negative ``z`` (impossible colours with very large b*) is clamped to 0
    before the inverse companding.
    """
    if lab.shape[-3] != 3:
        raise ValueError(f"expected 3 channels at dim -3, got shape {tuple(lab.shape)}")
    lightness, a, b = lab.unbind(-3)
    fy = (lightness + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = (fy - b / 200.0).clamp_min(0.0)
    f = torch.stack((fx, fy, fz), dim=-3)
    xyz = torch.where(f > 0.2068966, f**3, (f - _OFFSET) / _KAPPA_SLOPE) * _white(lab)
    rgb_from_xyz = torch.linalg.inv(_matrix(_XYZ_FROM_RGB, lab))
    rgb = linear_to_srgb(_apply_matrix(rgb_from_xyz, xyz))
    return rgb.clamp(0.0, 1.0) if clip else rgb


def lab_from_lightness_ab(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Join L* (..., 1, H, W) and ab (..., 2, H, W) into Lab (..., 3, H, W)."""
    return torch.cat((lightness, ab), dim=-3)


def rgb_to_lightness(rgb: torch.Tensor) -> torch.Tensor:
    """L* of sRGB (..., 3, H, W) as (..., 1, H, W): how colour inputs are treated as gray."""
    return rgb_to_lab(rgb)[..., :1, :, :]
