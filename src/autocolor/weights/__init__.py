"""Pretrained weights: pinned in weights.toml, verified, converted to safetensors, cached.

Typical use (what ``create_model(name, pretrained=True)`` does)::

    from autocolor import weights
    state = weights.load_state_dict("cic.eccv16")      # fetches + verifies on first use

Modules: :mod:`~autocolor.weights.manifest` (weights.toml -> :class:`WeightSpec`),
:mod:`~autocolor.weights.download` (https with resume, Hugging Face Hub),
:mod:`~autocolor.weights.cache` (cache layout, hashing, atomic writes),
:mod:`~autocolor.weights.convert` (official formats -> safetensors, converter registry),
:mod:`~autocolor.weights.store` (fetch / import / verify / load).

Importing this package does not import torch; reading a state_dict does.
"""

from __future__ import annotations

from autocolor.weights.cache import cache_dir
from autocolor.weights.convert import read_state_dict_file, register_converter
from autocolor.weights.manifest import Source, WeightSpec, manifest, manifest_path, spec
from autocolor.weights.store import (
    VerifyResult,
    cached_weights,
    fetch,
    import_file,
    load_state_dict,
    verify,
)

__all__ = [
    "Source",
    "VerifyResult",
    "WeightSpec",
    "cache_dir",
    "cached_weights",
    "fetch",
    "import_file",
    "load_state_dict",
    "manifest",
    "manifest_path",
    "read_state_dict_file",
    "register_converter",
    "spec",
    "verify",
]
