"""``autocolor sample --n 8``: the samples of a photo drawn as one batch versus one after another.

Usage::

    python benchmarks/bench_pic_sample_batch.py [--model pic.deep128] [--n 8] [--threads 2]
        [--repeats 3] [--size 256] [--no-cli]

Target (issue 14): n samples of a 256x256 photo with ``pic.deep128`` in <= 3x the time of one
sample. Two measurements, each the best of ``--repeats`` and interleaved so that a noisy
machine slows all columns alike:

- in process (model loaded once): :func:`autocolor.sampling.draw_samples` for one seed, for
  ``n`` seeds as one batch (what ``autocolor sample`` does), and for the same ``n`` seeds one
  after another (``batch=1``: what it did before, for reference); each includes drawing,
  bits/dim scoring, guided upsampling and the Lab -> RGB conversion. The batched samples are
  checked to be bit-identical to the sequential ones (``same``).
- whole process (``--no-cli`` skips it): ``autocolor sample photo.jpg --n 1`` and ``--n n``,
  start-up, model load, reading, writing the samples and the contact sheet included.

The model's bundled weights are used when it has them, else random ones (the time does not
depend on the values). The photo is synthetic (gradients and texture), made in a temporary
folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from autocolor.sampling import DrawnSample, draw_samples, plan_sampling

TARGET = 3.0


def make_photo(path: Path, side: int) -> np.ndarray:
    """A gray ``side x side`` JPEG (q90) at ``path``; returns its L* as the CLI reads it."""
    from autocolor.imagefile import read_photo

    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    gray = 128 + 70 * np.sin(x / 23.0) * np.cos(y / 31.0) + 30 * ((x // 64 + y // 48) % 2)
    noise = np.random.default_rng(0).normal(0, 6, gray.shape)
    Image.fromarray(np.clip(gray + noise, 0, 255).astype(np.uint8), mode="L").save(path, quality=90)
    return read_photo(str(path)).lightness


def bundled(model: str) -> bool:
    from autocolor import weights

    try:
        return any(source.kind == "bundled" for source in weights.spec(model).sources)
    except Exception:  # noqa: BLE001 - no manifest entry: random weights
        return False


def timed(work: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def row(cells: tuple[object, ...], widths: tuple[int, ...]) -> str:
    """Cells right-aligned to ``widths`` (a negative width left-aligns)."""
    return "".join(f"{cell!s:<{-w}}" if w < 0 else f"{cell!s:>{w}}" for cell, w in zip(cells, widths))


def identical(a: list[DrawnSample], b: list[DrawnSample]) -> bool:
    return all(
        x.seed == y.seed and np.array_equal(x.rgb, y.rgb) and x.bits_per_dim == y.bits_per_dim for x, y in zip(a, b)
    )


def in_process(args: argparse.Namespace, lightness: np.ndarray, weights: bool) -> tuple[float, float, float, bool]:
    """Best seconds for one sample, n batched, n one after another; and whether they agree."""
    plan = plan_sampling(args.model)
    colorizer = plan.colorizer("cpu", pretrained=weights)
    seeds = list(range(args.n))
    one = batched = sequential = float("inf")
    same = True
    for _ in range(args.repeats):
        seconds, _ = timed(lambda: list(draw_samples(colorizer, plan, lightness, seeds[:1])))
        one = min(one, seconds)
        seconds, together = timed(lambda: list(draw_samples(colorizer, plan, lightness, seeds)))
        batched = min(batched, seconds)
        seconds, apart = timed(lambda: list(draw_samples(colorizer, plan, lightness, seeds, batch=1)))
        sequential = min(sequential, seconds)
        same = same and identical(together, apart)  # type: ignore[arg-type]
    return one, batched, sequential, same


def whole_process(args: argparse.Namespace, photo: Path, weights: bool, out: Path) -> tuple[float, float]:
    """Best seconds of ``autocolor sample`` with ``--n 1`` and ``--n n``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    extra = [] if weights else ["--random-weights"]
    base = [sys.executable, "-m", "autocolor", "sample", str(photo), "--model", args.model, "--device", "cpu",
            "-q", "--overwrite", *extra]  # fmt: skip
    best = {1: float("inf"), args.n: float("inf")}
    for _ in range(args.repeats):
        for n in best:
            command = [*base, "--n", str(n), "-o", str(out / f"n{n}")]
            seconds, done = timed(lambda: subprocess.run(command, env=env, capture_output=True, text=True))
            if done.returncode != 0:  # type: ignore[attr-defined]
                raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")  # type: ignore[attr-defined]
            best[n] = min(best[n], seconds)
    return best[1], best[args.n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pic.deep128")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--size", type=int, default=256, help="side of the synthetic photo")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="skip the whole-process timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    weights = bundled(args.model)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.model} "
          f"({'bundled' if weights else 'random'} weights), {args.size}x{args.size} photo, best of {args.repeats}")  # fmt: skip
    columns = ("measured", "n=1 s", f"n={args.n} batched s", "ratio", "target", "met",
               f"n={args.n} one by one s", "speed-up", "same")  # fmt: skip
    widths = (-15, 8, 18, 7, 8, 5, 20, 10, 6)
    header = row(columns, widths)
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        lightness = make_photo(photo, args.size)
        one, batched, sequential, same = in_process(args, lightness, weights)
        ratio = batched / one
        print(row(("in process", f"{one:.2f}", f"{batched:.2f}", f"{ratio:.2f}x", f"<= {TARGET:g}x",
                   "yes" if ratio <= TARGET else "NO", f"{sequential:.2f}", f"{sequential / batched:.1f}x",
                   str(same)), widths))  # fmt: skip
        if not args.no_cli:
            cli_one, cli_n = whole_process(args, photo, weights, Path(tmp))
            ratio = cli_n / cli_one
            print(row(("autocolor CLI", f"{cli_one:.2f}", f"{cli_n:.2f}", f"{ratio:.2f}x", f"<= {TARGET:g}x",
                       "yes" if ratio <= TARGET else "NO", "-", "-", "-"), widths))  # fmt: skip
    print(f"command: autocolor sample photo.jpg --n {args.n} --model {args.model} "
          f"(one by one = draw_samples(..., batch=1), the sampler before batching)")  # fmt: skip


if __name__ == "__main__":
    main()
