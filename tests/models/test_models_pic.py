"""PIC networks: registry entries, official layout, causality, TF-style layers, smoke tests."""

from __future__ import annotations

import pytest
import torch

from autocolor.models import create_model, list_models, model_info
from autocolor.models.pic import denormalize_ab, normalize_ab, normalize_lightness
from autocolor.models.pixelcnn_layers import WNConv2d, data_dependent_init


def test_registry_entries() -> None:
    info = model_info("pic.imagenet")
    assert (info.input_size, info.output_kind) == (128, "ab_mixture")
    assert (info.decoding, info.temperature) == ("sample", 1.0)
    assert model_info("pic.tiny").tiny and not model_info("pic.small").tiny
    assert {"pic.imagenet", "pic.small", "pic.small128", "pic.deep128"} <= set(list_models())
    assert "pic.tiny" not in list_models()


def test_small128_is_small_at_twice_the_resolution() -> None:
    """pic.small's weights load into pic.small128 (its training starts from them) and give a
    32x32 chroma grid at the 128x128 input, pic.imagenet's resolution."""
    assert (model_info("pic.small128").input_size, model_info("pic.small").input_size) == (128, 64)
    small = create_model("pic.small").eval()
    larger = create_model("pic.small128").eval()
    larger.load_state_dict(small.state_dict(), strict=True)
    lightness = torch.rand(1, 1, 128, 128) * 100
    ab = torch.zeros(1, 2, 32, 32)
    with torch.no_grad():
        assert torch.equal(larger(lightness, ab), small(lightness, ab))  # same layers, any size
        assert larger(lightness, ab).shape == (1, 80, 32, 32)


def test_deep128_is_small128_with_the_papers_pixelcnn_depth() -> None:
    """pic.deep128 has every pic.small128 tensor, same shapes, plus 4 more gated resnets in f."""
    with torch.device("meta"):
        small = {k: v.shape for k, v in create_model("pic.small128").state_dict().items()}
        deep = {k: v.shape for k, v in create_model("pic.deep128").state_dict().items()}
    assert all(deep[k] == shape for k, shape in small.items())
    added = {k.split(".")[1] for k in set(deep) - set(small)}
    assert added == {f"shortrange_down{s}_{k}" for k in (2, 3) for s in ("", "_right")}
    assert model_info("pic.deep128").input_size == 128


def test_imagenet_layout_matches_the_official_network() -> None:
    with torch.device("meta"):
        net = create_model("pic.imagenet")
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert sum(v.numel() for v in net.parameters()) == 110_602_272
    assert net.downsample == 4
    assert shapes["embedding.conv_leak.weight_v"] == (64, 2, 3, 3)  # gray + ones channel
    assert shapes["embedding.down_leak_12.conv1.weight_v"] == (512, 1024, 3, 3)
    assert shapes["embedding.downscale_leak_5.weight_v"] == (160, 512, 3, 3)
    assert shapes["pixelcnn.conv_down.weight_v"] == (160, 4, 2, 3)
    assert shapes["pixelcnn.conv_down_right.weight_v"] == (160, 4, 2, 1)
    assert shapes["pixelcnn.shortrange_down_3.conv_aux.weight_v"] == (160, 320, 1, 1)
    assert shapes["pixelcnn.shortrange_down_right_3.conv_aux.weight_v"] == (160, 640, 1, 1)
    assert shapes["pixelcnn.conv_last.weight_v"] == (80, 160, 1, 1)
    assert "pixelcnn.shortrange_down_4.conv1.weight_v" not in shapes
    assert "embedding.down_leak_13.conv1.weight_v" not in shapes


@pytest.mark.parametrize(("name", "size"), [("pic.tiny", 32), ("pic.small", 64)])
def test_forward_backward_smoke(name: str, size: int) -> None:
    torch.manual_seed(0)
    net = create_model(name).train()
    d = net.downsample
    lightness = torch.rand(2, 1, size, size) * 100
    ab = torch.randn(2, 2, size // d, size // d) * 30
    params, emb_params = net(lightness, ab, with_embedding=True)
    k = net.config.nr_mix
    assert params.shape == emb_params.shape == (2, 8 * k, size // d, size // d)
    (params.square().mean() + emb_params.square().mean()).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_output_depends_only_on_earlier_pixels() -> None:
    torch.manual_seed(1)
    net = create_model("pic.tiny")
    emb = net.embed(torch.rand(1, 1, 32, 32) * 100)
    canvas = torch.cat((torch.rand(1, 3, 8, 8) * 2 - 1, torch.ones(1, 1, 8, 8)), dim=1)
    base = net.pixelcnn(canvas, emb)
    i, j = 4, 3
    later = canvas.clone()
    later[:, :3, i, j:] = 5.0  # the pixel itself and everything after it in raster order
    later[:, :3, i + 1 :] = -5.0
    assert torch.allclose(net.pixelcnn(later, emb)[:, :, i, j], base[:, :, i, j], atol=1e-6)
    earlier = canvas.clone()
    earlier[:, :3, i, j - 1] = 5.0  # the left neighbour must matter
    assert not torch.allclose(net.pixelcnn(earlier, emb)[:, :, i, j], base[:, :, i, j], atol=1e-4)
    above = canvas.clone()
    above[:, :3, i - 1, j + 1] = 5.0  # so must the pixel above right
    assert not torch.allclose(net.pixelcnn(above, emb)[:, :, i, j], base[:, :, i, j], atol=1e-4)


def test_first_pixel_sees_no_canvas() -> None:
    torch.manual_seed(2)
    net = create_model("pic.tiny")
    emb = net.embed(torch.rand(1, 1, 32, 32) * 100)
    one = torch.cat((torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8)), dim=1)
    two = torch.cat((torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8)), dim=1)
    assert torch.allclose(net.pixelcnn(one, emb)[:, :, 0, 0], net.pixelcnn(two, emb)[:, :, 0, 0], atol=1e-6)


def test_strided_same_padding_follows_tensorflow() -> None:
    conv = WNConv2d(1, 1, (3, 3), stride=2)
    assert conv.pad_amounts(32, 32) == (0, 1, 0, 1)  # TF puts the odd pixel after
    assert conv.pad_amounts(7, 7) == (1, 1, 1, 1)
    dilated = WNConv2d(1, 1, (3, 3), dilation=4)
    assert dilated.pad_amounts(8, 8) == (4, 4, 4, 4)
    # With (0, 1) padding the centre tap of output (0, 0) reads input (1, 1), not (0, 0).
    with torch.no_grad():
        conv.weight_v.zero_()
        conv.weight_v[0, 0, 1, 1] = 1.0
        x = torch.zeros(1, 1, 4, 4)
        x[0, 0, 1, 1] = 1.0
        assert conv(x)[0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_weight_norm_gives_each_filter_norm_g() -> None:
    conv = WNConv2d(3, 5, (2, 3), padding="down")
    with torch.no_grad():
        conv.weight_g.copy_(torch.arange(1.0, 6.0))
    norms = conv.weight().flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.arange(1.0, 6.0))


def test_data_dependent_init_standardises_outputs() -> None:
    torch.manual_seed(3)
    net = create_model("pic.tiny")
    lightness = torch.rand(4, 1, 32, 32) * 100
    with torch.no_grad(), data_dependent_init(net):
        net(lightness, torch.randn(4, 2, 8, 8) * 30)
    first = net.embedding.conv_leak
    norm = normalize_lightness(lightness)
    out = first(torch.cat((norm, torch.ones_like(norm)), dim=1))
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(8), atol=1e-4)
    assert torch.allclose(out.std(dim=(0, 2, 3), unbiased=False), torch.ones(8), atol=1e-3)
    assert not first.data_init


def test_ab_normalisation_puts_levels_on_integers() -> None:
    levels = torch.linspace(-1, 1, 256).view(1, 1, 256, 1).expand(1, 2, 256, 1)
    lab = denormalize_ab(levels)
    assert lab[0, 0, 0, 0] == -127 and lab[0, 0, -1, 0] == 128
    assert lab[0, 1, 0, 0] == -128 and lab[0, 1, -1, 0] == 127
    assert torch.allclose(lab, lab.round(), atol=1e-4)
    assert torch.allclose(normalize_ab(lab), levels, atol=1e-6)


def test_bad_input_sizes_are_rejected() -> None:
    net = create_model("pic.tiny")
    with pytest.raises(ValueError, match="multiple of 4"):
        net.embed(torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match="chroma resolution"):
        net(torch.zeros(1, 1, 32, 32), torch.zeros(1, 2, 16, 16))
