"""Caffe HDF5 (official Larsson layout) -> state_dict: mapping, reshapes, checks, end to end."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from autocolor.errors import WeightsError
from autocolor.models import create_model
from autocolor.models.larsson import caffe_bilinear_kernel
from autocolor.weights.convert_caffe_h5 import convert_caffe_h5, convert_larsson_h5, read_caffe_h5

INNER_PRODUCT = ("h_fc1", "prediction_h", "prediction_c")  # stored 2-D, as Caffe InnerProduct


def _write_official_h5(path: Path, net: torch.nn.Module, *, extra: dict[str, list[np.ndarray]] | None = None,
                       drop: str | None = None) -> None:
    """Write ``net`` the way Caffe's save_hdf5 lays out the official file: /data/<layer>/<i>."""
    layers: dict[str, list[np.ndarray]] = {}
    for key, value in net.state_dict().items():
        layer, param = key.rsplit(".", 1)
        blob = value.numpy()
        if layer in INNER_PRODUCT and param == "weight":
            blob = blob.reshape(blob.shape[0], -1)
        layers.setdefault(layer, [None, None])[0 if param == "weight" else 1] = blob
    # The deploy file's fixed upsampling deconvolutions: one 1-channel and one grouped form.
    layers["conv4_1_full_reshaped"] = [caffe_bilinear_kernel(2).numpy()[None, None]]
    layers["prediction_h_full"] = [np.tile(caffe_bilinear_kernel(4).numpy(), (32, 1, 1, 1))]
    layers.update(extra or {})
    if drop:
        del layers[drop]
    with h5py.File(path, "w") as fh:
        data = fh.create_group("data")
        fh.create_group("diff")  # Caffe writes gradients too; they must be ignored
        for layer, blobs in layers.items():
            group = data.create_group(layer)
            for i, blob in enumerate(blobs):
                group.create_dataset(str(i), data=blob.astype(np.float32))


@pytest.fixture
def tiny_and_file(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    net = create_model("larsson.tiny")
    path = tmp_path / "autocolorize.caffemodel.h5"
    _write_official_h5(path, net)
    return net, path


def test_official_layout_loads_and_runs(tiny_and_file: tuple[torch.nn.Module, Path]) -> None:
    source, path = tiny_and_file
    state = convert_larsson_h5(path, arch="larsson.tiny")
    assert state["h_fc1.weight"].shape == source.h_fc1.weight.shape  # 2-D blob -> 1x1 conv
    target = create_model("larsson.tiny")
    target.load_state_dict(state, strict=True)
    lightness = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        torch.testing.assert_close(target(lightness), source(lightness))


def test_blobs_read_in_order(tiny_and_file: tuple[torch.nn.Module, Path]) -> None:
    source, path = tiny_and_file
    layers = read_caffe_h5(path)
    np.testing.assert_array_equal(layers["conv1_1"][0], source.conv1_1.weight.detach().numpy())
    np.testing.assert_array_equal(layers["conv1_1"][1], source.conv1_1.bias.detach().numpy())


def test_without_expected_shapes_inner_products_become_1x1(
    tiny_and_file: tuple[torch.nn.Module, Path],
) -> None:
    _, path = tiny_and_file
    state = convert_caffe_h5(path)
    assert state["prediction_c.weight"].shape == (32, 8, 1, 1)
    assert "conv4_1_full_reshaped.weight" not in state


def test_imported_through_the_manifest(tiny_and_file: tuple[torch.nn.Module, Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from autocolor import weights

    source, path = tiny_and_file
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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": {"batch_conv1_1": [np.zeros(4), np.ones(4), np.ones(1)]}}, "batch_conv1_1"),
        ({"extra": {"mystery": [np.zeros((2, 2))]}}, "not part of the network"),
        ({"extra": {"fc6_full": [np.ones((8, 1, 16, 16))]}}, "not a fixed bilinear upsampling"),
        ({"extra": {"conv1_1": [np.zeros((4, 1, 5, 5)), np.zeros(4)]}}, r"conv1_1\.weight has shape"),
        ({"drop": "fc7"}, "missing"),
    ],
)
def test_layout_mismatches_are_weights_errors(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "bad.caffemodel.h5"
    _write_official_h5(path, create_model("larsson.tiny"), **change)
    with pytest.raises(WeightsError, match=message):
        convert_larsson_h5(path, arch="larsson.tiny")


def test_not_an_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.caffemodel.h5"
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(WeightsError, match="fake.caffemodel.h5"):
        read_caffe_h5(path)
    with h5py.File(tmp_path / "empty.h5", "w") as fh:
        fh.create_group("weights")
    with pytest.raises(WeightsError, match="no /data group"):
        read_caffe_h5(tmp_path / "empty.h5")
