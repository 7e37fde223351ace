"""Larsson networks: official layout, hypercolumn order, sum-of-slices head, sparse head, helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.color import lab2rgb

from autocolor.models import create_model, list_models, model_info
from autocolor.models.larsson import (
    VGG16_SPEC,
    LarssonNet,
    caffe_bilinear_kernel,
    caffe_bilinear_upsample,
    hypercolumn_layers,
    layer_shapes,
    lightness_to_gray,
    official_scale_factor,
    pad_to_canvas,
)

# Written out from the official deploy prototxt (gustavla/autocolorize, res/autocolorize.prototxt):
# layer name -> Caffe blob 0 (weight) shape; blob 1 (bias) has the first dimension.
OFFICIAL_VGG16 = [
    ("conv1_1", (64, 1, 3, 3)), ("conv1_2", (64, 64, 3, 3)),
    ("conv2_1", (128, 64, 3, 3)), ("conv2_2", (128, 128, 3, 3)),
    ("conv3_1", (256, 128, 3, 3)), ("conv3_2", (256, 256, 3, 3)), ("conv3_3", (256, 256, 3, 3)),
    ("conv4_1", (512, 256, 3, 3)), ("conv4_2", (512, 512, 3, 3)), ("conv4_3", (512, 512, 3, 3)),
    ("conv5_1", (512, 512, 3, 3)), ("conv5_2", (512, 512, 3, 3)), ("conv5_3", (512, 512, 3, 3)),
    ("fc6", (4096, 512, 7, 7)), ("fc7", (4096, 4096, 1, 1)),
    ("h_fc1", (1024, 12417, 1, 1)),
    ("prediction_h", (32, 1024, 1, 1)), ("prediction_c", (32, 1024, 1, 1)),
]  # fmt: skip
# The "dense_hypercolumn" Concat bottoms, in order, with their channels.
OFFICIAL_HYPERCOLUMN = [
    ("data", 1), ("conv1_1", 64), ("conv1_2", 64), ("conv2_1", 128), ("conv2_2", 128),
    ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv4_1", 512), ("conv4_2", 512),
    ("conv4_3", 512), ("conv5_1", 512), ("conv5_2", 512), ("conv5_3", 512),
    ("fc6", 4096), ("fc7", 4096),
]  # fmt: skip


def _meta_model(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return model_info(name).factory()


def test_vgg16_state_dict_matches_official_layer_table() -> None:
    net = _meta_model("larsson.vgg16")
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    expected = {}
    for layer, weight in OFFICIAL_VGG16:
        expected[f"{layer}.weight"] = weight
        expected[f"{layer}.bias"] = (weight[0],)
    assert shapes == expected
    assert sum(int(np.prod(s)) for s in shapes.values()) == 147_041_024
    assert {k: v[0] for k, v in layer_shapes(VGG16_SPEC).items()} == dict(OFFICIAL_VGG16)


def test_hypercolumn_order_is_official() -> None:
    layers = hypercolumn_layers(VGG16_SPEC)
    assert [(layer.name, layer.channels) for layer in layers] == OFFICIAL_HYPERCOLUMN
    assert sum(layer.channels for layer in layers) == 12_417
    assert [layer.stride for layer in layers] == [1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32]


def test_registry_metadata() -> None:
    info = model_info("larsson.vgg16")
    assert (info.output_kind, info.input_size, info.decoding) == ("hue_chroma", 512, "median")
    assert "larsson.small" in list_models()
    assert "larsson.tiny" not in list_models() and "larsson.tiny" in list_models(include_tiny=True)


@pytest.mark.parametrize("name", ["larsson.tiny", "larsson.small"])
def test_sum_of_slices_head_equals_concatenated_hypercolumn(name: str) -> None:
    torch.manual_seed(0)
    net = create_model(name).double()
    lightness = torch.rand(2, 1, 64, 96, dtype=torch.float64) * 100
    with torch.no_grad():
        fast = net(lightness)
        hypercolumn = net.dense_hypercolumn(lightness)
        naive = net.forward_naive(lightness)
    assert fast.shape == (2, 64, 16, 24)
    assert hypercolumn.shape[1] == net.h_fc1.in_channels
    torch.testing.assert_close(fast, naive, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["larsson.tiny", "larsson.small"])
def test_forward_backward_smoke(name: str) -> None:
    torch.manual_seed(0)
    net = create_model(name).train()
    out = net(torch.rand(2, 1, 64, 64) * 100)
    out.square().mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert net.conv1_1.weight.grad.abs().sum() > 0


def test_input_sides_must_be_multiples_of_32() -> None:
    net = create_model("larsson.tiny")
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.zeros(1, 1, 48, 64))


def test_sparse_head_equals_full_resolution_hypercolumn_at_pixels() -> None:
    torch.manual_seed(1)
    net = create_model("larsson.tiny").double()
    lightness = torch.rand(1, 1, 64, 96, dtype=torch.float64) * 100
    features = net.hypercolumn_features(lightness)
    # Reference: every layer bilinearly resized to full resolution, concatenated, 1x1 head.
    full = torch.cat([F.interpolate(f, size=(64, 96), mode="bilinear", align_corners=False)
                      if f.shape[-1] != 96 else f for f in features], dim=1)
    hidden = F.relu(net.h_fc1(full))
    reference = torch.cat((net.prediction_h(hidden), net.prediction_c(hidden)), dim=1)
    ys = torch.tensor([0, 5, 31, 63, 40])
    xs = torch.tensor([0, 95, 17, 2, 50])
    grid = torch.stack(((2 * xs.double() + 1) / 96 - 1, (2 * ys.double() + 1) / 64 - 1), dim=-1)[None]
    sparse = net.head_at_points(features, grid)
    torch.testing.assert_close(sparse[0], reference[0, :, ys, xs], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(net.head_dense(features, (64, 96)), reference, rtol=1e-9, atol=1e-9)


def test_caffe_bilinear_kernel_factor_two() -> None:
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(caffe_bilinear_kernel(2), torch.outer(taps, taps))


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_caffe_upsampling_is_bilinear_inside_and_fades_at_the_border(factor: int) -> None:
    torch.manual_seed(2)
    x = torch.rand(1, 3, 6, 5, dtype=torch.float64)
    up = caffe_bilinear_upsample(x, factor)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    margin = factor // 2
    torch.testing.assert_close(up[..., margin:-margin, margin:-margin],
                               ref[..., margin:-margin, margin:-margin])
    ones = caffe_bilinear_upsample(torch.ones(1, 1, 4, 4, dtype=torch.float64), factor)
    # The first output row sits 1/(2f) of a pixel outside the first input centre: weight 1 - ...
    expected_edge = 0.5 + 0.5 / factor
    assert ones[0, 0, 0, 2 * factor].item() == pytest.approx(expected_edge)


def test_lightness_to_gray_is_the_srgb_value_of_the_neutral_colour() -> None:
    lightness = torch.tensor([0.0, 12.5, 50.0, 87.0, 100.0]).view(1, 1, 1, 5)
    gray = lightness_to_gray(lightness).view(-1).numpy()
    lab = np.stack([lightness.view(-1).numpy(), np.zeros(5), np.zeros(5)], axis=-1)[None]
    expected = lab2rgb(lab)[0].mean(axis=-1)
    np.testing.assert_allclose(gray, expected, atol=1e-4)
    assert gray[0] == pytest.approx(0.0, abs=1e-6) and gray[-1] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("size", "scale"),
    [((1000, 800), 0.32), ((300, 1200), 500 / 1200), ((100, 120), 1.0), ((256, 500), 1.0),
     ((256, 501), 500 / 501)],
)
def test_official_scale_factor(size: tuple[int, int], scale: float) -> None:
    assert official_scale_factor(*size) == pytest.approx(scale)


def test_pad_to_canvas_centres_on_black() -> None:
    x = torch.arange(1.0, 1.0 + 3 * 5).view(1, 1, 3, 5)
    padded, (top, left) = pad_to_canvas(x, 64)
    assert padded.shape == (1, 1, 64, 64) and (top, left) == (30, 29)
    torch.testing.assert_close(padded[..., top:top + 3, left:left + 5], x)
    assert padded.sum() == x.sum()
    big, offset = pad_to_canvas(torch.ones(1, 1, 70, 40), 64)
    assert big.shape == (1, 1, 96, 64) and offset == (13, 12)


def test_layer_names_are_the_official_caffe_names_for_every_variant() -> None:
    for name in ("larsson.small", "larsson.tiny"):
        net = create_model(name)
        assert isinstance(net, LarssonNet)
        convs = {k.rsplit(".", 1)[0] for k in net.state_dict() if not k.startswith("batch_")}
        assert convs == {layer for layer, _ in OFFICIAL_VGG16}
