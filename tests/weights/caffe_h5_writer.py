"""Larsson et al.'s deploy network as Caffe's ``Net::ToHDF5`` would write it, for converter tests.

Read (not copied) from the official sources:

- the layer list, in order, with each layer's type: gustavla/autocolorize,
  ``autocolorize/res/autocolorize.prototxt`` (the deploy file; ``data`` is a net input, not a layer);
- the file layout: BVLC/caffe ``src/caffe/net.cpp``, ``Net::ToHDF5``: ``/data/<layer>`` for every
  layer, datasets ``"0"``, ``"1"``, ... for its parameter blobs with their own shapes, an empty group
  for a layer without parameters;
- the fixed upsampling weights: Caffe's ``BilinearFiller`` (``include/caffe/filler.hpp``):
  ``f = ceil(K / 2)``, ``c = (2f - 1 - f % 2) / 2f``, ``w(x, y) = (1 - |x/f - c|) (1 - |y/f - c|)``,
  the same ``(K, K)`` kernel for every channel of a ``(C, 1, K, K)`` blob.

Blobs can be :class:`Filled` (a dataset whose every value is the HDF5 fill value: nothing is
stored or written, so the full 147,041,024-value network costs a few kB on disk).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

#: ``(out, in, kh, kw)`` of every weighted layer of the deploy network (all Convolution layers).
OFFICIAL_WEIGHT_SHAPES: dict[str, tuple[int, int, int, int]] = {
    "conv1_1": (64, 1, 3, 3), "conv1_2": (64, 64, 3, 3),
    "conv2_1": (128, 64, 3, 3), "conv2_2": (128, 128, 3, 3),
    "conv3_1": (256, 128, 3, 3), "conv3_2": (256, 256, 3, 3), "conv3_3": (256, 256, 3, 3),
    "conv4_1": (512, 256, 3, 3), "conv4_2": (512, 512, 3, 3), "conv4_3": (512, 512, 3, 3),
    "conv5_1": (512, 512, 3, 3), "conv5_2": (512, 512, 3, 3), "conv5_3": (512, 512, 3, 3),
    "fc6": (4096, 512, 7, 7), "fc7": (4096, 4096, 1, 1),
    # 12,417 = the hypercolumn: data 1 + conv1 2x64 + conv2 2x128 + conv3 3x256 + conv4, conv5 6x512 + fc 2x4096
    "h_fc1": (1024, 12417, 1, 1),
    "prediction_h": (32, 1024, 1, 1), "prediction_c": (32, 1024, 1, 1),
}  # fmt: skip
#: ``(C, 1, K, K)`` of the deploy file's grouped bilinear Deconvolutions (``lr_mult: 0``, no bias).
OFFICIAL_UPSAMPLING_SHAPES: dict[str, tuple[int, int, int, int]] = {
    **{f"conv4_{i}_full": (512, 1, 4, 4) for i in (1, 2, 3)},
    **{f"conv5_{i}_full": (512, 1, 8, 8) for i in (1, 2, 3)},
    "fc6_full": (4096, 1, 16, 16), "fc7_full": (4096, 1, 16, 16),
    "prediction_h_full": (32, 1, 8, 8), "prediction_c_full": (32, 1, 8, 8),
}  # fmt: skip


def deploy_layers() -> list[tuple[str, str]]:
    """``(name, type)`` of every layer of the deploy prototxt, in file order (72 layers)."""
    layers: list[tuple[str, str]] = []
    for block, depth in enumerate((2, 2, 3, 3, 3), start=1):
        for i in range(1, depth + 1):
            layers += [(f"conv{block}_{i}", "Convolution"), (f"relu_conv{block}_{i}", "ReLU")]
        layers.append((f"pool{block}", "Pooling"))
    for fc in ("fc6", "fc7"):
        layers += [(fc, "Convolution"), (f"relu_{fc}", "ReLU"), (f"dropout_{fc}", "Dropout")]
    for source in ("data", "conv1_1", "conv1_2", "conv2_1", "conv2_2"):
        layers += [(f"{source}_full", "Pooling"), (f"{source}_full_silence", "Silence")]
    for source in ("conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "fc6", "fc7"):
        layers += [(f"{source}_full", "Deconvolution"), (f"{source}_full_silence", "Silence")]
    layers += [
        ("dense_hypercolumn", "Concat"), ("h_fc1", "Convolution"), ("relu_h_fc1", "ReLU"),
        ("prediction_h", "Convolution"), ("prediction_c", "Convolution"),
        ("prediction_h_softmax", "Softmax"), ("prediction_c_softmax", "Softmax"),
        ("prediction_h_full", "Deconvolution"), ("prediction_c_full", "Deconvolution"),
    ]  # fmt: skip
    return layers


@dataclass(frozen=True)
class Filled:
    """A blob of ``shape`` whose every value is ``value`` (stored as the HDF5 fill value only)."""

    shape: tuple[int, ...]
    value: float



def caffe_bilinear_blob(shape: tuple[int, int, int, int]) -> np.ndarray:
    """Caffe's ``BilinearFiller`` output for a ``(C, 1, K, K)`` blob, float32."""
    side = shape[-1]
    f = math.ceil(side / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    taps = 1.0 - np.abs(np.arange(side) / f - c)
    return np.broadcast_to(np.outer(taps, taps), shape).astype(np.float32)


def write_caffe_h5(
    path: Path,
    blobs: Mapping[str, Sequence[np.ndarray | Filled]],
    layers: Sequence[str] | None = None,
    *,
    with_diff: bool = False,
) -> None:
    """Write ``/data/<layer>/<i>`` for every layer of ``layers`` (default: the deploy list), in order.

    A layer without an entry in ``blobs`` gets an empty group, as Caffe writes weightless layers;
    entries of ``blobs`` for layers not in ``layers`` are appended after them. ``with_diff`` also
    writes the ``/diff`` tree Caffe adds when gradients are saved (zeros, same shapes).
    """
    names = list(layers if layers is not None else (name for name, _ in deploy_layers()))
    names += [name for name in blobs if name not in names]
    with h5py.File(path, "w") as fh:
        trees = [fh.create_group("data")] + ([fh.create_group("diff")] if with_diff else [])
        for tree_index, tree in enumerate(trees):
            for name in names:
                group = tree.create_group(name)
                for i, blob in enumerate(blobs.get(name, ())):
                    if isinstance(blob, Filled) or tree_index == 1:
                        shape = blob.shape
                        fill = blob.value if isinstance(blob, Filled) and tree_index == 0 else 0.0
                        group.create_dataset(str(i), shape=shape, dtype="<f4", fillvalue=fill)
                    else:
                        group.create_dataset(str(i), data=np.asarray(blob, dtype=np.float32))


def official_blobs(value_of: Mapping[str, float] | None = None) -> dict[str, list[np.ndarray | Filled]]:
    """The 36 blobs of the official network as :class:`Filled` constants: weight of layer ``k`` (in
    deploy order, from 1) holds ``k``, its bias ``-k`` unless ``value_of`` says otherwise."""
    out: dict[str, list[np.ndarray | Filled]] = {}
    for k, (layer, shape) in enumerate(OFFICIAL_WEIGHT_SHAPES.items(), start=1):
        values = value_of or {}
        out[layer] = [
            Filled(shape, values.get(f"{layer}.weight", float(k))),
            Filled((shape[0],), values.get(f"{layer}.bias", -float(k))),
        ]
    return out
