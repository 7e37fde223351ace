"""Ray Data vs the plain in-process batch on one machine: images/s and Ray's overhead per image.

    python benchmarks/bench_scaleout.py                      # 64 photos, 640x480, cic.lite, all cores
    python benchmarks/bench_scaleout.py --photos 64 --cpus 2 --model cic.lite

Both paths colorize the same 64 synthetic grayscale JPEGs (made fresh in a temporary folder)
into fresh output folders, in this one process, one after the other:

- plain: ``Colorizer`` loaded once, then :func:`autocolor.batch.runner.run_batch` (reader
  threads -> batched network -> writer threads) with torch using ``--cpus`` threads;
- Ray: a local Ray instance with ``--cpus`` CPUs, then
  :func:`autocolor.batch.ray_runner.run_jobs_on_ray` with 1 actor and with ``--cpus`` actors
  (one CPU and one torch thread each). Each Ray run starts its actors (a worker process each,
  importing torch and loading the model): that is part of what a user waits for, so it is in
  the time; the cluster start-up is measured apart.

Overhead per image = (Ray wall time - plain wall time, model load included in both) / photos.
The target line states what Ray must not cost on one machine; on a cluster the point of Ray
is the machines it adds, which this benchmark cannot show.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

#: Ray's extra cost per image on one machine, amortised over the batch, actors' start included.
TARGET_OVERHEAD_MS = 150.0


def make_photos(folder: Path, count: int, width: int, height: int) -> list[Path]:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for i in range(count):
        phase = rng.uniform(0, 6.28)
        gray = 128 + 60 * np.sin(x / (40 + i) + phase) * np.cos(y / 53.0) + 30 * ((x // 80 + y // 60) % 2)
        noise = rng.normal(0, 5, gray.shape)
        path = folder / f"photo_{i:03d}.jpg"
        Image.fromarray(np.clip(gray + noise, 0, 255).astype(np.uint8), mode="L").save(path, quality=90)
        paths.append(path)
    return paths


def plan(photos: list[Path], root: Path, output: Path) -> list:  # type: ignore[type-arg]
    from autocolor.batch.plan import InputFile, plan_jobs

    return plan_jobs([InputFile(str(p), root) for p in photos], str(output), folder=True, format=None, overwrite=False)


def timed(run: Callable[[list[Path], Path], None], photos: list[Path], out: Path) -> float:
    start = time.perf_counter()
    run(photos, out)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--model", default="cic.lite")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # local instance on loopback only
    import ray
    import torch

    from autocolor.batch.ray_runner import ColorizerSettings, RayOptions, run_jobs_on_ray
    from autocolor.batch.runner import run_batch
    from autocolor.pipeline import Colorizer

    def check(results: list) -> None:  # type: ignore[type-arg]
        bad = [r.error for r in results if r.status != "ok"]
        assert not bad and len(results) > 0, bad

    rows: list[tuple[str, str, float, float]] = []  # name, workers, wall for all photos, wall for one
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        photos = make_photos(src, args.photos, args.width, args.height)
        torch.set_num_threads(args.cpus)

        def plain(chosen: list[Path], out: Path) -> None:
            check(run_batch(plan(chosen, src, out), Colorizer(args.model, "cpu", offline=True)))

        walls = [timed(plain, chosen, Path(tmp) / f"plain{n}") for n, chosen in enumerate((photos, photos[:1]))]
        rows.append(("plain run_batch", f"1 process, {args.cpus} torch threads", *walls))

        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})  # fmt: skip
        cluster_start = time.perf_counter() - start
        settings = ColorizerSettings(args.model, "cpu", offline=True)
        for actors in sorted({1, args.cpus}):

            def on_ray(chosen: list[Path], out: Path, actors: int = actors) -> None:
                check(run_jobs_on_ray(plan(chosen, src, out), settings, options=RayOptions(actors=actors), quiet=True))

            walls = [timed(on_ray, chosen, Path(tmp) / f"ray{actors}_{n}") for n, chosen in enumerate((photos, photos[:1]))]
            rows.append(("Ray Data map_batches", f"{actors} actor(s) x 1 CPU", *walls))
        ray.shutdown()

    n = args.photos
    plain_marginal = (rows[0][2] - rows[0][3]) / (n - 1)
    table = Table(title=f"{n} photos {args.width}x{args.height}, {args.model}, CPU, {args.cpus} cores")
    for column in ("path", "workers", f"wall s ({n})", "images/s", "start-up s (1 photo)",
                   "ms/image after start-up", "Ray overhead ms/image", "target"):  # fmt: skip
        table.add_column(column)
    for name, workers, wall, one in rows:
        marginal = (wall - one) / (n - 1)
        is_ray = name.startswith("Ray")
        overhead = f"{(wall - rows[0][2]) / n * 1000:.0f}" if is_ray else "-"
        target = f"<= {TARGET_OVERHEAD_MS:.0f}" if is_ray else ""
        table.add_row(name, workers, f"{wall:.2f}", f"{n / wall:.2f}", f"{one:.2f}", f"{marginal * 1000:.0f}",
                      overhead, target)  # fmt: skip
    table.add_row("Ray cluster start", f"local, {args.cpus} CPUs", f"{cluster_start:.2f}", "", "", "", "", "")
    Console(width=160).print(table)
    print(f"plain marginal {plain_marginal * 1000:.0f} ms/image; Ray overhead = (Ray wall - plain wall) / {n}, "
          "actor start-up included, cluster start not")  # fmt: skip


if __name__ == "__main__":
    main()
