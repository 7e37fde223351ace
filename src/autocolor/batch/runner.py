"""The in-process batch runner: reader threads -> batched network -> writer threads.

::

    main thread      admits jobs (at most ``max_in_flight`` files at once), polls should_stop,
                     calls on_result in job order
    reader threads   decode the file, compute the network input (L* resized to the network size)
    network thread   stacks the inputs waiting (same shape, up to ``batch_size``) and runs the
                     network + decoder once for all of them
    writer threads   full-resolution colour work (guided upsampling, Lab -> sRGB), encode,
                     atomic write

Backpressure: a file is admitted only while fewer than ``max_in_flight`` files are between
"admitted" and "finished", so however many jobs there are (a million-file folder), at most
that many decoded photos exist at once and no queue grows beyond it. Decoding, the network and
encoding overlap: numpy, OpenCV, Pillow's codecs and torch release the GIL in their loops.

A file that fails at any stage becomes a ``"failed"`` :class:`ItemResult` and the batch goes on;
when a batched network pass fails, its files are retried one by one so only the culprit fails.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autocolor.batch.claims import Claim, claim_job, sweep_outputs
from autocolor.batch.item import estimate_memory, failed, read_input, render_and_write
from autocolor.batch.memory import MIN_PHOTO_BUDGET, MemoryBudget, format_size, resident_bytes
from autocolor.errors import InputImageError, UsageError
from autocolor.batch.plan import Job
from autocolor.batch.results import ItemResult

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from autocolor.imagefile import Photo
    from autocolor.pipeline import Colorizer

#: Default number of reader and writer threads each.
DEFAULT_THREADS = 2
#: Default largest number of photos stacked into one network pass.
DEFAULT_BATCH_SIZE = 4
# How often (seconds) the main thread wakes up to poll should_stop while files are in flight.
_POLL_SECONDS = 0.05


@dataclass
class _Work:
    """One admitted file on its way through the stages."""

    index: int
    job: Job
    started: float
    model: str | None
    photo: Photo | None = None
    small: Any = None  # (1, 1, h, w) torch tensor: the network input
    hints: Any = None  # HintMaps at the network input, or None
    ab_low: Any = None  # (2, h', w') numpy float32: the network's colours
    reserved: int = 0  # bytes of the memory budget this file holds

    def ok(self, output: str) -> ItemResult:
        assert self.photo is not None
        width, height = self.photo.size
        return ItemResult(
            self.job.item.path, output, "ok", None, time.perf_counter() - self.started, width, height, self.model
        )


_DONE = None  # sentinel telling a stage thread to finish


def _stacked_hints(group: Sequence[_Work]) -> Any:
    """The group's hint maps batched for ``predict_low`` (``None`` when no photo has hints)."""
    from autocolor.hints import stack_hint_maps

    height, width = group[0].small.shape[-2:]
    return stack_hint_maps([w.hints for w in group], height, width)


def _batch_key(work: _Work) -> tuple[Any, bool]:
    """Photos of one network batch share this: the input shape and whether they have hints."""
    return tuple(work.small.shape), work.hints is not None and not work.hints.empty


def run_batch(
    jobs: Sequence[Job],
    colorizer: Colorizer,
    *,
    format: str | None = None,
    on_result: Callable[[ItemResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    readers: int = DEFAULT_THREADS,
    writers: int = DEFAULT_THREADS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_in_flight: int | None = None,
    max_memory: int | None = None,
    debug: bool = False,
) -> list[ItemResult]:
    """Run ``jobs`` through ``colorizer`` with overlapping stages; never raises for a bad file.

    Args:
        jobs: planned jobs (:func:`autocolor.batch.plan.plan_jobs`); those with a ``result``
            already (skipped, refused) are reported without being run.
        colorizer: a loaded :class:`autocolor.pipeline.Colorizer`, shared by all threads (the
            network runs in one thread only).
        format: output format for every file (``"png"``, ``"jpg"``, ...); default from the name.
        on_result: called once per finished job, in the main thread and in job order (a
            finished file waits for the earlier ones), with its :class:`ItemResult`.
        should_stop: polled in the main thread between files (and every ~50 ms while
            waiting); once it returns True no further job is started, the files in flight
            are finished and reported, and the run returns. Jobs never started keep
            ``result = None``, are absent from the returned list and are not passed to
            ``on_result``.
        readers, writers: threads decoding / encoding (>= 1 each).
        batch_size: largest number of photos in one network pass (>= 1).
        max_in_flight: most files admitted at once (decoded photos held in memory); default
            ``readers + batch_size + writers``.
        max_memory: bytes the whole process may use (``--max-memory``); what the process holds
            when the run starts (model, libraries) is taken off, and each photo reserves its
            estimated memory (:mod:`autocolor.batch.memory`) before it is decoded, waiting
            while others hold it. A photo that cannot fit alone fails with a clear reason.
            None: no budget (and read_photo's default decompression-bomb limit).
        debug: print the traceback of every failure on stderr.

    Returns:
        The results of the jobs that were reported, in job order (also stored in ``job.result``).
    """
    if readers < 1 or writers < 1 or batch_size < 1:
        raise ValueError(f"need readers, writers, batch_size >= 1; got {readers}, {writers}, {batch_size}")
    limit = max_in_flight if max_in_flight is not None else readers + batch_size + writers
    if limit < 1:
        raise ValueError(f"max_in_flight must be >= 1, got {limit}")
    # The cores not kept busy by other writers help render each photo (one big photo gets all).
    to_run = sum(job.result is None for job in jobs)
    render_threads = max(1, (os.cpu_count() or 1) // max(1, min(writers, to_run)))
    pipeline = _Pipeline(colorizer, format, readers, writers, batch_size, debug)
    pipeline.render_threads = render_threads
    if max_memory is not None:
        baseline = resident_bytes()
        if max_memory - baseline < MIN_PHOTO_BUDGET:
            raise UsageError(
                f"--max-memory {format_size(max_memory)} leaves no room for photos: the model and "
                f"libraries already take {format_size(baseline)}"
            )
        pipeline.budget = MemoryBudget(max_memory - baseline)
    # Another run may share the output folder: what dead runs left there goes, and each file
    # is claimed before its work starts (autocolor.batch.claims).
    # Every job's folder, also of outputs already there: a run killed after its last rename
    # leaves lock files beside finished outputs.
    sweep_outputs(job.output for job in jobs)
    since = time.time()
    claims: dict[int, Claim] = {}
    results: list[ItemResult] = []
    finished: dict[int, ItemResult] = {}
    next_admit = next_report = in_flight = 0
    stopping = False
    normal_exit = False
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(kernels_single_threaded(colorizer.device))
        pipeline.start()
        while True:
            # Report every result whose turn has come, then admit one more job if there is
            # room (so should_stop sees every report before the next admission); a job decided
            # up front costs nothing and is reported on the next round of this loop.
            while True:
                while next_report in finished:
                    result = finished.pop(next_report)
                    if next_report in claims:
                        claims.pop(next_report).release()
                    jobs[next_report].result = result
                    results.append(result)
                    if on_result is not None:
                        on_result(result)
                    next_report += 1
                if stopping or next_admit >= len(jobs) or in_flight >= limit:
                    break
                if should_stop is not None and should_stop():
                    stopping = True
                    break
                job = jobs[next_admit]
                if job.result is not None:
                    finished[next_admit] = job.result
                    next_admit += 1
                    continue
                held, decided = claim_job(job, since)
                if decided is not None:  # another process has it, or its folder cannot be made
                    decided.model = pipeline.model
                    finished[next_admit] = decided
                else:
                    if held is not None:
                        claims[next_admit] = held
                    pipeline.submit(next_admit, job)
                    in_flight += 1
                next_admit += 1
            if next_report >= (next_admit if stopping else len(jobs)):
                break
            try:
                index, result = pipeline.done.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not stopping and should_stop is not None and should_stop():
                    stopping = True
                continue
            if isinstance(result, BaseException):
                raise result
            finished[index] = result
            in_flight -= 1
        normal_exit = True
    finally:
        pipeline.close(abort=not normal_exit)
        stack.close()
        for held in claims.values():
            held.release()
    return results


@contextlib.contextmanager
def kernels_single_threaded(device: torch.device | str) -> Iterator[None]:
    """Run torch's CPU kernels and OpenCV's in one thread each while the batch runs.

    ``device`` is where the network runs (torch's threads are left alone for CUDA). The
    batch's parallelism is its stages (and the render threads); intra-op threads of torch
    and OpenCV would compete with them for the same cores. Worse, their fork-join barriers wait
    for the slowest thread: on a busy machine (more runnable threads than cores) a two-thread
    forward pass of cic.lite was measured 25x slower than a one-thread one. The settings are
    process-wide and put back afterwards.
    """
    import cv2
    import torch

    cpu = str(device).startswith("cpu")
    saved_torch, saved_cv2 = torch.get_num_threads(), cv2.getNumThreads()
    if cpu:
        torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        if cpu:
            torch.set_num_threads(saved_torch)
        cv2.setNumThreads(saved_cv2)


class _Pipeline:
    """The stage threads and the queues between them (unbounded, but never holding more than
    the admitted files, so puts never block)."""

    def __init__(
        self, colorizer: Colorizer, format: str | None, readers: int, writers: int, batch_size: int, debug: bool
    ) -> None:
        self.colorizer = colorizer
        self.format = format
        self.batch_size = batch_size
        self.debug = debug
        self.render_threads = 1
        self.budget: MemoryBudget | None = None
        self.model = colorizer.model_name
        self.reads: queue.Queue[_Work | None] = queue.Queue()
        self.inputs: queue.Queue[_Work | None] = queue.Queue()
        self.writes: queue.Queue[_Work | None] = queue.Queue()
        # (index, result), or (-1, exception) when a stage thread died of a BaseException
        # (KeyboardInterrupt, SystemExit...): the main thread re-raises it.
        self.done: queue.Queue[tuple[int, ItemResult | BaseException]] = queue.Queue()
        self.abort = threading.Event()  # set when the run ends abnormally: stages drop their work
        self.readers = [self._thread(self._read, f"read-{i}") for i in range(readers)]
        self.network = self._thread(self._network, "network")
        self.writers = [self._thread(self._write, f"write-{i}") for i in range(writers)]

    def _thread(self, loop: Callable[[], None], name: str) -> threading.Thread:
        def guarded() -> None:
            try:
                loop()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.abort.set()
                self.done.put((-1, exc))

        return threading.Thread(target=guarded, daemon=True, name=f"autocolor-{name}")

    def start(self) -> None:
        for thread in (*self.readers, self.network, *self.writers):
            thread.start()

    def submit(self, index: int, job: Job) -> None:
        self.reads.put(_Work(index, job, time.perf_counter(), self.model))

    def close(self, *, abort: bool = False) -> None:
        """Stop the threads in stage order; with ``abort`` the work still queued is dropped
        (only the operation in progress in each thread is finished)."""
        if abort:
            self.abort.set()
        for _ in self.readers:
            self.reads.put(_DONE)
        for thread in self.readers:
            thread.join()
        self.inputs.put(_DONE)
        self.network.join()
        for _ in self.writers:
            self.writes.put(_DONE)
        for thread in self.writers:
            thread.join()

    def _fail(self, work: _Work, exc: BaseException) -> None:
        self._release(work)
        self.done.put((work.index, failed(work.job, exc, model=self.model, debug=self.debug, started=work.started)))

    def _reserve(self, work: _Work) -> None:
        """Take the photo's estimated memory from the budget (waiting for room), or refuse it."""
        if self.budget is None:
            return
        estimate = estimate_memory(work.job, self.format)
        if estimate is None:
            return
        size, dimensions = estimate
        if not self.budget.fits(size):
            raise InputImageError(
                work.job.item.path,
                f"too large for --max-memory: {dimensions} needs about {format_size(size)}, "
                f"{format_size(self.budget.limit)} is left once the model is loaded (possible "
                "decompression bomb; raise --max-memory if the image is real)",
            )
        if self.budget.reserve(size, cancelled=self.abort):
            work.reserved = size

    def _release(self, work: _Work) -> None:
        if self.budget is not None and work.reserved:
            self.budget.release(work.reserved)
            work.reserved = 0

    def _read(self) -> None:
        while (work := self.reads.get()) is not _DONE:
            if self.abort.is_set():
                continue
            try:
                self._reserve(work)
                if self.abort.is_set():  # the run ended while this file waited for memory
                    continue
                # Two guards before decoding: the memory estimate above (--max-memory) and, in
                # the header parse, the pixel limit (--max-pixels); each names its option.
                work.photo = read_input(work.job)
                work.small = self.colorizer.network_input(work.photo)
                work.hints = self.colorizer.hint_maps(work.job.hints, work.small[0, 0], work.photo.shape)
            except Exception as exc:  # noqa: BLE001 - a bad file fails alone
                self._fail(work, exc)
                continue
            self.inputs.put(work)

    def _network(self) -> None:
        import torch

        waiting: list[_Work] = []  # taken from the queue, not yet run (another input shape)
        closing = False
        while not (closing and not waiting):
            if not waiting:
                work = self.inputs.get()
                if work is _DONE:
                    break
                waiting.append(work)
            # Take whatever else is ready now; never wait for a batch to fill up.
            while not closing and len(waiting) < 4 * self.batch_size:
                try:
                    work = self.inputs.get_nowait()
                except queue.Empty:
                    break
                if work is _DONE:
                    closing = True
                else:
                    waiting.append(work)
            if self.abort.is_set():
                waiting.clear()
                continue
            # Photos with hints batch only with each other: their colours come back on the
            # network-input grid (hints spread there), and a hint-free photo keeps exactly the
            # automatic result whatever shares its batch.
            key = _batch_key(waiting[0])
            group = [w for w in waiting if _batch_key(w) == key][: self.batch_size]
            waiting = [w for w in waiting if all(w is not g for g in group)]
            try:
                ab = self._predict(torch.cat([w.small for w in group]), group)
            except Exception as exc:  # noqa: BLE001
                if len(group) == 1:
                    self._fail(group[0], exc)
                    continue
                self._one_by_one(group)
                continue
            for i, work in enumerate(group):
                work.ab_low = ab[i].numpy()
                work.small = work.hints = None
                self.writes.put(work)

    def _predict(self, small: Any, group: Sequence[_Work]) -> Any:
        # Hints are passed only when some photo of the group has them, so a hint-free batch
        # calls predict_low exactly as before hints existed.
        hints = _stacked_hints(group)
        return self.colorizer.predict_low(small) if hints is None else self.colorizer.predict_low(small, hints)

    def _one_by_one(self, group: list[_Work]) -> None:
        for work in group:
            try:
                work.ab_low = self._predict(work.small, [work])[0].numpy()
            except Exception as exc:  # noqa: BLE001
                self._fail(work, exc)
                continue
            work.small = work.hints = None
            self.writes.put(work)

    def _write(self) -> None:
        while (work := self.writes.get()) is not _DONE:
            if self.abort.is_set():
                continue
            try:
                assert work.photo is not None
                output = render_and_write(
                    work.job, self.colorizer, work.photo, work.ab_low, format=self.format, threads=self.render_threads
                )
            except Exception as exc:  # noqa: BLE001
                self._fail(work, exc)
                continue
            finally:
                work.ab_low = None
            result = work.ok(output)
            work.photo = None  # the photo's memory goes back before the main thread wakes up
            self._release(work)
            self.done.put((work.index, result))
