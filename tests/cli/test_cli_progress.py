"""Progress bars: one builder for photos and films, silent off a terminal."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.progress import MofNCompleteColumn, TextColumn, TimeRemainingColumn

from autocolor.cli.common import Progress, terminal_progress
from autocolor.cli.video import _FrameProgress


def test_no_bar_when_stderr_is_not_a_terminal() -> None:
    # Under pytest stderr is captured: not a terminal, so no bar and nothing drawn.
    assert terminal_progress([("{task.fields[name]}", "dim")], eta_after=0) is None
    with Progress(5, enabled=True) as progress:
        progress.advance()  # a no-op, not an error
    assert progress._bar is None


def test_columns_of_the_photo_and_the_film_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    photos = Progress(3, enabled=True)._bar
    film = _FrameProgress("reel.mp4", enabled=True)._bar
    assert [type(c) for c in photos.columns][2:] == [MofNCompleteColumn, TimeRemainingColumn, TextColumn]
    assert [type(c) for c in film.columns][2:] == [MofNCompleteColumn, TextColumn, TimeRemainingColumn]
    assert film.columns[3].text_format == "{task.fields[fps]} frames/s"
    assert Progress(3, enabled=False)._bar is None and Progress(0, enabled=True)._bar is None
