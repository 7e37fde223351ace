"""Model registry: names -> network constructors and their metadata (timm style).

Names are ``family.variant`` (``cic.eccv16``). Families register their constructors
with :func:`register_model` when :mod:`autocolor.models` imports them explicitly (no
directory scanning). Weight sources, checksums and licences live in ``weights.toml``;
this module only knows what a network *is* (input size, output kind, default decoding).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from autocolor.errors import UnknownModelError, WeightsError
from autocolor.names import canonical_model_name


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know about a registered architecture.

    Attributes:
        name: registry name, e.g. ``"cic.eccv16"``.
        factory: builds the network with random weights.
        output_kind: what ``forward`` returns (see docs/architecture.md), e.g. ``"ab_bins"``.
        input_size: side in pixels the network expects its L* input resized to.
        decoding: default decoder name for ``output_kind`` (e.g. ``"annealed_mean"``).
        temperature: default decoding temperature (CIC annealed mean: 0.38).
        decode_extra: default ``DecodeOptions.extra`` of the model's decoder (e.g. PIC's
            ``{"mixture_temperature": 0.9}``); options a caller gives take precedence.
        tiny: a small random variant for tests; hidden from ``list_models()`` by default.
        description: one line for ``--list`` style output.
    """

    name: str
    factory: Callable[..., nn.Module]
    output_kind: str
    input_size: int
    decoding: str
    temperature: float = 1.0
    decode_extra: Mapping[str, Any] = field(default_factory=dict)
    tiny: bool = False
    description: str = ""


_REGISTRY: dict[str, ModelInfo] = {}


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""
_F = TypeVar("_F", bound=Callable[..., nn.Module])


def register_model(
    name: str,
    *,
    output_kind: str,
    input_size: int,
    decoding: str,
    temperature: float = 1.0,
    decode_extra: Mapping[str, Any] | None = None,
    tiny: bool = False,
    description: str = "",
) -> Callable[[_F], _F]:
    """Decorator registering ``factory`` under ``name``; a duplicate name is a bug."""

    def decorator(factory: _F) -> _F:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelInfo(
            name=name,
            factory=factory,
            output_kind=output_kind,
            input_size=input_size,
            decoding=decoding,
            temperature=temperature,
            decode_extra=dict(decode_extra or {}),
            tiny=tiny,
            description=description or _first_line(factory.__doc__),
        )
        return factory

    return decorator


def _ensure_families_imported() -> None:
    # Importing the package registers every family (explicit list in models/__init__.py).
    import autocolor.models  # noqa: F401


def list_models(include_tiny: bool = False) -> list[str]:
    """Sorted registered names; tiny test variants only when ``include_tiny``."""
    _ensure_families_imported()
    return sorted(n for n, info in _REGISTRY.items() if include_tiny or not info.tiny)


def model_info(name: str) -> ModelInfo:
    """Metadata of ``name``; raises :class:`UnknownModelError` with the known names."""
    _ensure_families_imported()
    try:
        return _REGISTRY[canonical_model_name(name)]
    except KeyError:
        known = ", ".join(list_models())
        raise UnknownModelError(f"unknown model {name!r}; known models: {known}") from None


def load_weights_into(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str, *, allow_missing: bool = False
) -> list[str]:
    """Load ``state_dict``, turning a layout mismatch into a :class:`WeightsError`.

    Every tensor must belong to the network, with its shape. Tensors of the network that the file
    lacks are an error too, unless ``allow_missing`` (a grown network, ``autocolor.train.warm_start``);
    they are returned, and keep their current values.
    """
    own = model.state_dict()
    misfit = [k for k, v in state_dict.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if misfit:  # checked first: torch would raise a bare RuntimeError for it
        k = misfit[0]
        raise WeightsError(
            f"{source}: weights do not fit the network: {k} has shape {tuple(state_dict[k].shape)}, "
            f"the network {tuple(own[k].shape)}"
        )
    result = model.load_state_dict(dict(state_dict), strict=False)
    problems = []
    if result.missing_keys and not allow_missing:
        problems.append(f"missing {len(result.missing_keys)} keys (e.g. {result.missing_keys[0]})")
    if result.unexpected_keys:
        problems.append(
            f"{len(result.unexpected_keys)} tensors the network does not have (e.g. {result.unexpected_keys[0]})"
        )
    if problems:
        raise WeightsError(f"{source}: weights do not fit the network: " + "; ".join(problems))
    return list(result.missing_keys)


def create_model(
    name: str,
    pretrained: bool | str | Path = False,
    *,
    offline: bool = False,
    **kwargs: object,
) -> nn.Module:
    """Build a registered network, optionally with pretrained weights.

    Args:
        name: registry name (``list_models()``).
        pretrained: ``False`` for random weights; ``True`` for the verified weights that
            ``weights.toml`` pins for ``name`` (bundled or fetched into the cache); a path to a
            ``.safetensors`` / ``.pth`` file to load that file instead (still loaded strictly and
            never unpickled beyond tensors).
        offline: with ``pretrained=True``, never download; fail if the weights are not cached.
        kwargs: passed to the constructor (e.g. width for tiny variants).

    Returns:
        The network in eval mode with ``model.model_info`` set to its :class:`ModelInfo`.
    """
    info = model_info(name)
    model = info.factory(**kwargs)
    if pretrained:
        from autocolor import weights

        if pretrained is True:
            state = weights.load_state_dict(info.name, offline=offline)
            source = info.name
        else:
            state = weights.read_state_dict_file(Path(pretrained))
            source = str(pretrained)
        load_weights_into(model, state, source)
    model.model_info = info  # type: ignore[assignment]
    return model.eval()
