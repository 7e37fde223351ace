"""Caffe HDF5 -> state_dict on files laid out as Caffe writes Larsson et al.'s deploy network.

The fixtures (``caffe_h5_writer``) hold every layer of the official deploy prototxt in order,
weightless layers as empty groups. The full-size files store their 147,041,024 values as HDF5 fill
values (a distinct constant per blob), so they cost a few kB and no write time; only the one
test that loads them into ``larsson.vgg16`` reads all 588 MB.
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from caffe_h5_writer import (
    OFFICIAL_UPSAMPLING_SHAPES,
    OFFICIAL_WEIGHT_SHAPES,
    Filled,
    caffe_bilinear_blob,
    deploy_layers,
    official_blobs,
    write_caffe_h5,
)

from autocolor.errors import WeightsError
from autocolor.models import create_model
from autocolor.weights.convert_caffe_h5 import (
    convert_larsson_h5,
    expected_shapes,
    fixed_upsampling_shapes,
    read_caffe_h5,
    read_caffe_h5_layout,
)

OFFICIAL_VALUES = 147_041_024


def test_the_fixture_is_the_official_deploy_network() -> None:
    layers = deploy_layers()
    assert len(layers) == 72 and len({name for name, _ in layers}) == 72
    weighted = [name for name, kind in layers if kind == "Convolution"]
    assert weighted == list(OFFICIAL_WEIGHT_SHAPES)  # 18 layers, deploy order
    assert [n for n, kind in layers if kind == "Deconvolution"] == list(OFFICIAL_UPSAMPLING_SHAPES)
    sizes = [math.prod(s) + s[0] for s in OFFICIAL_WEIGHT_SHAPES.values()]
    assert 2 * len(sizes) == 36 and sum(sizes) == OFFICIAL_VALUES
    # The published file is 588,203,256 bytes: the 36 float32 blobs and 39,160 bytes of HDF5
    # structure; the 10 bilinear upsampling blobs (2,224,128 values, 8.9 MB) cannot be in it.
    upsampling = sum(math.prod(s) for s in OFFICIAL_UPSAMPLING_SHAPES.values())
    assert 588_203_256 - 4 * OFFICIAL_VALUES == 39_160 < 4 * upsampling


def test_the_converter_knows_the_official_shapes() -> None:
    expected = expected_shapes("larsson.vgg16")
    official = {f"{layer}.weight": shape for layer, shape in OFFICIAL_WEIGHT_SHAPES.items()}
    official |= {f"{layer}.bias": (shape[0],) for layer, shape in OFFICIAL_WEIGHT_SHAPES.items()}
    assert expected == official
    assert fixed_upsampling_shapes("larsson.vgg16") == OFFICIAL_UPSAMPLING_SHAPES


@pytest.mark.parametrize("upsampling", ["empty", "bilinear"])
def test_official_file_lands_in_larsson_vgg16_with_a_strict_load(tmp_path: Path, upsampling: str) -> None:
    """As published (upsampling groups empty) and as Caffe writes the deploy net (bilinear blobs)."""
    blobs = official_blobs()
    if upsampling == "bilinear":
        blobs |= {name: [caffe_bilinear_blob(shape)] for name, shape in OFFICIAL_UPSAMPLING_SHAPES.items()}
    path = tmp_path / "autocolorize.caffemodel.h5"
    write_caffe_h5(path, blobs)
    layout = read_caffe_h5_layout(path)
    assert len(layout) == 72 and sum(not blobs for blobs in layout.values()) == (72 - 18 - 10 * (upsampling != "empty"))

    state = convert_larsson_h5(path)
    assert len(state) == 36 and sum(t.numel() for t in state.values()) == OFFICIAL_VALUES
    with torch.device("meta"):
        net = create_model("larsson.vgg16")
    net.load_state_dict(state, strict=True, assign=True)  # keys and shapes checked, no copy
    for k, layer in enumerate(OFFICIAL_WEIGHT_SHAPES, start=1):
        weight, bias = getattr(net, layer).weight, getattr(net, layer).bias
        assert weight.dtype == torch.float32 and weight.device.type == "cpu"
        assert weight.min().item() == weight.max().item() == k, layer  # blob k landed in layer k
        assert bias.min().item() == bias.max().item() == -k, layer


def _refusal(tmp_path: Path, blobs: dict, **write: object) -> str:
    path = tmp_path / "bad.caffemodel.h5"
    write_caffe_h5(path, blobs, **write)  # type: ignore[arg-type]
    with pytest.raises(WeightsError) as info:
        convert_larsson_h5(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


def test_a_missing_blob_is_refused_by_name(tmp_path: Path) -> None:
    blobs = official_blobs()
    blobs["conv3_2"] = blobs["conv3_2"][:1]  # the bias is gone
    assert "missing blob /data/conv3_2/1 (conv3_2.bias, shape (256,))" in _refusal(tmp_path, blobs)
    blobs = official_blobs()
    del blobs["fc7"]  # fc7's group is written empty, as for a weightless layer
    message = _refusal(tmp_path, blobs)
    assert "missing blob /data/fc7/0 (fc7.weight" in message and "missing blob /data/fc7/1" in message


def test_a_renamed_blob_is_refused_by_name(tmp_path: Path) -> None:
    blobs = official_blobs()
    blobs["colorize_fc1"] = blobs.pop("h_fc1")  # the training net's name for h_fc1
    message = _refusal(tmp_path, blobs)
    assert "unexpected blob /data/colorize_fc1/0 (1024, 12417, 1, 1)" in message
    assert "missing blob /data/h_fc1/0 (h_fc1.weight" in message
    path = tmp_path / "renamed_in_group.h5"
    write_caffe_h5(path, official_blobs())
    with h5py.File(path, "a") as fh:
        fh["data/conv1_1"].move("1", "bias")
    with pytest.raises(WeightsError, match=r"unexpected blob /data/conv1_1/bias .*missing blob /data/conv1_1/1"):
        convert_larsson_h5(path)


def test_a_misshaped_blob_is_refused_by_name(tmp_path: Path) -> None:
    blobs = official_blobs()
    blobs["fc6"][0] = Filled((4096, 512, 3, 3), 1.0)  # fc6 as a 3x3 conv
    message = _refusal(tmp_path, blobs)
    assert "blob /data/fc6/0 has shape (4096, 512, 3, 3), fc6.weight needs (4096, 512, 7, 7)" in message
    assert "missing" not in message


def test_an_extra_blob_is_refused_by_name(tmp_path: Path) -> None:
    blobs = official_blobs()
    blobs["relu_conv1_1"] = [Filled((64,), 0.0)]  # a weightless layer that holds something
    blobs["conv1_1"].append(Filled((64,), 0.0))  # a third blob
    message = _refusal(tmp_path, blobs)
    assert "unexpected blob /data/conv1_1/2 (64,)" in message
    assert "unexpected blob /data/relu_conv1_1/0 (64,)" in message


def test_upsampling_blobs_must_be_caffe_bilinear(tmp_path: Path) -> None:
    blobs = official_blobs() | {"fc6_full": [Filled((4096, 1, 16, 16), 1.0)]}
    assert "/data/fc6_full/0 is not Caffe's fixed bilinear filter" in _refusal(tmp_path, blobs)
    blobs = official_blobs() | {"conv4_1_full": [caffe_bilinear_blob((512, 1, 8, 8))]}  # x4, not x2
    assert "blob /data/conv4_1_full/0 (512, 1, 8, 8): conv4_1_full is a fixed bilinear upsampling" in (
        _refusal(tmp_path, blobs)
    )
    blobs = official_blobs() | {"conv1_1_full": [caffe_bilinear_blob((64, 1, 8, 8))]}  # pooled, no weights
    assert "unexpected blob /data/conv1_1_full/0" in _refusal(tmp_path, blobs)


def test_not_a_caffe_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.caffemodel.h5"
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(WeightsError, match="fake.caffemodel.h5: not a readable HDF5 file"):
        convert_larsson_h5(path)
    with h5py.File(tmp_path / "empty.h5", "w") as fh:
        fh.create_group("weights")
    with pytest.raises(WeightsError, match="no /data group"):
        read_caffe_h5(tmp_path / "empty.h5")


# Small network, real values: the order of values inside every blob, and the network's outputs.


def _tiny_blobs(net: torch.nn.Module, inner_product: bool) -> dict[str, list[np.ndarray]]:
    blobs: dict[str, list[np.ndarray]] = {}
    for key, value in net.state_dict().items():
        layer, param = key.rsplit(".", 1)
        blob = value.numpy()
        if inner_product and param == "weight" and layer in ("h_fc1", "prediction_h", "prediction_c"):
            blob = blob.reshape(blob.shape[0], -1)  # as a Caffe InnerProduct stores it
        blobs.setdefault(layer, []).append(blob)
    for name, shape in fixed_upsampling_shapes("larsson.tiny").items():
        blobs[name] = [caffe_bilinear_blob(shape)]  # type: ignore[arg-type]
    return blobs


@pytest.mark.parametrize("inner_product", [False, True])
def test_tiny_network_round_trip(tmp_path: Path, inner_product: bool) -> None:
    torch.manual_seed(0)
    source = create_model("larsson.tiny")
    path = tmp_path / "tiny.caffemodel.h5"
    write_caffe_h5(path, _tiny_blobs(source, inner_product), with_diff=True)  # /diff is ignored
    np.testing.assert_array_equal(read_caffe_h5(path)["conv1_1"][0], source.conv1_1.weight.detach().numpy())
    target = create_model("larsson.tiny")
    target.load_state_dict(convert_larsson_h5(path, arch="larsson.tiny"), strict=True)
    lightness = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        torch.testing.assert_close(target(lightness), source(lightness))


def test_imported_through_the_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autocolor import weights

    torch.manual_seed(0)
    source = create_model("larsson.tiny")
    path = tmp_path / "tiny.caffemodel.h5"
    write_caffe_h5(path, _tiny_blobs(source, inner_product=False))
    manifest = tmp_path / "weights.toml"
    manifest.write_text(
        '[models."larsson.tiny"]\narch = "larsson.tiny"\nformat = "caffe_h5"\n'
        'licence = "BSD-3-Clause"\nsources = [{url = "https://example.invalid/a.caffemodel.h5"}]\n'
        f"bytes = {path.stat().st_size}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AUTOCOLOR_WEIGHTS_TOML", str(manifest))
    weights.import_file("larsson.tiny", path)
    net = create_model("larsson.tiny", pretrained=True, offline=True)
    lightness = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        torch.testing.assert_close(net(lightness), source(lightness))
