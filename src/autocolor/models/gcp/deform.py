"""Modulated deformable convolution (DCNv2) with ``torchvision.ops.deform_conv2d`` semantics.

GCP's SPADE layers use ``torchvision.ops.deform_conv2d``. torchvision is optional here (its PyPI
wheels are built against one torch release and often fail to import beside another), so
:func:`deform_conv2d` uses torchvision's kernel when it imports and :func:`deform_conv2d_torch`,
a pure-torch implementation of the same operation, otherwise. Both run on any device.

Layouts (identical to torchvision):

- ``input`` ``(N, C, H, W)``; ``weight`` ``(C_out, C / weight_groups, kh, kw)``.
- ``offset`` ``(N, 2 * G * kh * kw, H_out, W_out)`` with ``G`` offset groups; inside group ``g``
  the channel ``g * 2 * kh * kw + 2 * k`` is the **vertical** offset (dy) and ``... + 2 * k + 1``
  the horizontal one (dx) of kernel position ``k = i * kw + j`` (row-major).
- ``mask`` (optional modulation) ``(N, G * kh * kw, H_out, W_out)``, channel ``g * kh * kw + k``.
- Input channel ``c`` belongs to offset group ``c // (C / G)``.

Kernel tap ``(i, j)`` of output pixel ``(y, x)`` reads the input at
``(y * stride_h - pad_h + i * dil_h + dy, x * stride_w - pad_w + j * dil_w + dx)`` by bilinear
interpolation, with zeros outside the image; the value is multiplied by the mask and convolved
with the weight.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["HAS_TORCHVISION", "deform_conv2d", "deform_conv2d_torch"]

IntPair = int | tuple[int, int]


def _load_torchvision() -> Callable[..., torch.Tensor] | None:
    try:
        from torchvision.ops import deform_conv2d as tv_deform_conv2d
    except Exception:  # noqa: BLE001 - a wheel built for another torch fails in many ways
        return None
    return tv_deform_conv2d


_TORCHVISION_OP = _load_torchvision()
#: True when ``torchvision.ops.deform_conv2d`` imported and is used by :func:`deform_conv2d`.
HAS_TORCHVISION = _TORCHVISION_OP is not None


def _pair(value: IntPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def deform_conv2d(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Deformable convolution: torchvision's kernel if available, else :func:`deform_conv2d_torch`."""
    if _TORCHVISION_OP is not None:
        return _TORCHVISION_OP(
            input, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask
        )
    return deform_conv2d_torch(input, offset, weight, bias, stride, padding, dilation, mask)


def deform_conv2d_torch(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pure-torch deformable convolution (see the module docstring for layouts and semantics).

    Every kernel tap of every output pixel is sampled with one ``grid_sample`` call (bilinear,
    zero padding), the samples are modulated by ``mask`` and contracted with ``weight`` in one
    matmul per weight group, i.e. an im2col of ``C * kh * kw * H_out * W_out`` values. Autograd
    flows to input, offset, mask, weight and bias.

    Returns:
        ``(N, C_out, H_out, W_out)`` in the input's dtype.
    """
    (stride_h, stride_w), (pad_h, pad_w), (dil_h, dil_w) = _pair(stride), _pair(padding), _pair(dilation)
    n, channels, height, width = input.shape
    out_channels, channels_per_group, kh, kw = weight.shape
    taps = kh * kw
    out_h = (height + 2 * pad_h - (dil_h * (kh - 1) + 1)) // stride_h + 1
    out_w = (width + 2 * pad_w - (dil_w * (kw - 1) + 1)) // stride_w + 1
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"deform_conv2d: input {height}x{width} is too small for the kernel")
    if channels % channels_per_group:
        raise ValueError(f"deform_conv2d: {channels} input channels do not split into groups of {channels_per_group}")
    weight_groups = channels // channels_per_group
    if offset.shape[1] % (2 * taps) or offset.shape[0] != n or tuple(offset.shape[2:]) != (out_h, out_w):
        raise ValueError(
            f"deform_conv2d: offset has shape {tuple(offset.shape)}, expected "
            f"({n}, 2 * groups * {taps}, {out_h}, {out_w})"
        )
    groups = offset.shape[1] // (2 * taps)
    if channels % groups:
        raise ValueError(f"deform_conv2d: {channels} input channels do not split into {groups} offset groups")
    if mask is not None and tuple(mask.shape) != (n, groups * taps, out_h, out_w):
        raise ValueError(f"deform_conv2d: mask has shape {tuple(mask.shape)}, expected ({n}, {groups * taps}, {out_h}, {out_w})")

    dtype, device = input.dtype, input.device
    # Undeformed sampling positions of every tap, (taps, out_h, out_w) each.
    rows = torch.arange(out_h, device=device, dtype=dtype) * stride_h - pad_h
    cols = torch.arange(out_w, device=device, dtype=dtype) * stride_w - pad_w
    tap_rows = torch.arange(kh, device=device, dtype=dtype).repeat_interleave(kw) * dil_h
    tap_cols = torch.arange(kw, device=device, dtype=dtype).repeat(kh) * dil_w
    base_y = (tap_rows[:, None, None] + rows[None, :, None]).expand(taps, out_h, out_w)
    base_x = (tap_cols[:, None, None] + cols[None, None, :]).expand(taps, out_h, out_w)

    offset = offset.to(dtype).reshape(n, groups, taps, 2, out_h, out_w)
    pos_y = base_y + offset[:, :, :, 0]  # (n, groups, taps, out_h, out_w), input pixel units
    pos_x = base_x + offset[:, :, :, 1]
    # grid_sample with align_corners=False maps pixel p to (2p + 1) / size - 1; valid for size 1 too.
    grid = torch.stack(((2 * pos_x + 1) / width - 1, (2 * pos_y + 1) / height - 1), dim=-1)
    grid = grid.reshape(n * groups, taps * out_h, out_w, 2)
    sampled = F.grid_sample(
        input.reshape(n * groups, channels // groups, height, width),
        grid,
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )  # (n * groups, C / groups, taps * out_h, out_w)
    sampled = sampled.reshape(n, groups, channels // groups, taps, out_h * out_w)
    if mask is not None:
        sampled = sampled * mask.to(dtype).reshape(n, groups, 1, taps, out_h * out_w)

    # im2col layout (n, weight_groups, C/wg * taps, L) against weight (wg, C_out/wg, C/wg * taps).
    columns = sampled.reshape(n, weight_groups, channels_per_group * taps, out_h * out_w)
    kernel = weight.reshape(weight_groups, out_channels // weight_groups, channels_per_group * taps)
    out = torch.matmul(kernel.to(dtype), columns).reshape(n, out_channels, out_h, out_w)
    if bias is not None:
        out = out + bias.to(dtype).reshape(1, -1, 1, 1)
    return out
