"""Caffe HDF5 weights (``*.caffemodel.h5``) -> a state_dict with autocolor's key names.

Caffe's ``save_hdf5`` writes one group per layer under ``/data``: ``/data/<layer>/0`` is the
weight blob and ``/data/<layer>/1`` the bias. autocolor's Larsson networks name their modules
after the official layers, so the mapping is ``<layer>.weight`` / ``<layer>.bias`` with no
table; only two things need care:

- InnerProduct layers store 2-D weights ``(out, in)``; when the network holds a convolution there
  (``h_fc1`` and the predictions as 1x1 convs, ``fc6`` as a 7x7 conv) the blob is reshaped to the
  network's shape (Caffe's row order is the conv's ``(in, kh, kw)`` order).
- The fixed bilinear upsampling layers of the deploy file (``conv4_1_full``,
  ``prediction_h_full``, ``*_full_reshaped``, ...) carry weights (``lr_mult: 0``) that autocolor
  computes instead; they are checked to be Caffe's bilinear filter and skipped.

Any other layer is an error: a layer the network does not know means the file is not the
architecture we think it is. The file is read with h5py (datasets only; nothing is executed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from autocolor.errors import WeightsError
from autocolor.weights.convert import register_converter

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from autocolor.weights.manifest import WeightSpec

__all__ = ["convert_caffe_h5", "convert_larsson_h5", "read_caffe_h5"]

_PARAM_NAMES = ("weight", "bias")
# Upsampling deconvolutions of the deploy prototxt: fixed bilinear, recomputed by autocolor.
_FIXED_UPSAMPLING = re.compile(r"^.+_full(_reshaped)?$")


def read_caffe_h5(path: str | Path) -> dict[str, list[np.ndarray]]:
    """``{layer: [blob 0, blob 1, ...]}`` as float32 arrays, in blob order, from ``/data``."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a test dependency
        raise WeightsError(
            f"{path}: reading Caffe HDF5 weights needs h5py (pip install 'autocolor[larsson]')"
        ) from None
    path = Path(path)
    try:
        with h5py.File(path, "r") as fh:
            data = fh.get("data")
            if not isinstance(data, h5py.Group):
                raise WeightsError(f"{path}: not a Caffe HDF5 weights file (no /data group)")
            layers: dict[str, list[np.ndarray]] = {}
            for name, group in data.items():
                if not isinstance(group, h5py.Group):
                    raise WeightsError(f"{path}: /data/{name} is not a layer group")
                keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
                if any(not k.isdigit() for k in keys) or [int(k) for k in keys] != list(range(len(keys))):
                    raise WeightsError(f"{path}: /data/{name} has blobs {keys}, expected 0, 1, ...")
                layers[name] = [np.asarray(group[k], dtype=np.float32) for k in keys]
    except OSError as exc:
        raise WeightsError(f"{path}: not a readable HDF5 file ({exc})") from None
    if not layers:
        raise WeightsError(f"{path}: the /data group holds no layers")
    return layers


def _bilinear_ok(blob: np.ndarray) -> bool:
    from autocolor.models.larsson import caffe_bilinear_kernel

    if blob.ndim != 4 or blob.shape[-1] != blob.shape[-2] or blob.shape[1] != 1:
        return False
    factor = (blob.shape[-1] + 1) // 2
    kernel = caffe_bilinear_kernel(factor).numpy()
    return bool(np.allclose(blob, kernel[None, None], atol=1e-5))


def convert_caffe_h5(
    path: str | Path, expected: Mapping[str, tuple[int, ...]] | None = None
) -> dict[str, torch.Tensor]:
    """Read a Caffe HDF5 file into ``{"<layer>.weight": ..., "<layer>.bias": ...}``.

    Args:
        path: the ``.caffemodel.h5`` file.
        expected: the target network's ``{key: shape}``; when given, 2-D InnerProduct weights
            are reshaped to it and every key must be present with its exact shape.

    Raises:
        WeightsError: unreadable file, unknown layer, non-bilinear fixed upsampling, or a
            layout that does not match ``expected`` (the message names the layer).
    """
    import torch

    path = Path(path)
    state: dict[str, torch.Tensor] = {}
    for layer, blobs in read_caffe_h5(path).items():
        if _FIXED_UPSAMPLING.match(layer) and (expected is None or f"{layer}.weight" not in expected):
            if len(blobs) != 1 or not _bilinear_ok(blobs[0]):
                raise WeightsError(f"{path}: layer {layer!r} is not a fixed bilinear upsampling")
            continue
        if len(blobs) > len(_PARAM_NAMES):
            raise WeightsError(f"{path}: layer {layer!r} has {len(blobs)} blobs; expected weight and bias")
        for blob, param in zip(blobs, _PARAM_NAMES):
            key = f"{layer}.{param}"
            if expected is not None and key not in expected:
                raise WeightsError(f"{path}: layer {layer!r} is not part of the network")
            state[key] = torch.from_numpy(_reshape(blob, key, expected, path))
    if expected is not None:
        missing = [k for k in expected if k not in state]
        if missing:
            raise WeightsError(f"{path}: {len(missing)} parameters missing (e.g. {missing[0]})")
    return state


def _reshape(blob: np.ndarray, key: str, expected: Mapping[str, tuple[int, ...]] | None,
             path: Path) -> np.ndarray:
    if expected is None:
        # A 2-D weight is an InnerProduct over a 1x1 position: store it as a 1x1 conv.
        if blob.ndim == 2 and key.endswith(".weight"):
            blob = blob.reshape(*blob.shape, 1, 1)
        return np.ascontiguousarray(blob)
    shape = tuple(expected[key])
    if blob.shape != shape:
        if blob.size != int(np.prod(shape)) or blob.ndim != 2 or len(shape) != 4:
            raise WeightsError(f"{path}: {key} has shape {blob.shape}, the network needs {shape}")
        blob = blob.reshape(shape)
    return np.ascontiguousarray(blob)


def convert_larsson_h5(path: str | Path, arch: str = "larsson.vgg16") -> dict[str, torch.Tensor]:
    """Official ``autocolorize.caffemodel.h5`` -> state_dict for ``arch``, checked against it."""
    return convert_caffe_h5(path, expected_shapes(arch))


def expected_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a registered network, built on the meta device (no memory used)."""
    import torch

    from autocolor.models.registry import model_info

    with torch.device("meta"):
        net = model_info(arch).factory()
    return {key: tuple(value.shape) for key, value in net.state_dict().items()}


@register_converter("caffe_h5")
def _convert_caffe_h5(src: Path, spec: WeightSpec) -> dict[str, torch.Tensor]:
    return convert_caffe_h5(src, expected_shapes(spec.arch))
