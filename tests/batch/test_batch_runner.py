"""The in-process batch runner: order, hooks, backpressure, batching, failures, stopping."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor.batch import InputFile, ItemResult, Job, plan_jobs, process_one, run_batch
from autocolor.pipeline import Colorizer


def gray_png(path: Path, size: tuple[int, int] = (48, 40), seed: int = 0) -> Path:
    width, height = size
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, width)[None, :] * np.ones((height, 1))
    pixels = np.clip(0.6 * ramp + 0.4 * rng.uniform(0, 255, (height, width)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode="L").save(path)
    return path


def make_jobs(tmp_path: Path, count: int, *, sizes: list[tuple[int, int]] | None = None) -> list[Job]:
    items = [
        InputFile(str(gray_png(tmp_path / "in" / f"{i:03d}.png", (sizes or [(48, 40)])[i % len(sizes or [0])], seed=i)),
                  tmp_path / "in")
        for i in range(count)
    ]
    return plan_jobs(items, str(tmp_path / "out"), folder=True, format=None, overwrite=False)


class Recording(Colorizer):
    """The real tiny colorizer, recording what the runner asks of it (and from which thread)."""

    def __init__(self, *, slow_first_batch: float = 0.0, seed: int | None = None) -> None:
        super().__init__("cic.tiny", "cpu", size=32, pretrained=False, seed=seed)
        self.lock = threading.Lock()
        self.batch_sizes: list[int] = []
        self.live = 0  # photos read and not yet rendered
        self.most_live = 0
        self.slow_first_batch = slow_first_batch

    def network_input(self, lightness: np.ndarray) -> torch.Tensor:
        with self.lock:
            self.live += 1
            self.most_live = max(self.most_live, self.live)
        return super().network_input(lightness)

    def predict_low(self, small: torch.Tensor) -> torch.Tensor:
        if not self.batch_sizes and self.slow_first_batch:
            time.sleep(self.slow_first_batch)  # lets the readers queue up the next inputs
        self.batch_sizes.append(small.shape[0])
        return super().predict_low(small)

    def render(self, photo, ab_low, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().render(photo, ab_low, *args, **kwargs)
        finally:
            with self.lock:
                self.live -= 1


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer("cic.tiny", "cpu", size=32, pretrained=False)


def test_results_in_job_order_on_the_main_thread_and_same_pixels_as_process_one(
    tmp_path: Path, colorizer: Colorizer
) -> None:
    jobs = make_jobs(tmp_path, 7, sizes=[(48, 40), (64, 24), (40, 56)])
    seen: list[tuple[ItemResult, str]] = []
    results = run_batch(jobs, colorizer, on_result=lambda r: seen.append((r, threading.current_thread().name)),
                        readers=3, writers=2, batch_size=3)
    assert [r.input for r in results] == [job.item.path for job in jobs]
    assert [r for r, _ in seen] == results and {name for _, name in seen} == {threading.main_thread().name}
    assert all(r.status == "ok" and r.model == "cic.tiny" and r.seconds > 0 for r in results)
    assert all(job.result is r for job, r in zip(jobs, results))
    for job, result in zip(jobs, results):
        assert (result.width, result.height) == Image.open(job.item.path).size
        alone = process_one(Job(job.item, str(tmp_path / "alone.png")), colorizer)
        assert alone.status == "ok"
        batched = np.asarray(Image.open(result.output), dtype=np.int16)
        single = np.asarray(Image.open(alone.output), dtype=np.int16)
        assert np.abs(batched - single).max() <= 1  # batching changes float rounding only


def test_decided_jobs_are_reported_in_place_and_a_bad_file_fails_alone(tmp_path: Path, colorizer: Colorizer) -> None:
    jobs = make_jobs(tmp_path, 4)
    (tmp_path / "out").mkdir()
    Path(jobs[1].output).write_bytes(b"already there")
    Path(jobs[2].item.path).write_bytes(b"not an image at all")
    jobs = plan_jobs([j.item for j in jobs], str(tmp_path / "out"), folder=True, format=None, overwrite=False)
    assert jobs[1].result is not None and jobs[1].result.status == "skipped"
    reported: list[str] = []
    results = run_batch(jobs, colorizer, on_result=lambda r: reported.append(r.status))
    assert reported == ["ok", "skipped", "failed", "ok"] == [r.status for r in results]
    assert "not an image" in (results[2].error or "")
    assert Path(jobs[1].output).read_bytes() == b"already there"
    assert not Path(jobs[2].output).exists() and Path(jobs[3].output).is_file()


def test_backpressure_bounds_the_photos_in_flight(tmp_path: Path) -> None:
    recording = Recording()
    jobs = make_jobs(tmp_path, 12)
    results = run_batch(jobs, recording, readers=3, writers=3, batch_size=2, max_in_flight=2)
    assert [r.status for r in results] == ["ok"] * 12
    assert 1 <= recording.most_live <= 2 and recording.live == 0


def test_network_runs_batches_of_waiting_inputs_up_to_batch_size(tmp_path: Path) -> None:
    recording = Recording(slow_first_batch=0.5)
    jobs = make_jobs(tmp_path, 9)
    results = run_batch(jobs, recording, readers=4, writers=2, batch_size=4, max_in_flight=9)
    assert [r.status for r in results] == ["ok"] * 9
    assert sum(recording.batch_sizes) == 9 and max(recording.batch_sizes) == 4


def test_should_stop_finishes_the_files_in_flight_and_starts_no_more(tmp_path: Path, colorizer: Colorizer) -> None:
    jobs = make_jobs(tmp_path, 20)
    reported: list[ItemResult] = []
    results = run_batch(jobs, colorizer, on_result=reported.append, should_stop=lambda: len(reported) >= 3,
                        max_in_flight=2)
    assert results == reported and 3 <= len(results) <= 5
    assert all(r.status == "ok" and Path(r.output or "").is_file() for r in results)
    assert [job.result for job in jobs[len(results):]] == [None] * (20 - len(results))
    assert not any(Path(job.output).exists() for job in jobs[len(results):])


def test_seeded_sampling_gives_each_photo_its_own_colours_whatever_the_batch(tmp_path: Path) -> None:
    sampler = Colorizer("cic.tiny", "cpu", size=32, decoding="sample", seed=5, pretrained=False)
    jobs = make_jobs(tmp_path, 4)
    run_batch(jobs, sampler, batch_size=4)
    alone = process_one(Job(jobs[2].item, str(tmp_path / "alone.png")), sampler)
    assert np.array_equal(np.asarray(Image.open(jobs[2].output)), np.asarray(Image.open(alone.output or "")))


def test_an_interrupt_in_a_stage_reaches_the_caller(tmp_path: Path) -> None:
    class Interrupted(Colorizer):
        def render(self, photo, ab_low, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    jobs = make_jobs(tmp_path, 3)
    with pytest.raises(KeyboardInterrupt):
        run_batch(jobs, Interrupted("cic.tiny", "cpu", size=32, pretrained=False))
    assert not any(Path(job.output).exists() for job in jobs)


def test_bad_arguments_are_refused(colorizer: Colorizer) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        run_batch([], colorizer, batch_size=0)
    with pytest.raises(ValueError, match="max_in_flight"):
        run_batch([], colorizer, max_in_flight=0)
    assert run_batch([], colorizer) == []
