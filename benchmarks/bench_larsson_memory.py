"""Peak memory (RSS) of Larsson networks: sum-of-slices vs concatenated head, sparse vs dense training.

Usage::

    python benchmarks/bench_larsson_memory.py [--size 512] [--train-size 256] [--batch 8]
        [--points 128] [--threads 1] [--cases vgg16-slices vgg16-naive small-sparse small-dense]

Every case runs in a fresh child process and reports that process's peak resident set size
(``ru_maxrss``) after building the model ("after build") and at the end ("peak"), so cases do not
inherit each other's allocations. Random weights (memory does not depend on the values).

- ``vgg16-slices``: ``larsson.vgg16`` forward on one ``size x size`` image, no grad, with the
  head as a sum of per-layer contributions (what autocolor runs).
- ``vgg16-naive``: the same through the materialised 12,417-channel hypercolumn (the official
  deploy net's way; ~800 MB of hypercolumn alone at 512).
- ``small-sparse`` / ``small-dense``: one training step (forward + backward) of ``larsson.small``
  on ``batch`` crops of ``train-size``, with the sparse objective (``points`` locations per image)
  or the dense one (features upsampled to full resolution, loss at every pixel).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CASES = ("vgg16-slices", "vgg16-naive", "small-sparse", "small-dense")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_case(case: str, args: argparse.Namespace) -> dict[str, float | str]:
    """Run one case in this process; returns the measurements."""
    import torch

    from autocolor.models import create_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if case.startswith("vgg16"):
        net = create_model("larsson.vgg16")
        lightness = torch.rand(1, 1, args.size, args.size) * 100
        built = _peak_mb()
        start = time.perf_counter()
        with torch.no_grad():
            out = net(lightness) if case == "vgg16-slices" else net.forward_naive(lightness)
        shape = tuple(out.shape)
    else:
        from autocolor.train.larsson_objective import LarssonObjective

        net = create_model("larsson.small").train()
        lightness = torch.rand(args.batch, 1, args.train_size, args.train_size) * 100
        ab = (torch.rand(args.batch, 2, args.train_size, args.train_size) - 0.5) * 60
        objective = LarssonObjective(points_per_image=args.points, dense=case == "small-dense")
        built = _peak_mb()
        start = time.perf_counter()
        loss, _ = objective(net, lightness, ab)
        loss.backward()
        shape = (args.batch, args.train_size, args.train_size)
    return {"case": case, "shape": str(shape), "built_mb": built, "peak_mb": _peak_mb(),
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--points", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child, args)))
        return

    forwarded = ["--size", str(args.size), "--train-size", str(args.train_size), "--batch",
                 str(args.batch), "--points", str(args.points), "--threads", str(args.threads)]
    print(f"peak RSS per case (fresh process each), {args.threads} thread(s), random weights")
    header = f"{'case':<14}{'tensor':>22}{'after build MB':>16}{'peak MB':>10}{'step MB':>10}{'s':>7}"
    print(header)
    print("-" * len(header))
    for case in args.cases:
        done = subprocess.run([sys.executable, __file__, "--child", case, *forwarded],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{case:<14} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{r['case']:<14}{r['shape']:>22}{r['built_mb']:>16.0f}{r['peak_mb']:>10.0f}"
              f"{r['peak_mb'] - r['built_mb']:>10.0f}{r['seconds']:>7.1f}")


if __name__ == "__main__":
    main()
