"""Training configuration: one TOML file holds every hyper-parameter of a run.

Sections mirror the dataclasses below; unknown keys are errors (a typo must not silently
fall back to a default). ``--set section.key=value`` overrides single values.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from autocolor.errors import UsageError


@dataclass
class ModelSection:
    name: str = "cic.lite"
    init: str = ""  # optional .safetensors to start from (fine-tuning)
    init_strict: bool = True  # false: init may lack layers (grown networks; see train.warm_start)
    freeze: list[str] = field(default_factory=list)  # module names not to train, e.g. ["embedding"]


@dataclass
class DataSection:
    train: str = "../shared/data/train"
    val: str = "../shared/data/val"
    crop_size: int = 176
    scale: tuple[float, float] = (0.35, 1.0)
    min_chroma: float = 3.0
    workers: int = 1
    val_size: int = 256
    val_limit: int = 96
    exposure: float = 0.0  # photometric jitter: RGB gain uniform in [1 - x, 1 + x]
    contrast: float = 0.0  # contrast about the mean uniform in [1 - x, 1 + x]
    degrade: float = 0.0  # probability of each degradation of the input L: grain, blur, JPEG


@dataclass
class ObjectiveSection:
    prior_sigma: float = 5.0  # Gaussian smoothing of the empirical prior, Lab units
    rebalance_lambda: float = 0.5  # mix with uniform before inverting (CIC: 0.5)
    prior_thumbnail: int = 64  # side of the thumbnails the prior is counted on
    hints: bool = False  # feed simulated colour hints (hint-aware networks; SIGGRAPH17)
    hint_p_none: float = 0.5  # share of training images given no hints
    hint_geometric_p: float = 0.125  # points per hinted image ~ Geometric(p), mean 1/p
    hint_max_patch: int = 9  # hint patch side uniform in 1..this, px of the network input


@dataclass
class OptimSection:
    lr: float = 2e-3
    min_lr: float = 2e-5
    warmup_steps: int = 200
    decay_steps: int = 0  # 0: cosine over the whole run; N: constant lr, cosine over the last N steps
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 1e-3
    grad_clip: float = 5.0


@dataclass
class TrainSection:
    batch_size: int = 16
    steps: int = 6000
    seed: int = 1234
    checkpoint_every: int = 250
    val_every: int = 500
    threads: int = 0  # 0 = torch default
    recalibrate_batchnorm: int = 0  # >0: at the end, BatchNorm statistics from this many whole train photos
    out: str = "runs/cic_lite"
    device: str = "auto"


@dataclass
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    objective: ObjectiveSection = field(default_factory=ObjectiveSection)
    optim: OptimSection = field(default_factory=OptimSection)
    train: TrainSection = field(default_factory=TrainSection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, list):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{where}: expected a list of strings")
        return list(value)
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise UsageError(f"{where}: expected a list of {len(default)} numbers")
        return tuple(float(v) for v in value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UsageError(f"{where}: expected true or false")
        return value
    if isinstance(default, int) and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise UsageError(f"{where}: expected an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UsageError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise UsageError(f"{where}: expected a string, got {value!r}")
    return value


def config_from_dict(raw: dict[str, Any], source: str = "config") -> TrainConfig:
    """Validate a parsed TOML document into a :class:`TrainConfig`."""
    config = TrainConfig()
    for section_name, values in raw.items():
        if not hasattr(config, section_name) or not isinstance(values, dict):
            raise UsageError(f"{source}: unknown section [{section_name}]")
        section = getattr(config, section_name)
        for key, value in values.items():
            if not hasattr(section, key):
                raise UsageError(f"{source}: unknown key {section_name}.{key}")
            setattr(section, key, _coerce(value, getattr(section, key), f"{source}: {section_name}.{key}"))
    return config


def apply_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Apply ``section.key=value`` strings (values parsed as TOML, bare words as strings)."""
    raw = config.to_dict()
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise UsageError(f"--set {item!r}: expected section.key=value")
        dotted, text = item.split("=", 1)
        section, key = dotted.split(".", 1)
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        raw.setdefault(section, {})[key] = value
    return config_from_dict(raw, "--set")


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read and validate a TOML training config, then apply ``overrides``."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    config = config_from_dict(raw, str(path))
    return apply_overrides(config, overrides or [])
