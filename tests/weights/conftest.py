"""Fixtures for the weights tests (helpers live in weights_testutil.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from weights_testutil import LoopbackServer, TinyCheckpoint, make_state, save_pth, serve


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    with serve() as server:
        yield server


@pytest.fixture
def tiny_pth(tmp_path: Path) -> TinyCheckpoint:
    return save_pth(tmp_path / "tiny.pth", make_state(0))


@pytest.fixture
def other_pth(tmp_path: Path) -> TinyCheckpoint:
    """Same layout and size as ``tiny_pth`` (same shapes), different values."""
    (tmp_path / "other").mkdir()
    # Same file name: torch.save embeds the stem, and the sizes must match exactly.
    return save_pth(tmp_path / "other" / "tiny.pth", make_state(1))


@pytest.fixture
def use_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write TOML text to a tmp weights.toml and point $AUTOCOLOR_WEIGHTS_TOML at it."""

    def write(text: str) -> Path:
        path = tmp_path / "weights.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("AUTOCOLOR_WEIGHTS_TOML", str(path))
        return path

    return write
