"""Pure-torch deformable convolution against hand-computed cases (and torchvision when present)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from autocolor.models.gcp import deform
from autocolor.models.gcp.deform import deform_conv2d, deform_conv2d_torch


def _offsets(n: int, taps: int, h: int, w: int, dy: float, dx: float, groups: int = 1) -> torch.Tensor:
    off = torch.zeros(n, groups, taps, 2, h, w)
    off[:, :, :, 0], off[:, :, :, 1] = dy, dx
    return off.reshape(n, groups * 2 * taps, h, w)


def test_zero_offsets_and_unit_mask_equal_a_regular_convolution() -> None:
    torch.manual_seed(0)
    x, weight, bias = torch.randn(2, 4, 7, 6), torch.randn(5, 4, 3, 3), torch.randn(5)
    for stride, padding, dilation in [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 0, 1)]:
        expected = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
        h, w = expected.shape[-2:]
        offset = torch.zeros(2, 18, h, w)
        got = deform_conv2d_torch(x, offset, weight, bias, stride, padding, dilation, mask=torch.ones(2, 9, h, w))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(deform_conv2d_torch(x, offset, weight, bias, stride, padding, dilation), expected,
                                   rtol=1e-5, atol=1e-5)  # fmt: skip


def test_weight_groups_match_grouped_convolution() -> None:
    torch.manual_seed(1)
    x, weight = torch.randn(1, 6, 5, 5), torch.randn(4, 3, 3, 3)  # 2 weight groups
    got = deform_conv2d_torch(x, torch.zeros(1, 18, 5, 5), weight, padding=1)
    torch.testing.assert_close(got, F.conv2d(x, weight, padding=1, groups=2), rtol=1e-5, atol=1e-5)


def test_integer_offsets_shift_the_input() -> None:
    """dy = +1 for every tap reads one row lower: tap i of output row y reads row y + i, i.e. a
    valid conv over the input padded with 0 rows on top and 2 below; dx = -2 reads two columns
    to the left: 3 zero columns on the left and one column cropped on the right."""
    torch.manual_seed(2)
    x, weight = torch.randn(1, 3, 6, 7), torch.randn(2, 3, 3, 3)
    down = deform_conv2d_torch(x, _offsets(1, 9, 6, 7, 1.0, 0.0), weight, padding=1)
    torch.testing.assert_close(down, F.conv2d(F.pad(x, (1, 1, 0, 2)), weight), rtol=1e-5, atol=1e-5)
    left = deform_conv2d_torch(x, _offsets(1, 9, 6, 7, 0.0, -2.0), weight, padding=1)
    torch.testing.assert_close(left, F.conv2d(F.pad(x, (3, -1, 1, 1)), weight), rtol=1e-5, atol=1e-5)


def test_offset_channel_order_is_dy_dx_per_tap() -> None:
    """A 1x2 kernel [1, 10]: only tap 1 (the right one) moves, by dy = 1 (channel 2)."""
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    weight = torch.tensor([[[[1.0, 10.0]]]])
    offset = torch.zeros(1, 4, 3, 3)
    offset[:, 2] = 1.0  # tap 1, dy
    got = deform_conv2d_torch(x, offset, weight)
    rows_below = torch.cat((x[0, 0, 1:], torch.zeros(1, 4)))  # zeros past the bottom
    expected = x[0, 0, :, :3] + 10 * rows_below[:, 1:]
    torch.testing.assert_close(got[0, 0], expected)


def test_fractional_offset_interpolates_bilinearly_and_mask_scales() -> None:
    x = torch.tensor([[[[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]]])
    weight = torch.ones(1, 1, 1, 1)
    offset = torch.zeros(1, 2, 2, 3)
    offset[:, 0], offset[:, 1] = 0.5, 0.25  # dy, dx
    mask = torch.full((1, 1, 2, 3), 0.5)
    got = deform_conv2d_torch(x, offset, weight, mask=mask)[0, 0]
    # (0, 0) reads (0.5, 0.25): 0.5 * (0.75 * 0 + 0.25 * 2) + 0.5 * (0.75 * 6 + 0.25 * 8) = 3.5
    assert got[0, 0].item() == pytest.approx(0.5 * 3.5)
    # (0, 2) reads (0.5, 2.25): the right neighbours are outside (zero): 0.5*0.75*4 + 0.5*0.75*10
    assert got[0, 2].item() == pytest.approx(0.5 * (0.5 * 0.75 * 4 + 0.5 * 0.75 * 10))
    # (1, 1) reads (1.5, 1.25): the lower row is outside: 0.5 * (0.75 * 8 + 0.25 * 10)
    assert got[1, 1].item() == pytest.approx(0.5 * 0.5 * (0.75 * 8 + 0.25 * 10))


def test_offset_groups_move_their_own_channels() -> None:
    torch.manual_seed(3)
    x, weight = torch.randn(1, 4, 5, 5), torch.randn(1, 4, 1, 1)
    offset = torch.zeros(1, 4, 5, 5)
    offset[:, 2] = 1.0  # group 1 (channels 2, 3) reads one row lower; group 0 stays
    got = deform_conv2d_torch(x, offset, weight)
    shifted = x.clone()
    shifted[:, 2:] = torch.cat((x[:, 2:, 1:], torch.zeros(1, 2, 1, 5)), dim=2)
    torch.testing.assert_close(got, F.conv2d(shifted, weight), rtol=1e-5, atol=1e-5)


def test_gradients_reach_input_offset_mask_and_weight() -> None:
    torch.manual_seed(4)
    x = torch.randn(1, 2, 4, 4, requires_grad=True)
    offset = (torch.rand(1, 18, 4, 4) * 0.8 + 0.1).requires_grad_()
    mask = torch.rand(1, 9, 4, 4, requires_grad=True)
    weight = torch.randn(3, 2, 3, 3, requires_grad=True)
    deform_conv2d_torch(x, offset, weight, padding=1, mask=mask).square().sum().backward()
    for t in (x, offset, mask, weight):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_bad_offset_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        deform_conv2d_torch(torch.zeros(1, 2, 4, 4), torch.zeros(1, 17, 4, 4), torch.zeros(1, 2, 3, 3), padding=1)


def test_dispatcher_matches_the_pure_version() -> None:
    torch.manual_seed(5)
    x, weight, bias = torch.randn(1, 3, 5, 5), torch.randn(2, 3, 3, 3), torch.randn(2)
    offset, mask = torch.randn(1, 18, 5, 5), torch.rand(1, 9, 5, 5)
    torch.testing.assert_close(
        deform_conv2d(x, offset, weight, bias, padding=1, mask=mask),
        deform_conv2d_torch(x, offset, weight, bias, padding=1, mask=mask),
        rtol=1e-4, atol=1e-4,
    )  # fmt: skip
    assert deform.HAS_TORCHVISION == (deform._TORCHVISION_OP is not None)
