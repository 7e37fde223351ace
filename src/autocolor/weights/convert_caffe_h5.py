"""Caffe HDF5 weights (``*.caffemodel.h5``) -> a state_dict with autocolor's key names.

Which writer's layout this follows, and where it was read:

- **Caffe's** ``Net::ToHDF5`` (BVLC/caffe, ``src/caffe/net.cpp``; ``Solver`` snapshots and
  pycaffe's ``Net.save_hdf5`` both call it) creates ``/data`` (and ``/diff`` when gradients are
  saved) and, for *every* layer of the net, in net order, a group ``/data/<layer name>``. A layer
  with parameters gets one dataset per parameter blob named by its index, ``"0"``, ``"1"``, ...,
  with the blob's own N-d shape (``Dtype`` float32 for a float net); a layer without parameters
  (ReLU, Pooling, Dropout, Silence, Concat, Softmax, ...) gets an **empty group**. Blobs shared
  with another layer are not written.
- **The official deploy network** of Larsson et al. (gustavla/autocolorize,
  ``autocolorize/res/autocolorize.prototxt``) names its weighted layers ``conv1_1`` .. ``conv5_3``,
  ``fc6``, ``fc7``, ``h_fc1``, ``prediction_h``, ``prediction_c`` (all Convolution: weight
  ``(out, in, kh, kw)`` and bias ``(out,)``; 36 blobs, 147,041,024 values), and resamples the
  hypercolumn with ``*_full`` layers: ``data_full``, ``conv1_*_full``, ``conv2_*_full`` are AVE
  Pooling (no blobs), while ``conv4_*_full``, ``conv5_*_full``, ``fc6_full``, ``fc7_full``,
  ``prediction_h_full`` and ``prediction_c_full`` are grouped Deconvolutions with a fixed
  ``bilinear`` filler (``lr_mult: 0``, no bias): one blob ``(C, 1, 2f, 2f)`` for an x``f`` zoom.
  The published ``autocolorize.caffemodel.h5`` is 588,203,256 bytes: the 36 float32 blobs take
  588,164,096 of them, so it holds *no* upsampling blobs (they would add 8.9 MB) and its ``*_full``
  groups, if any, are empty. A file Caffe writes from the deploy net itself would hold them.

So: empty groups are skipped whatever their name (nothing to load); a ``*_full`` group that the
network computes itself (see :func:`fixed_upsampling_shapes`) may hold its one bilinear blob,
which is checked to be Caffe's bilinear filter and dropped; every other blob must be one the
network has, with its shape (an InnerProduct's 2-D ``(out, in)`` form is accepted for a 1x1 or
kxk convolution, Caffe's row order being the convolution's ``(in, kh, kw)``), and every
parameter of the network must be present. A violation is refused before any data is read, with
the blob's path (``/data/<layer>/<index>``). The file is read with h5py (datasets only; nothing
is executed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autocolor.errors import WeightsError
from autocolor.weights.convert import register_converter

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from autocolor.weights.manifest import WeightSpec

__all__ = [
    "convert_caffe_h5",
    "convert_larsson_h5",
    "expected_shapes",
    "fixed_upsampling_shapes",
    "read_caffe_h5",
    "read_caffe_h5_layout",
]

#: Caffe's blob order in Convolution / InnerProduct layers.
_PARAM_NAMES = ("weight", "bias")
#: Blob dtypes Caffe writes (float and double nets).
_FLOAT_DTYPES = ("float32", "float64")
#: Problems listed in one error message before "and N more".
_MAX_LISTED = 4

#: ``{layer: {blob name: (shape, dtype name)}}`` as stored under ``/data``.
Layout = dict[str, dict[str, tuple[tuple[int, ...], str]]]


def _open(path: Path) -> Any:
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a test dependency
        raise WeightsError(
            f"{path}: reading Caffe HDF5 weights needs h5py (pip install 'autocolor[larsson]')"
        ) from None
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise WeightsError(f"{path}: not a readable HDF5 file ({exc})") from None


def _data_group(fh: Any, path: Path) -> Any:
    import h5py

    data = fh.get("data")
    if not isinstance(data, h5py.Group):
        raise WeightsError(f"{path}: not a Caffe HDF5 weights file (no /data group)")
    if not len(data):
        raise WeightsError(f"{path}: the /data group holds no layers")
    return data


def read_caffe_h5_layout(path: str | Path) -> Layout:
    """Every layer group under ``/data`` with its blobs' shapes and dtypes; no data is read.

    Empty groups (weightless layers) appear with no blobs.
    """
    import h5py

    path = Path(path)
    layout: Layout = {}
    with _open(path) as fh:
        for layer, group in _data_group(fh, path).items():
            if not isinstance(group, h5py.Group):
                raise WeightsError(f"{path}: /data/{layer} is a dataset, not a layer group")
            layout[layer] = {
                name: (tuple(int(n) for n in blob.shape), str(blob.dtype))
                for name, blob in group.items()
                if isinstance(blob, h5py.Dataset)
            }
            nested = [name for name, blob in group.items() if not isinstance(blob, h5py.Dataset)]
            if nested:
                raise WeightsError(f"{path}: /data/{layer}/{nested[0]} is a group, not a blob")
    return layout


def read_caffe_h5(path: str | Path) -> dict[str, list[np.ndarray]]:
    """``{layer: [blob 0, blob 1, ...]}`` as float32 arrays, from ``/data`` (empty list: no weights)."""
    path = Path(path)
    order: dict[str, list[str]] = {}
    for layer, blobs in read_caffe_h5_layout(path).items():
        names = sorted(blobs, key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))
        if names != [str(i) for i in range(len(names))]:
            raise WeightsError(f"{path}: /data/{layer} has blobs {names}; Caffe names them 0, 1, ...")
        order[layer] = names
    with _open(path) as fh:
        data = fh["data"]
        return {layer: [np.asarray(data[layer][n], dtype=np.float32) for n in names] for layer, names in order.items()}


def _fits(shape: tuple[int, ...], need: tuple[int, ...]) -> bool:
    """Same shape, or an InnerProduct's ``(out, in)`` for a convolution ``(out, in, kh, kw)``."""
    if shape == need:
        return True
    return len(shape) == 2 and len(need) == 4 and shape == (need[0], math.prod(need[1:]))


def _layout_problems(
    layout: Layout, expected: Mapping[str, tuple[int, ...]], fixed: Mapping[str, tuple[int, ...]]
) -> list[str]:
    """Every blob the network cannot take and every parameter the file lacks, by blob path."""
    problems: list[str] = []
    seen: set[str] = set()  # parameters present in the file (with the right shape or not)
    for layer, blobs in layout.items():
        for name, (shape, dtype) in sorted(blobs.items()):  # an empty group: a weightless layer
            blob = f"/data/{layer}/{name}"
            if layer in fixed:
                if name != "0" or shape != fixed[layer]:
                    problems.append(f"blob {blob} {shape}: {layer} is a fixed bilinear upsampling, one blob 0 "
                                    f"of shape {fixed[layer]}")
                continue
            index = int(name) if name.isdigit() else -1
            key = f"{layer}.{_PARAM_NAMES[index]}" if 0 <= index < len(_PARAM_NAMES) else None
            if key is None or key not in expected:
                problems.append(f"unexpected blob {blob} {shape}: the network has no such parameter")
                continue
            seen.add(key)
            if not _fits(shape, expected[key]):
                problems.append(f"blob {blob} has shape {shape}, {key} needs {expected[key]}")
            elif dtype not in _FLOAT_DTYPES:
                problems.append(f"blob {blob} is {dtype}, not float32")
    for key, shape in expected.items():
        layer, param = key.rsplit(".", 1)
        if key not in seen:
            index = _PARAM_NAMES.index(param) if param in _PARAM_NAMES else param
            problems.append(f"missing blob /data/{layer}/{index} ({key}, shape {shape})")
    return problems


def convert_caffe_h5(
    path: str | Path,
    expected: Mapping[str, tuple[int, ...]],
    fixed: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, torch.Tensor]:
    """Read a Caffe HDF5 file into ``{"<layer>.weight": ..., "<layer>.bias": ...}`` for a network.

    Args:
        path: the ``.caffemodel.h5`` file.
        expected: the target network's ``{key: shape}``; every key must be in the file (as blob
            ``/data/<layer>/0`` for ``.weight``, ``1`` for ``.bias``) with that shape or, for a
            4-D weight, its 2-D InnerProduct form.
        fixed: ``{layer: shape}`` of upsampling layers the network computes itself; their blob,
            when present, must be Caffe's bilinear filter and is dropped.

    Returns:
        float32 tensors with exactly the keys and shapes of ``expected``.

    Raises:
        WeightsError: unreadable file, or a layout that does not match (the message lists the
            offending blobs by path, before any data is read), or a non-bilinear upsampling blob.
    """
    import torch

    path = Path(path)
    fixed = fixed or {}
    layout = read_caffe_h5_layout(path)
    problems = _layout_problems(layout, expected, fixed)
    if problems:
        more = f"; and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        count = f"{len(problems)} layout problems: " if len(problems) > 1 else ""
        raise WeightsError(f"{path}: {count}{'; '.join(problems[:_MAX_LISTED])}{more}")
    state: dict[str, torch.Tensor] = {}
    with _open(path) as fh:
        data = fh["data"]
        for layer, blobs in layout.items():
            if layer in fixed and blobs:
                if not _bilinear_ok(np.asarray(data[layer]["0"], dtype=np.float32)):
                    raise WeightsError(f"{path}: blob /data/{layer}/0 is not Caffe's fixed bilinear filter")
                continue
            for name in blobs:
                key = f"{layer}.{_PARAM_NAMES[int(name)]}"
                blob = np.asarray(data[layer][name], dtype=np.float32).reshape(expected[key])
                state[key] = torch.from_numpy(np.ascontiguousarray(blob))
    return state


def _bilinear_ok(blob: np.ndarray) -> bool:
    """Every channel's kernel is Caffe's ``bilinear`` filler for its size (``2f``: an x``f`` zoom)."""
    from autocolor.models.larsson import caffe_bilinear_kernel

    factor = (blob.shape[-1] + 1) // 2  # Caffe's kernel side is 2f - f % 2
    kernel = caffe_bilinear_kernel(factor).numpy()
    return kernel.shape == blob.shape[-2:] and bool(np.allclose(blob, kernel[None, None], atol=1e-5))


def expected_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a registered network, built on the meta device (no memory used)."""
    return {key: tuple(value.shape) for key, value in _meta_network(arch).state_dict().items()}


def fixed_upsampling_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """``{layer: blob shape}`` of the deploy net's fixed bilinear Deconvolutions for a Larsson ``arch``.

    A hypercolumn source coarser than the head's grid (stride 4) is zoomed by ``f = stride / 4``
    in a layer ``<source>_full`` with one blob ``(channels, 1, 2f, 2f)``; the two predictions are
    zoomed x4 back to the input (``prediction_h_full``, ``prediction_c_full``). Finer sources are
    average-pooled (no blob). Empty for a network without hypercolumn layers.
    """
    from autocolor.models.larsson import HYPERCOLUMN_STRIDE, caffe_bilinear_kernel

    net = _meta_network(arch)
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in getattr(net, "layers", ()):
        if layer.stride > HYPERCOLUMN_STRIDE:
            side = caffe_bilinear_kernel(layer.stride // HYPERCOLUMN_STRIDE).shape[0]
            shapes[f"{layer.name}_full"] = (layer.channels, 1, side, side)
    if shapes:
        side = caffe_bilinear_kernel(HYPERCOLUMN_STRIDE).shape[0]
        for head in ("prediction_h", "prediction_c"):
            bins = int(net.state_dict()[f"{head}.weight"].shape[0])
            shapes[f"{head}_full"] = (bins, 1, side, side)
    return shapes


def _meta_network(arch: str) -> Any:
    import torch

    from autocolor.models.registry import model_info

    with torch.device("meta"):
        return model_info(arch).factory()


def convert_larsson_h5(path: str | Path, arch: str = "larsson.vgg16") -> dict[str, torch.Tensor]:
    """Official ``autocolorize.caffemodel.h5`` -> state_dict for ``arch``, checked against it."""
    return convert_caffe_h5(path, expected_shapes(arch), fixed_upsampling_shapes(arch))


@register_converter("caffe_h5")
def _convert_caffe_h5(src: Path, spec: WeightSpec) -> dict[str, torch.Tensor]:
    return convert_larsson_h5(src, spec.arch)
