"""Seconds per PIC sample: naive (one PixelCNN pass per chroma pixel) versus cached sampling.

Usage::

    python benchmarks/bench_pic_sampling.py [--threads 2] [--repeats 3] [--models pic.tiny pic.small]
        [--naive-max-pixels 256] [--size 64]

Random weights (the cost does not depend on the values). Each cell is the best of ``--repeats``
runs of one sample (batch 1) including the embedding ``g(L)``, which both samplers compute once
(its own time is the ``embed s`` column). For models whose chroma has more than
``--naive-max-pixels`` pixels the naive sampler is not run to the end: its time is estimated as
one embedding plus ``h * w`` times the best of a few full PixelCNN passes (marked ``~``; the
per-pixel drawing overhead, well under a millisecond, is left out, so the estimate is low).
Where both ran, they are checked to give the same sample for the same seed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from autocolor.decode.autoregressive import sample_cached, sample_naive
from autocolor.models import create_model, model_info

Sampler = Callable[..., torch.Tensor]


def best_time(
    sampler: Sampler, net: torch.nn.Module, lightness: torch.Tensor, repeats: int
) -> tuple[float, torch.Tensor]:
    best, out = float("inf"), torch.empty(0)
    for _ in range(repeats):
        generator = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        out = sampler(net, lightness, generator=generator)
        best = min(best, time.perf_counter() - start)
    return best, out


def row(cells: tuple[object, ...], widths: tuple[int, ...]) -> str:
    """Cells right-aligned to ``widths`` (a negative width left-aligns)."""
    return "".join(f"{cell!s:<{-w}}" if w < 0 else f"{cell!s:>{w}}" for cell, w in zip(cells, widths))


@torch.no_grad()
def estimate_naive(net: torch.nn.Module, lightness: torch.Tensor, passes: int = 3) -> float:
    start = time.perf_counter()
    embedding = net.embed(lightness)
    embed_s = time.perf_counter() - start
    lum = net.chroma_lightness(lightness)
    canvas = torch.cat((torch.zeros_like(lum).repeat(1, 3, 1, 1), torch.ones_like(lum)), dim=1)
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        net.pixelcnn(canvas, embedding)
        best = min(best, time.perf_counter() - start)
    return embed_s + best * lum.shape[-2] * lum.shape[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["pic.tiny", "pic.small"])
    parser.add_argument("--size", type=int, default=None, help="input side (default: the model's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-max-pixels", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    print(f"torch {torch.__version__}, {args.threads} thread(s), batch 1, best of {args.repeats}")
    columns = ("model", "input", "chroma", "embed s", "naive s", "cached s", "ratio", "same")
    widths = (-14, 7, 8, 9, 10, 10, 8, 6)
    header = row(columns, widths)
    print(header)
    print("-" * len(header))
    for name in args.models:
        net = create_model(name)
        size = args.size or model_info(name).input_size
        lightness = torch.rand(1, 1, size, size) * 100
        d = net.downsample
        pixels = (size // d) ** 2
        cached_s, cached = best_time(sample_cached, net, lightness, args.repeats)
        if pixels <= args.naive_max_pixels:
            naive_s, naive = best_time(sample_naive, net, lightness, 1)
            same = str(bool(torch.equal(naive, cached)))
            naive_txt, ratio = f"{naive_s:.3f}", f"{naive_s / cached_s:.1f}x"
        else:
            naive_s = estimate_naive(net, lightness)
            naive_txt, ratio, same = f"~{naive_s:.1f}", f"~{naive_s / cached_s:.0f}x", "n/a"
        chroma = f"{size // d}x{size // d}"
        with torch.no_grad():
            embed_s = best_time(lambda n, x, generator: n.embed(x), net, lightness, args.repeats)[0]
        cells = (name, size, chroma, f"{embed_s:.3f}", naive_txt, f"{cached_s:.3f}", ratio, same)
        print(row(cells, widths))


if __name__ == "__main__":
    main()
