"""Hints in a batch: hinted photos share network passes with each other, each gets its own hints,
and photos without hints run as in automatic colorization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from autocolor.batch import InputFile, Job, plan_jobs, process_one, run_batch
from autocolor.hints import parse_hint
from autocolor.pipeline import Colorizer


class Counting(Colorizer):
    """The tiny hint-aware colorizer, counting the photos of each network pass."""

    def __init__(self) -> None:
        super().__init__("cic.tiny_regression", "cpu", size=32, pretrained=False)
        self.passes: list[tuple[int, bool]] = []

    def predict_low(self, small, hints=None):  # type: ignore[no-untyped-def]
        self.passes.append((small.shape[0], hints is not None))
        return super().predict_low(small, hints)


def test_batched_hints_match_one_by_one(tmp_path: Path) -> None:
    items = []
    for i in range(6):
        path = tmp_path / "in" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        ramp = np.linspace(40, 220, 48)[None, :] * np.ones((40, 1)) + 5 * i
        Image.fromarray(ramp.astype(np.uint8), mode="L").save(path)
        items.append(InputFile(str(path), tmp_path / "in"))
    jobs = plan_jobs(items, str(tmp_path / "out"), folder=True, format=None, overwrite=False)
    colours = ["#1f3a93", None, "#b22222", None, "#228b22", "#ffd700"]
    for job, colour in zip(jobs, colours):
        job.hints = (parse_hint(f"20,20,{colour}", radius=3),) if colour else ()
    colorizer = Counting()
    results = run_batch(jobs, colorizer, readers=1, writers=1, batch_size=6, max_in_flight=6)
    assert [r.status for r in results] == ["ok"] * 6
    assert max(n for n, _ in colorizer.passes) > 1 and any(h for _, h in colorizer.passes)  # batched, with hints
    # The four hinted photos went through passes with hints, the two others through passes without.
    assert sum(n for n, h in colorizer.passes if h) == 4 and sum(n for n, h in colorizer.passes if not h) == 2
    hinted_differ = []
    for job, result in zip(jobs, results):
        alone = process_one(Job(job.item, str(tmp_path / "alone.png"), hints=job.hints), colorizer)
        batched = np.asarray(Image.open(result.output), dtype=np.int16)
        single = np.asarray(Image.open(alone.output), dtype=np.int16)
        assert np.abs(batched - single).max() <= 1  # each photo got its own hints
        plain = process_one(Job(job.item, str(tmp_path / "plain.png")), colorizer)
        change = np.abs(np.asarray(Image.open(plain.output), dtype=np.int16) - batched).max()
        if job.hints:
            hinted_differ.append(change > 2)
        else:
            assert change <= 1  # no hints leak from the other photos of the pass
    assert any(hinted_differ)  # (random tiny weights: not every colour moves the output visibly)
