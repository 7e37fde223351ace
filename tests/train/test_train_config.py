from __future__ import annotations

from pathlib import Path

import pytest

from autocolor.errors import UsageError
from autocolor.train.config import apply_overrides, load_config
from autocolor.train.loop import learning_rate

REPO = Path(__file__).resolve().parents[2]


def test_shipped_recipe_parses() -> None:
    config = load_config(REPO / "configs" / "cic_lite.toml")
    assert config.model.name == "cic.lite"
    assert config.optim.betas == (0.9, 0.99)
    assert config.objective.rebalance_lambda == 0.5 and config.objective.prior_sigma == 5.0


def test_unknown_keys_and_bad_types_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nstepz = 3\n")
    with pytest.raises(UsageError, match="unknown key train.stepz"):
        load_config(bad)
    bad.write_text("[train]\nsteps = 'many'\n")
    with pytest.raises(UsageError, match="expected an integer"):
        load_config(bad)
    with pytest.raises(UsageError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_overrides_parse_toml_values() -> None:
    config = load_config(REPO / "configs" / "cic_lite.toml", ["train.steps=10", "optim.lr=0.1", "data.train=/x"])
    assert config.train.steps == 10 and config.optim.lr == 0.1 and config.data.train == "/x"
    with pytest.raises(UsageError):
        apply_overrides(config, ["steps=3"])


def test_learning_rate_warms_up_then_decays_to_min() -> None:
    config = load_config(REPO / "configs" / "cic_lite.toml", ["train.steps=1000", "optim.warmup_steps=100"])
    assert learning_rate(0, config) == pytest.approx(config.optim.lr / 100)
    assert learning_rate(99, config) == pytest.approx(config.optim.lr)
    assert learning_rate(1000, config) == pytest.approx(config.optim.min_lr)
    assert learning_rate(400, config) > learning_rate(800, config)


def test_warmup_stable_decay_schedule_does_not_depend_on_the_length_before_the_decay() -> None:
    short = load_config(REPO / "configs" / "cic_lite.toml", ["train.steps=1000", "optim.warmup_steps=100", "optim.decay_steps=300"])
    long = load_config(REPO / "configs" / "cic_lite.toml", ["train.steps=1500", "optim.warmup_steps=100", "optim.decay_steps=300"])
    lr = short.optim.lr
    assert learning_rate(99, short) == pytest.approx(lr)
    for step in (100, 400, 700):
        assert learning_rate(step, short) == learning_rate(step, long) == pytest.approx(lr)
    assert learning_rate(850, short) == pytest.approx((lr + short.optim.min_lr) / 2)  # cosine midpoint
    assert learning_rate(850, long) == pytest.approx(lr)
    assert learning_rate(1000, short) == pytest.approx(short.optim.min_lr)
    assert learning_rate(1500, long) == pytest.approx(long.optim.min_lr)


def test_list_of_strings_values(tmp_path: Path) -> None:
    config = load_config(REPO / "configs" / "cic_lite.toml", ['model.freeze=["trunk", "head"]'])
    assert config.model.freeze == ["trunk", "head"] and config.model.init_strict is True
    with pytest.raises(UsageError, match="list of strings"):
        load_config(REPO / "configs" / "cic_lite.toml", ["model.freeze=[1, 2]"])
