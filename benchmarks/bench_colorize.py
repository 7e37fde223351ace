"""Wall time of ``autocolor colorize`` on a 12-megapixel JPEG, per model and upsampling method.

    python benchmarks/bench_colorize.py --threads 2
    python benchmarks/bench_colorize.py --models cic.lite cic.eccv16 cic.tiny --repeats 3

Each run is a fresh ``autocolor colorize`` process (start-up, model load, read, network,
upsampling, write: what a user waits for), timed end to end; the table gives the median.
Models whose weights are not bundled or cached run with random weights (``--random-weights``):
the time does not depend on the weights' values. The photo is synthetic (smooth gradients and
edges, 4000 x 3000, JPEG q90) and made fresh in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table


def make_photo(path: Path, width: int = 4000, height: int = 3000) -> None:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    gray = 128 + 60 * np.sin(x / 97.0) * np.cos(y / 131.0) + 40 * ((x // 400 + y // 300) % 2)
    noise = np.random.default_rng(0).normal(0, 6, gray.shape)
    Image.fromarray(np.clip(gray + noise, 0, 255).astype(np.uint8), mode="L").save(path, quality=90)


def has_weights(model: str) -> bool:
    from autocolor import weights

    try:
        weights.spec(model)
    except Exception:
        return False
    return weights.cached_weights(model) is not None or any(s.kind == "bundled" for s in weights.spec(model).sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["cic.lite", "cic.eccv16", "cic.tiny"])
    parser.add_argument("--upsample", nargs="+", default=["bilinear", "guided"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    table = Table(title=f"autocolor colorize, 4000x3000 JPEG (12 MP), {args.threads} threads, CPU")
    for column in ("model", "weights", "upsample", "median s", "runs (s)"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo12mp.jpg"
        make_photo(photo)
        for model in args.models:
            real = has_weights(model)
            for method in args.upsample:
                times = []
                for i in range(args.repeats):
                    out = Path(tmp) / f"out_{model}_{method}_{i}.jpg"
                    command = [sys.executable, "-m", "autocolor", "colorize", str(photo), "-o", str(out),
                               "--model", model, "--upsample", method, "--device", "cpu", "--quiet", "--offline"]
                    if not real:
                        command.append("--random-weights")
                    start = time.perf_counter()
                    subprocess.run(command, check=True, env=env)
                    times.append(time.perf_counter() - start)
                table.add_row(model, "real" if real else "random", method, f"{statistics.median(times):.2f}",
                              " ".join(f"{t:.2f}" for t in times))
    Console().print(table)


if __name__ == "__main__":
    main()
