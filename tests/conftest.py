"""Shared test fixtures: offline, CPU, one thread, temporary cache."""

from __future__ import annotations

import os
from pathlib import Path


import pytest
import torch
from hypothesis import settings

# Fuzz profiles: "ci" (default) keeps the fuzz tests to seconds; "long" (>= 10,000 examples a
# test) is for a run by hand: `pytest --hypothesis-profile=long tests/test_imagefile_fuzz.py`
# or AUTOCOLOR_FUZZ=long. No example database: CI runs are the same every time (derandomize).
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, database=None)
settings.register_profile("long", max_examples=10_000, deadline=None, database=None)
settings.load_profile(os.environ.get("AUTOCOLOR_FUZZ", "ci"))

# Any Ray instance a test starts binds and advertises 127.0.0.1 only (Ray reads this at import):
# tests send traffic to the loopback address and nowhere else.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

# Tests must not compete with a training run for the cores, and must be deterministic.
torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty AUTOCOLOR_HOME and no network access to the Hub."""
    home = tmp_path_factory.mktemp("autocolor_home")
    monkeypatch.setenv("AUTOCOLOR_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the checkout; skips the test when it is absent (e.g. in CI)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED
