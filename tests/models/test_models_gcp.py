"""GCP networks: official state_dict layout, BigGAN layers, correspondence warp, composite, classes.

The full-size networks are only built on the meta device (shapes, no memory); behaviour is
tested on ``gcp.tiny``, which runs the same code at 64 px with a few channels.
"""

from __future__ import annotations

import pytest
import torch

from autocolor.color.lab import lab_to_rgb
from autocolor.errors import UsageError
from autocolor.models import create_model, model_info
from autocolor.models.gcp import OFFICIAL, TINY, GCPColorizer
from autocolor.models.gcp.choose import choose_classes
from autocolor.models.gcp.classes import class_name, class_names, parse_class, resolve_class
from autocolor.models.gcp.corr import warp_features
from autocolor.models.gcp.layers import SNLinear

# Shapes read from the official modules (GCP models/biggan.py, biggan_layers.py, ref_based_model.py,
# latent_deformator.py) for the default configuration; prefixes are the official object names.
OFFICIAL_SHAPES = {
    "biggan_gen.shared.weight": (1000, 128),
    "biggan_gen.linear.weight": (24576, 17),
    "biggan_gen.linear.u0": (1, 24576),
    "biggan_gen.linear.sv0": (1,),
    "biggan_gen.blocks.0.0.bn1.gain.weight": (1536, 145),
    "biggan_gen.blocks.0.0.bn1.gain.u0": (1, 1536),
    "biggan_gen.blocks.0.0.bn1.stored_mean": (1536,),
    "biggan_gen.blocks.0.0.conv_sc.weight": (1536, 1536, 1, 1),
    "biggan_gen.blocks.3.1.theta.weight": (48, 384, 1, 1),
    "biggan_gen.blocks.3.1.g.u0": (1, 192),
    "biggan_gen.blocks.3.1.gamma": (),
    "biggan_gen.blocks.5.0.conv2.weight": (96, 96, 3, 3),
    "biggan_gen.output_layer.0.gain": (96,),
    "biggan_gen.output_layer.0.stored_var": (96,),
    "biggan_gen.output_layer.2.weight": (3, 96, 3, 3),
    "biggan_gen.output_layer.2.u0": (1, 3),
    "biggan_dis.blocks.0.0.conv1.weight": (96, 3, 3, 3),
    "biggan_dis.blocks.0.0.conv_sc.weight": (96, 3, 1, 1),
    "biggan_dis.blocks.1.1.o.weight": (192, 96, 1, 1),
    "biggan_dis.blocks.6.0.conv2.weight": (1536, 1536, 3, 3),
    "biggan_dis.blocks.6.0.conv2.sv0": (1,),
    "biggan_dis.linear.weight": (1, 1536),
    "biggan_dis.embed.weight": (1000, 1536),
    "biggan_dis.embed.u0": (1, 1000),
    "biggan_enc.shared.weight": (1000, 128),
    "biggan_enc.blocks.0.0.conv1.weight": (64, 1, 3, 3),
    "biggan_enc.blocks.0.0.bn1.gain.weight": (1, 128),
    "biggan_enc.blocks.1.1.g.weight": (64, 128, 1, 1),
    "biggan_enc.blocks.6.0.conv2.weight": (1024, 1024, 3, 3),
    "biggan_enc.linear.weight": (120, 1024),
    "net_corr.private_layer.0.conv1.weight": (576, 576, 3, 3),
    "net_corr.private_layer.1.prelu.weight": (1,),
    "net_corr.share_layer.1.conv2.weight": (579, 579, 3, 3),
    "net_corr.theta.weight": (128, 579, 1, 1),
    "net_corr.phi.bias": (128,),
    "net_gen.encoder.1.weight": (64, 1, 7, 7),
    "net_gen.encoder.7.weight": (256, 128, 3, 3),
    "net_gen.res_blks.5.conv_1.weight": (256, 256, 3, 3),
    "net_gen.res_blks.5.norm_1.conv_cond.0.weight": (80, 640, 3, 3),
    "net_gen.res_blks.5.norm_1.conv_cond.2.weight": (384, 80, 3, 3),
    "net_gen.res_blks.0.norm_0.dcn.weight": (384, 384, 3, 3),
    "net_gen.res_blks.0.norm_0.dcn.bias": (384,),
    "net_gen.res_blks.0.norm_0.dcn.conv_offset.weight": (27, 384, 3, 3),
    "net_gen.res_blks.0.norm_0.mlp_gamma.weight": (256, 384, 3, 3),
    "net_gen.up_conv1.weight": (256, 128, 3, 3),
    "net_gen.up_norm2.dcn.weight": (192, 192, 3, 3),
    "net_gen.up_norm3.mlp_beta.weight": (64, 96, 3, 3),
    "net_gen.head.0.weight": (2, 64, 3, 3),
    "deformator.log_mat_half": (119, 119),
}
OFFICIAL_KEY_COUNTS = {"net_corr.": 24, "net_gen.": 216, "biggan_enc.": 104, "biggan_gen.": 194,
                       "biggan_dis.": 100, "deformator.": 1}  # fmt: skip
ABSENT = ("biggan_dis.blocks.6.0.conv_sc.weight", "biggan_enc.blocks.6.0.conv_sc.weight",
          "net_gen.res_blks.0.conv_s.weight", "net_gen.res_blks.0.norm_s.dcn.weight")  # fmt: skip


@pytest.fixture(scope="module")
def official_state() -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return GCPColorizer(OFFICIAL).state_dict()


@pytest.fixture
def tiny() -> GCPColorizer:
    torch.manual_seed(0)
    return create_model("gcp.tiny")


def _lightness(n: int = 2, side: int = 64, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 1, side, side, generator=torch.Generator().manual_seed(seed)) * 100


def test_official_layout_matches_the_published_files(official_state: dict[str, torch.Tensor]) -> None:
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(official_state[key].shape) == shape, key
    for prefix, count in OFFICIAL_KEY_COUNTS.items():
        assert sum(k.startswith(prefix) for k in official_state) == count, prefix
    assert len(official_state) == sum(OFFICIAL_KEY_COUNTS.values())
    assert not set(ABSENT) & set(official_state)
    # No torch-style spectral-norm names: BigGAN-PyTorch's u0 / sv0 buffers only.
    assert not any(k.endswith(("weight_orig", "weight_u", "weight_v", "running_mean")) for k in official_state)


def test_registry_metadata() -> None:
    info = model_info("gcp.imagenet")
    assert (info.output_kind, info.input_size, info.decoding, info.tiny) == ("gcp", 256, "gcp", False)
    assert model_info("gcp.tiny").tiny and model_info("gcp.tiny").input_size == TINY.resolution


def test_spectral_norm_is_one_power_step_from_u0_and_updates_only_in_training() -> None:
    torch.manual_seed(0)
    layer = SNLinear(5, 4, bias=False).eval()
    u = layer.u0.clone()
    w = layer.weight.detach()
    v = torch.nn.functional.normalize(u @ w, eps=1e-12)
    u_new = torch.nn.functional.normalize(v @ w.t(), eps=1e-12)
    sigma = (v @ w.t() @ u_new.t()).squeeze()
    torch.testing.assert_close(layer.normalized_weight(), w / sigma)
    assert torch.equal(layer.u0, u)  # eval: buffers untouched
    layer.train()
    for _ in range(100):
        layer.normalized_weight()
    top = torch.linalg.svdvals(w)[0]
    assert layer.sv0.item() == pytest.approx(top.item(), rel=1e-4)
    assert torch.linalg.svdvals(layer.normalized_weight().detach())[0].item() == pytest.approx(1.0, rel=1e-4)


def test_generator_renders_image_and_features_and_ignores_unused_latent(tiny: GCPColorizer) -> None:
    g = tiny.biggan_gen
    assert (g.num_slots, g.z_chunk_size, g.dim_z) == (5, 4, 20)
    z = torch.randn(2, 21)
    y = g.shared(torch.tensor([1, 2]))
    image, feats = g(z, y)
    assert image.shape == (2, 3, 64, 64) and image.abs().max() <= 1
    assert {r: tuple(f.shape[1:]) for r, f in feats.items()} == {16: (64, 16, 16), 32: (32, 32, 32), 64: (16, 64, 64)}
    z2 = z.clone()
    z2[:, 20] = 5.0  # past num_slots * chunk: ignored, as the official 120th value
    torch.testing.assert_close(g(z2, y)[0], image)
    z3 = z.clone()
    z3[:, 5] += 1.0  # a block's chunk: changes the image
    assert not torch.allclose(g(z3, y)[0], image)


def test_discriminator_scores_are_the_class_dependent_part_of_its_logit(tiny: GCPColorizer) -> None:
    d = tiny.biggan_dis
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    scores = d.class_scores(x)
    assert scores.shape == (2, TINY.n_classes)
    constant = d.linear(d.pooled(x))
    for c in range(TINY.n_classes):
        logit = d(x, torch.tensor([c, c]))
        torch.testing.assert_close(logit, constant + scores[:, c : c + 1], rtol=1e-4, atol=1e-4)
    feats = d.features(x[:, :1])  # a gray input is repeated to RGB
    assert feats.shape == (2, 6 * TINY.d_ch, 16, 16)


def test_warp_moves_prior_patches_to_the_correlated_cells() -> None:
    feature = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)  # 2x2 grid, s = 2
    identity = torch.eye(4)[None]
    torch.testing.assert_close(warp_features(identity, feature, (2, 2), (2, 2)), feature)
    swap = torch.eye(4)[[3, 2, 1, 0]][None]  # query cell i takes prior cell 3 - i
    warped = warp_features(swap, feature, (2, 2), (2, 2))
    torch.testing.assert_close(warped[0, :, :2, :2], feature[0, :, 2:, 2:])
    torch.testing.assert_close(warped[0, :, 2:, :2], feature[0, :, :2, 2:])
    half = torch.full((1, 1, 4), 0.25)  # one query cell averaging all four patches
    mean_patch = feature.reshape(1, 2, 2, 2, 2, 2).mean(dim=(2, 4))
    torch.testing.assert_close(warp_features(half, feature, (2, 2), (1, 1)), mean_patch)


def test_correlation_is_a_sharp_softmax_over_prior_positions(tiny: GCPColorizer) -> None:
    feats = torch.randn(1, 6 * TINY.d_ch, 8, 8)
    corr = tiny.net_corr.correlation(feats, feats)
    assert corr.shape == (1, 64, 64) and corr.dtype == torch.float32
    torch.testing.assert_close(corr.sum(-1), torch.ones(1, 64))
    tiny.net_corr.temperature = 1.0
    soft = tiny.net_corr.correlation(feats, feats)
    assert corr.max(-1).values.mean() > soft.max(-1).values.mean()  # T = 0.01 is much sharper


def test_tiny_colorizer_runs_and_keeps_priors_frozen(tiny: GCPColorizer) -> None:
    lightness = _lightness()
    ids = torch.tensor([3, 4])
    ab = tiny(lightness, ids)
    assert ab.shape == (2, 2, 64, 64) and ab.dtype == torch.float32
    assert ab.abs().max() <= 110 and torch.isfinite(ab).all()
    torch.testing.assert_close(tiny(lightness, ids), ab)  # deterministic
    tiny.train()
    assert tiny.net_gen.training and not any(m.training for p in tiny.priors() for m in p.modules())
    u_before = tiny.biggan_gen.linear.u0.clone()
    tiny(lightness, ids).sum().backward()
    assert torch.equal(tiny.biggan_gen.linear.u0, u_before)
    assert all(p.grad is None for prior in tiny.priors() for p in prior.parameters())
    assert tiny.net_corr.theta.weight.grad is not None and tiny.net_gen.head[0].weight.grad is not None
    with pytest.raises(ValueError, match="class ids"):
        tiny.invert(lightness, torch.tensor([0, TINY.n_classes]))


def test_encoder_sees_the_prior_resolution_whatever_the_input_size(tiny: GCPColorizer) -> None:
    small = _lightness(1, 32)
    big = torch.nn.functional.interpolate(small, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
    torch.testing.assert_close(tiny.invert(small, torch.tensor([1])), tiny.invert(big, torch.tensor([1])))
    assert tiny(small, torch.tensor([1])).shape == (1, 2, 32, 32)


def test_latent_shift_changes_the_colours(tiny: GCPColorizer) -> None:
    lightness, ids = _lightness(1), torch.tensor([2])
    base = tiny(lightness, ids)
    moved = tiny(lightness, ids, z_shift=tiny.deformator.shift(4, 16.0, tiny.latent_dim))
    assert (moved - base).abs().mean() > 1e-3


def test_deformator_directions_are_orthonormal_and_shift_pads() -> None:
    torch.manual_seed(0)
    net = create_model("gcp.tiny")
    dirs = net.deformator.directions()
    torch.testing.assert_close(dirs @ dirs.t(), torch.eye(dirs.shape[0]), atol=1e-5, rtol=0)
    shift = net.deformator.shift(3, -2.5, net.latent_dim)
    assert shift.shape == (net.latent_dim,)
    torch.testing.assert_close(shift[: net.deformator.dim], -2.5 * dirs[:, 3])
    one_hot = torch.zeros(1, net.deformator.dim)
    one_hot[0, 3] = -2.5
    torch.testing.assert_close(net.deformator(one_hot)[0], shift[: net.deformator.dim])  # official F.linear form
    with pytest.raises(ValueError, match="direction"):
        net.deformator.shift(net.deformator.dim, 1.0, net.latent_dim)


def test_reconstruction_error_is_zero_for_the_gray_image_itself(tiny: GCPColorizer) -> None:
    lightness = _lightness(1)
    zeros = torch.zeros_like(lightness)
    gray = lab_to_rgb(torch.cat((lightness, zeros, zeros), dim=1)) * 2 - 1
    prior = tiny.generate(torch.zeros(1, tiny.latent_dim), torch.tensor([0]))
    prior.image = gray
    assert tiny.reconstruction_error(lightness, prior).item() < 0.05
    prior.image = -gray
    assert tiny.reconstruction_error(lightness, prior).item() > 5


def test_class_choice_takes_the_best_reconstruction_among_the_projection_shortlist(
    tiny: GCPColorizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lightness = _lightness(2)
    ranking = torch.tensor([9.0, 1, 2, 3, 4, 5, 6, 8, 0, 10])  # classes 9, 0, 7, ... for both images
    monkeypatch.setattr(tiny, "class_scores", lambda light: ranking.repeat(len(light), 1))
    target = torch.tensor([7.0, 0.0])  # image 0 is best reconstructed as class 7, image 1 as class 0
    monkeypatch.setattr(
        tiny, "reconstruction_error", lambda light, prior: (prior.class_ids.float() - target).abs()
    )
    choice = choose_classes(tiny, lightness, candidates=3)
    assert choice.candidates.tolist() == [[9, 0, 7], [9, 0, 7]]
    assert choice.class_ids.tolist() == [7, 0]
    expected = tiny.generate(tiny.invert(lightness, choice.class_ids), choice.class_ids)
    torch.testing.assert_close(choice.prior.image, expected.image)
    torch.testing.assert_close(choice.prior.features[2], expected.features[2])
    assert choose_classes(tiny, lightness, candidates=1).class_ids.tolist() == [9, 9]  # projection only
    with pytest.raises(ValueError):
        choose_classes(tiny, lightness, candidates=0)


def test_class_scores_rank_with_the_discriminator_on_srgb_gray(tiny: GCPColorizer) -> None:
    lightness = _lightness(1)
    zeros = torch.zeros_like(lightness)
    gray = lab_to_rgb(torch.cat((lightness, zeros, zeros), dim=1)) * 2 - 1
    torch.testing.assert_close(tiny.class_scores(lightness), tiny.biggan_dis.class_scores(gray))


def test_imagenet_class_names() -> None:
    names = class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[999] == "toilet tissue"
    assert class_name(207) == "golden retriever" and class_name(281) == "tabby"
    assert resolve_class("Golden  Retriever") == 207
    assert resolve_class("n02123045") == 281 and resolve_class("tabby cat") == 281
    assert parse_class("388") == 388 and parse_class(5) == 5 and parse_class(None) is None
    with pytest.raises(UsageError, match="ambiguous"):
        resolve_class("crane")  # 134 the bird, 517 the machine
    with pytest.raises(UsageError, match="did you mean: 'golden retriever'"):
        resolve_class("golden retriver")
    with pytest.raises(UsageError, match="'chesapeake bay retriever'"):
        resolve_class("retriever")
    with pytest.raises(UsageError):
        resolve_class("golden retriever dog")
    with pytest.raises(UsageError, match="0-999|999"):
        parse_class("1000")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_tiny_colorizer_gives_the_same_result_on_cuda(tiny: GCPColorizer) -> None:
    lightness, ids = _lightness(1), torch.tensor([1])
    expected = tiny(lightness, ids)
    got = tiny.to("cuda")(lightness.cuda(), ids.cuda()).cpu()
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-2)
