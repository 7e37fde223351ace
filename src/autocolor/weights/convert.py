"""Official weight formats -> a flat ``{name: tensor}`` state_dict -> safetensors.

A converter is ``fn(src_path, spec) -> dict[str, torch.Tensor]`` registered for a manifest
``format`` with :func:`register_converter`. This module provides ``"pth"`` (read with
``torch.load(weights_only=True)``, never a full unpickle) and ``"safetensors"``; families with
other official formats (Caffe HDF5, TF checkpoints, GCP dicts) register theirs from their own
modules, listed in ``_CONVERTER_MODULES`` so they are imported only when needed.

torch and safetensors are imported inside the functions so that reading the manifest (e.g.
``autocolor fetch-weights --list``) stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from autocolor.errors import WeightsError
from autocolor.weights.cache import atomic_writer

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from autocolor.weights.manifest import WeightSpec

__all__ = [
    "convert_to_safetensors",
    "get_converter",
    "read_state_dict_file",
    "register_converter",
]

Converter = Callable[[Path, "WeightSpec"], "dict[str, torch.Tensor]"]
_C = TypeVar("_C", bound=Converter)

_CONVERTERS: dict[str, Converter] = {}

#: format -> module whose import registers its converter (add one line per new format).
_CONVERTER_MODULES: dict[str, str] = {
    "caffe_h5": "autocolor.weights.convert_caffe_h5",
    "gcp_pth": "autocolor.weights.convert_gcp",
    "tf_ckpt": "autocolor.weights.convert_pic",
}

_PICKLE_SUFFIXES = {".pth", ".pt", ".bin", ".ckpt"}


def register_converter(fmt: str) -> Callable[[_C], _C]:
    """Decorator registering ``fn(src_path, spec) -> state_dict`` for manifest format ``fmt``."""

    def decorator(fn: _C) -> _C:
        if fmt in _CONVERTERS:
            raise ValueError(f"a converter for format {fmt!r} is registered twice")
        _CONVERTERS[fmt] = fn
        return fn

    return decorator


def get_converter(fmt: str) -> Converter:
    """The converter for ``fmt``, importing its module on first use."""
    if fmt not in _CONVERTERS and fmt in _CONVERTER_MODULES:
        importlib.import_module(_CONVERTER_MODULES[fmt])
    try:
        return _CONVERTERS[fmt]
    except KeyError:
        known = ", ".join(sorted(_CONVERTERS))
        raise WeightsError(f"no converter for weights format {fmt!r} yet (available: {known})") from None


def read_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` or pickled (``.pth``/``.pt``) state_dict onto the CPU.

    Pickles are loaded with ``weights_only=True`` (tensors and plain containers only); a
    top-level ``"state_dict"`` key (Lightning-style checkpoints) is unwrapped.

    Raises:
        WeightsError: missing file, unknown suffix, unreadable content, or non-tensor values.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return _read_safetensors(path)
    if suffix in _PICKLE_SUFFIXES:
        return _read_pickle(path)
    raise WeightsError(f"{path}: unsupported weights file type {suffix!r} (use .safetensors or .pth)")


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None


def _read_pickle(path: Path) -> dict[str, torch.Tensor]:
    import pickle

    import torch

    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses arbitrary objects: the safe outcome, reported in one line.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise WeightsError(f"{path}: refused to load (not plain tensors; weights_only): {first}") from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable PyTorch file ({exc})") from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    return _check_state_dict(obj, path)


def _check_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    import torch

    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path}: expected a state_dict (name -> tensor), got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: {len(bad)} entries are not named tensors (e.g. {bad[0]!r})")
    if not obj:
        raise WeightsError(f"{path}: the state_dict is empty")
    return dict(obj)


@register_converter("pth")
def _convert_pth(src: Path, spec: WeightSpec) -> dict[str, torch.Tensor]:
    # The original file is named <name>.part while downloading: dispatch on format, not suffix.
    return _read_pickle(src)


@register_converter("safetensors")
def _convert_safetensors(src: Path, spec: WeightSpec) -> dict[str, torch.Tensor]:
    return _read_safetensors(src)


def convert_to_safetensors(
    src: Path, spec: WeightSpec, dest: Path, metadata: Mapping[str, str] | None = None
) -> None:
    """Convert ``src`` (in ``spec.format``) to a safetensors file written atomically at ``dest``.

    Tensors are made contiguous and any storage shared between entries is copied, because
    safetensors stores each tensor on its own.
    """
    from safetensors.torch import save

    state = get_converter(spec.format)(Path(src), spec)
    seen: set[int] = set()
    flat: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        storage = tensor.untyped_storage().data_ptr()
        if tensor.numel() and storage in seen:
            tensor = tensor.clone()
        seen.add(storage)
        flat[key] = tensor
    try:
        # Serialised in memory (about the file's size) and written through one handle: portable.
        blob = save(flat, metadata=dict(metadata or {}))
    except (RuntimeError, ValueError) as exc:
        raise WeightsError(f"{spec.name}: cannot convert to safetensors ({exc})") from None
    with atomic_writer(dest) as (fh, _):
        fh.write(blob)
