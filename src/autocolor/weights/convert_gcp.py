"""GCP's official files -> :class:`~autocolor.models.gcp.GCPColorizer` state_dict parts
(manifest format ``"gcp_pth"``).

GCP ships five PyTorch pickles (read with ``torch.load(weights_only=True)`` only); each becomes
the keys of one or two submodules of the composite network:

- ``colorization_model.pth``: ``{"net_corr": state_dict, "net_gen": state_dict}`` (other
  entries are ignored) -> ``net_corr.*``, ``net_gen.*``;
- ``biggan_E.pth``: the encoder's state_dict -> ``biggan_enc.*``;
- ``biggan_G_ema_256.pth``: BigGAN generator (EMA) state_dict, from DGP -> ``biggan_gen.*``;
- ``biggan_D_256.pth``: BigGAN discriminator state_dict, from DGP -> ``biggan_dis.*``;
- ``deformator_for_biggan.pt``: ``{"log_mat_half": (119, 119)}`` -> ``deformator.*``.

Which writer's layout this follows, and where it was read: the official inference code
(ToTheBeginning/GCP-Colorization ``solvers/refcolor_solver.py``, ``solvers/base_solver.py``,
``config/defaults.py``) loads each BigGAN file with ``module.load_state_dict(torch.load(path))``
(strict: the file is exactly that module's ``state_dict()``, BigGAN-PyTorch's spectral-norm
``u0`` / ``sv0`` buffers included, no ``module.`` prefix) and the colorization file as
``ckp[name]`` for each solver attribute ``net_*`` (``net_corr``, ``net_gen``). The generator and
discriminator come from DGP (XingangPan/deep-generative-prior, "pytorch>=1.0.1", BigGAN-PyTorch's
``torch.save(G.state_dict())``), i.e. possibly torch's legacy (pre-1.6, non-zip) serialisation;
the deformator is GANLatentDiscovery's ``torch.save(deformator.state_dict())``
(anvoynov/GANLatentDiscovery ``trainer.py``), ``{"log_mat_half": (d, d)}`` for the ORTHO type.
Both serialisations are read (``torch.load`` detects the format); tensors saved from CUDA are
mapped to the CPU. The tests write these files the same way (``tests/weights/gcp_weights_testutil.py``).

Each file is one part of the manifest bundle ``gcp.imagenet``. What a file is, is read from its
content (never from its name), checked against the part the manifest entry expects (its
``filename``), and every key and shape is checked against the target architecture before
anything is cached, so a wrong or truncated file is refused at import time with a message
naming it.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from autocolor.errors import WeightsError
from autocolor.weights.convert import register_converter

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.weights.manifest import WeightSpec

__all__ = ["COMPONENTS", "OFFICIAL_FILES", "convert_gcp_file", "identify", "official_checkpoints"]

log = logging.getLogger("autocolor.weights")

#: component -> (official file name, prefixes of its keys in the GCPColorizer state_dict).
COMPONENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "colorization": ("colorization_model.pth", ("net_corr.", "net_gen.")),
    "encoder": ("biggan_E.pth", ("biggan_enc.",)),
    "generator": ("biggan_G_ema_256.pth", ("biggan_gen.",)),
    "discriminator": ("biggan_D_256.pth", ("biggan_dis.",)),
    "deformator": ("deformator_for_biggan.pt", ("deformator.",)),
}
OFFICIAL_FILES: dict[str, str] = {filename: component for component, (filename, _) in COMPONENTS.items()}
_DESCRIPTIONS = {
    "colorization": "GCP colorization model (net_corr + net_gen)",
    "encoder": "BigGAN encoder E",
    "generator": "BigGAN generator",
    "discriminator": "BigGAN discriminator",
    "deformator": "BigGAN latent deformator",
}


def _load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise WeightsError(f"{path}: refused to load (not plain tensors; weights_only): {first}") from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable PyTorch file ({exc})") from None


def _tensors(obj: Any, path: Path, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(f"{path}: {where} is not a state_dict (name -> tensor)")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: {where} has {len(bad)} entries that are not named tensors (e.g. {bad[0]!r})")
    return dict(obj)


def identify(obj: Any, path: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """``(component, state_dict with GCPColorizer prefixes)`` of a loaded official file.

    Raises:
        WeightsError: the content is none of the five GCP files.
    """
    if isinstance(obj, Mapping) and "net_corr" in obj and "net_gen" in obj:
        ignored = sorted(str(k) for k in obj if k not in ("net_corr", "net_gen"))
        if ignored:
            log.info("%s: ignoring entries %s (only net_corr and net_gen are used)", path, ignored)
        state = {f"net_corr.{k}": v for k, v in _tensors(obj["net_corr"], path, "net_corr").items()}
        state.update({f"net_gen.{k}": v for k, v in _tensors(obj["net_gen"], path, "net_gen").items()})
        return "colorization", state
    flat = _tensors(obj, path, "the file")
    if "log_mat_half" in flat:
        component = "deformator"
    elif "embed.weight" in flat:
        component = "discriminator"
    elif "output_layer.2.weight" in flat:
        component = "generator"
    elif "shared.weight" in flat and "linear.weight" in flat:
        component = "encoder"
    else:
        raise WeightsError(f"{path}: not one of GCP's files (e.g. found key {next(iter(flat))!r})")
    prefix = COMPONENTS[component][1][0]
    return component, {prefix + k: v for k, v in flat.items()}


def _expected_shapes(arch: str, prefixes: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    from autocolor.models.registry import model_info

    with torch.device("meta"):  # shapes only: no 1.2 GB allocation
        net = model_info(arch).factory()
    return {k: tuple(v.shape) for k, v in net.state_dict().items() if k.startswith(prefixes)}


def check_layout(state: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]], path: Path) -> None:
    """Raise :class:`WeightsError` unless ``state`` has exactly the ``expected`` keys and shapes."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
    if wrong:
        k = wrong[0]
        problems.append(f"{len(wrong)} shapes differ (e.g. {k}: {tuple(state[k].shape)}, expected {expected[k]})")
    if problems:
        raise WeightsError(f"{path}: does not fit the network: " + "; ".join(problems))


def convert_gcp_file(path: Path, arch: str = "gcp.imagenet", expect: str | None = None) -> tuple[str, dict[str, torch.Tensor]]:
    """Read one official GCP file and return ``(component, prefixed state_dict)``.

    Args:
        path: the file.
        arch: registry name of the composite network whose layout the keys must fit.
        expect: component the caller wants (a key of :data:`COMPONENTS`); another one is an error.
    """
    path = Path(path)
    component, state = identify(_load(path), path)
    if expect is not None and component != expect:
        want_file = COMPONENTS[expect][0]
        raise WeightsError(
            f"{path}: this is the {_DESCRIPTIONS[component]} ({COMPONENTS[component][0]}), "
            f"expected the {_DESCRIPTIONS[expect]} ({want_file})"
        )
    check_layout(state, _expected_shapes(arch, COMPONENTS[component][1]), path)
    return component, state


@register_converter("gcp_pth")
def _convert_gcp(src: Path, spec: WeightSpec) -> dict[str, torch.Tensor]:
    expect = OFFICIAL_FILES.get(spec.filename) if spec.filename else None
    return convert_gcp_file(src, spec.arch, expect)[1]


def official_checkpoints(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Split a :class:`GCPColorizer` state_dict into the five official files' objects.

    Returns ``{official file name: object to torch.save}``; the inverse of the converter
    (used to export weights in the official layout, and by tests to make official-layout files).
    """
    out: dict[str, Any] = {}
    for component, (filename, prefixes) in COMPONENTS.items():
        parts = {p: {k[len(p):]: v for k, v in state.items() if k.startswith(p)} for p in prefixes}
        if component == "colorization":
            out[filename] = {p.rstrip("."): sd for p, sd in parts.items()}
        else:
            out[filename] = parts[prefixes[0]]
    return out
