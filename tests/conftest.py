"""Shared test fixtures: offline, CPU, one thread, temporary cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

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
