"""--max-memory: parsing, per-photo estimates, the budget, and the runner keeping within it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autocolor.batch import InputFile, plan_jobs, run_batch
from autocolor.batch.memory import MemoryBudget, format_size, parse_size, photo_bytes, resident_bytes
from autocolor.errors import UsageError
from autocolor.pipeline import Colorizer


@pytest.mark.parametrize(
    ("text", "size"),
    [("2G", 2 << 30), ("1.5g", 3 << 29), ("512M", 512 << 20), ("800MiB", 800 << 20), ("64KB", 64 << 10), ("1000", 1000)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "2X", "-1G", "0", "G", "1.2.3M", "two gigabytes"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(UsageError, match="--max-memory"):
        parse_size(text)


def test_estimates_grow_with_what_a_photo_holds() -> None:
    gray = photo_bytes(4000, 3000, mode="L", bits=8, file_bytes=3_000_000)
    assert 48e6 < gray < 80e6  # codes + output codes + encoded: ~5 bytes a pixel
    assert photo_bytes(4000, 3000, mode="RGB", bits=8, file_bytes=3_000_000) > gray  # float L* kept
    assert photo_bytes(4000, 3000, mode="L", bits=16, file_bytes=3_000_000, output_png=True) > gray
    assert photo_bytes(17000, 12000, mode="L", bits=8, file_bytes=60_000_000) < 1.5e9  # 200 MP fits 2 GB
    assert format_size(3 << 29) == "1.5 GB" and format_size(350 << 20) == "350 MB"
    assert resident_bytes() > 10 << 20


def test_budget_waits_for_room_and_grants_anything_when_empty() -> None:
    budget = MemoryBudget(100)
    assert budget.reserve(70) and budget.held == 70
    got: list[float] = []

    def second() -> None:
        budget.reserve(50)
        got.append(time.perf_counter())

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.2)
    assert not got  # 70 + 50 > 100: waits
    released = time.perf_counter()
    budget.release(70)
    thread.join(2)
    assert got and got[0] >= released and budget.held == 50
    cancelled = threading.Event()
    cancelled.set()
    assert budget.reserve(80, cancelled=cancelled) is False  # 50 + 80 > 100 and the run is ending
    assert not budget.fits(101) and budget.fits(100)


def gray_pngs(folder: Path, count: int, size: tuple[int, int]) -> list[InputFile]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    items = []
    for i in range(count):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, size[::-1], dtype=np.uint8), mode="L").save(path)
        items.append(InputFile(str(path), folder))
    return items


def test_runner_refuses_a_photo_that_cannot_fit_and_keeps_the_others(tmp_path: Path) -> None:
    colorizer = Colorizer("cic.tiny", "cpu", size=32, pretrained=False)
    items = gray_pngs(tmp_path / "in", 2, (64, 48))
    Image.fromarray(np.zeros((2000, 3000), np.uint8), mode="L").save(tmp_path / "in" / "big.png")
    items.append(InputFile(str(tmp_path / "in" / "big.png"), tmp_path / "in"))
    jobs = plan_jobs(items, str(tmp_path / "out"), folder=True, format=None, overwrite=False)
    limit = resident_bytes() + (40 << 20)  # room for the small photos, not for 6 MP with a PNG out
    results = run_batch(jobs, colorizer, max_memory=limit)
    assert [r.status for r in results] == ["ok", "ok", "failed"]
    assert "too large for --max-memory: 3000x2000 needs about" in (results[2].error or "")
    assert not Path(jobs[2].output).exists()


def test_runner_refuses_a_budget_below_what_is_already_used(tmp_path: Path) -> None:
    colorizer = Colorizer("cic.tiny", "cpu", size=32, pretrained=False)
    jobs = plan_jobs(gray_pngs(tmp_path / "in", 1, (16, 16)), str(tmp_path / "out"), folder=True, format=None,
                     overwrite=False)
    with pytest.raises(UsageError, match="leaves no room for photos"):
        run_batch(jobs, colorizer, max_memory=10 << 20)
