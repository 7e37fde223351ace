"""Forward-pass time of registered networks on this machine's CPU (or CUDA), as a table.

    python benchmarks/bench_forward.py --threads 2 --size 256 --models cic.lite cic.eccv16

Random weights (timing does not depend on their values). ``cic.lite`` is shown both as trained
(BatchNorm separate) and as the pipeline runs it (BatchNorm folded into the convolutions).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from autocolor.models.fusion import fuse_conv_batchnorm
from autocolor.models.registry import create_model


def time_forward(model: torch.nn.Module, size: int, device: torch.device, repeats: int) -> list[float]:
    x = torch.rand(1, 1, size, size, device=device) * 100
    with torch.inference_mode():
        for _ in range(3):  # warm-up: allocator, oneDNN kernel selection
            model(x)
        times = []
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["cic.lite", "cic.eccv16"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    table = Table(title=f"forward pass, 1x1x{args.size}x{args.size}, {args.threads} threads, {device}")
    for column in ("model", "variant", "params (M)", "median ms", "min ms"):
        table.add_column(column)
    for name in args.models:
        model = create_model(name).to(device)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        variants = [("as trained", model)]
        if name.startswith("cic.lite"):
            variants.append(("BN folded (pipeline)", fuse_conv_batchnorm(copy.deepcopy(model))))
        for label, net in variants:
            times = time_forward(net, args.size, device, args.repeats)
            table.add_row(name, label, f"{params:.2f}", f"{statistics.median(times):.1f}", f"{min(times):.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
