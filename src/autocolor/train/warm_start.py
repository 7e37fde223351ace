"""Warm starts: begin a run from the weights of a related network, and freeze parts of it.

``[model] init`` names a ``.safetensors`` (or weights-only ``.pth``) file. It loads strictly by
default: every parameter present with its shape, nothing extra. With ``init_strict = false`` the
file may *lack* layers the network has, which is how a deeper variant grows from a shallower one
(``pic.deep128`` from ``pic.small128``). Those layers keep a fresh initialisation, and every
residual block among them that can (``zero_residual()``) starts as the identity, so the grown
network computes exactly what the file's network computed and training starts from its loss
rather than from noise ("zero-init residual", Goyal et al. 2017; Fixup). Layers in the file that
the network lacks, or of another shape, are still errors: that is a wrong file, not a smaller one.

``[model] freeze`` lists module names (``"embedding"``, ``"pixelcnn.shortrange_down_0"``) whose
parameters are not trained. Frozen modules also stay in eval mode, so their dropout is off and
they behave as they will at inference; no autograd graph is built through them, which is what
makes training a new head on a frozen trunk cheaper than training both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from autocolor.errors import UsageError, WeightsError
from autocolor.models.registry import load_weights_into


def warm_start(model: nn.Module, path: str | Path, *, strict: bool = True) -> list[str]:
    """Load ``path`` into ``model``; return the names of the modules it did not cover.

    With ``strict`` the file must fit exactly (the list is then empty). Without it, modules whose
    parameters are all absent from the file are listed; those with a ``zero_residual`` method
    have been made identities. A module only partly covered by the file is an error, since half
    a layer from elsewhere is never what a grown network means.
    """
    from autocolor import weights

    state = weights.read_state_dict_file(Path(path))
    if not strict and not state:
        raise WeightsError(f"{path}: holds no tensors")
    missing = set(load_weights_into(model, state, str(path), allow_missing=not strict))
    fresh: list[str] = []  # the largest modules none of whose tensors the file has
    for name, module in model.named_modules():  # parents come before their children
        if module is model or any(_inside(name, f) for f in fresh):
            continue
        # BatchNorm fills in an absent ``num_batches_tracked`` itself without reporting it
        # missing, so that counter says nothing about whether the file covers the module.
        keys = {f"{name}.{k}" for k in module.state_dict() if not k.endswith("num_batches_tracked")}
        if keys and keys <= missing:
            fresh.append(name)
    partial = sorted(k for k in missing if not any(_inside(k, f) for f in fresh))
    if partial:
        raise WeightsError(f"{path}: lacks only part of a layer (e.g. {partial[0]})")
    for name in fresh:
        zero = getattr(model.get_submodule(name), "zero_residual", None)
        if callable(zero):
            zero()
    return fresh


def _inside(key: str, module_name: str) -> bool:
    return key == module_name or key.startswith(module_name + ".")


def freeze(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    """Stop training the modules called ``names``; return them (see :func:`set_train_mode`)."""
    modules = dict(model.named_modules())
    frozen = []
    for name in names:
        if not name or name not in modules:
            top = ", ".join(n for n, _ in model.named_children())
            raise UsageError(f"model.freeze: the network has no module {name!r} (top level: {top})")
        for parameter in modules[name].parameters():
            parameter.requires_grad_(False)
        frozen.append(modules[name])
    if not any(p.requires_grad for p in model.parameters()):
        raise UsageError("model.freeze: nothing left to train")
    return frozen


def set_train_mode(model: nn.Module, frozen: Sequence[nn.Module]) -> None:
    """``model.train()``, except the frozen modules, which stay in eval mode."""
    model.train()
    for module in frozen:
        module.eval()
