"""Every target of issue 14 (except ``sample --n``), measured in one run, target beside figure.

    python benchmarks/bench_pipeline.py               # all (~10 minutes on two busy cores)
    python benchmarks/bench_pipeline.py --skip-200mp  # without the 200-megapixel scan

Photos are made here (smooth shapes, edges and noise; JPEG q90): 12 MP = 4000 x 3000, 50 MP =
8660 x 5774, 200 MP = 17000 x 12000. Whole-process figures are medians of interleaved runs of
``autocolor colorize`` minus a ``python -c "import torch"`` run just before each (the machine is
shared and noisy: only figures from one run are compared). CPU, bundled default model (cic.lite),
except the baseline comparison, which runs cic.eccv16 with random weights in both pipelines
(``colorizers_baseline.py``, torch threads 1 in both, as ``autocolor colorize`` runs them).
Peak memory is the child's maximum resident set size (``wait4``). No GPU here: the CUDA path
(batched autocast, pinned buffers) is not measured by this script.
"""

from __future__ import annotations

import argparse
import io
import json
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

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
AUTOCOLOR = [sys.executable, "-m", "autocolor", "colorize"]
IMPORT_TORCH = [sys.executable, "-c", "import torch"]
MB = 1 << 20


def make_photo(path: Path, width: int, height: int, seed: int = 0) -> None:
    """A gray JPEG (q90) made a band of rows at a time (a 200 MP photo without GBs of floats)."""
    gray = np.empty((height, width), np.uint8)
    rng = np.random.default_rng(seed)
    x = np.arange(width, dtype=np.float32)[None]
    for top in range(0, height, 512):
        y = np.arange(top, min(height, top + 512), dtype=np.float32)[:, None]
        band = 128 + 60 * np.sin(x / 97.0 + seed) * np.cos(y / 131.0) + 40 * ((x // 400 + y // 300) % 2)
        gray[top : top + 512] = np.clip(band + rng.normal(0, 6, band.shape), 0, 255)
    Image.fromarray(gray, mode="L").save(path, quality=90)


CPU_USED: dict[str, float] = {}  # last child's user + system seconds, by command name


def run(command: list[str], name: str = "") -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one child process; raises if it fails."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {child.stderr.read().decode() if child.stderr else ''}")
    CPU_USED[name] = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss * 1024


def paired(commands: dict[str, list[str]], repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median over rounds of (command's wall time - ``import torch``'s, run just before it).

    Commands are run in turns, each right after its own ``import torch`` reference, so that the
    load of the shared machine changes both sides of a difference alike.
    """
    differences: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            reference = run(IMPORT_TORCH, "torch")[0]
            differences[name].append(run(command, name)[0] - reference)
            cpu[name].append(CPU_USED[name] - CPU_USED["torch"])
    median = statistics.median
    return ({n: median(v) for n, v in differences.items()}, {n: median(v) for n, v in cpu.items()})


def floor_per_photo(paths: list[Path]) -> float:
    """Pillow alone: decode the gray JPEG, encode an RGB JPEG of the same size (q90); mean wall seconds."""
    total = 0.0
    for path in paths:
        start = time.perf_counter()
        with Image.open(path) as img:
            gray = np.asarray(img)
        Image.fromarray(np.repeat(gray[..., None], 3, axis=-1)).save(io.BytesIO(), "JPEG", quality=90)
        total += time.perf_counter() - start
    return total / len(paths)


STARTUP = """
import json, time, sys
t0 = time.perf_counter(); import torch; t1 = time.perf_counter()
import autocolor.cli, autocolor.cli.colorize, autocolor.pipeline, autocolor.render, autocolor.batch.runner
t2 = time.perf_counter()
from autocolor.batch.runner import kernels_single_threaded
with kernels_single_threaded("cpu"):
    from autocolor.pipeline import Colorizer
    Colorizer("cic.lite", "cpu")
t3 = time.perf_counter(); from skimage.color import lab2rgb, rgb2lab; t4 = time.perf_counter()
print(json.dumps(dict(torch=t1 - t0, autocolor=t2 - t1, model=t3 - t2, skimage=t4 - t3)))
"""


def startup(repeats: int) -> dict[str, float]:
    runs = [json.loads(subprocess.run([sys.executable, "-c", STARTUP], env=ENV, capture_output=True, text=True,
                                      check=True).stdout) for _ in range(repeats)]  # fmt: skip
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def stage_profile(photo_path: Path, repeats: int) -> list[tuple[str, float, str]]:
    """Per-stage seconds of one 12 MP photo in this process, with each stage's floor."""
    import cv2

    from autocolor.batch.runner import kernels_single_threaded
    from autocolor.imageencode import encode_codes, output_layout
    from autocolor.imagefile import read_photo
    from autocolor.pipeline import Colorizer

    def best(fn) -> tuple[float, object]:  # noqa: ANN001
        results = []
        for _ in range(repeats):
            start = time.perf_counter()
            value = fn()
            results.append((time.perf_counter() - start, value))
        return min(results, key=lambda r: r[0])

    with kernels_single_threaded("cpu"):
        colorizer = Colorizer("cic.lite", "cpu")
        read, photo = best(lambda: read_photo(photo_path))
        data = photo_path.read_bytes()
        pil_decode, _ = best(lambda: Image.open(io.BytesIO(data)).load())
        cv2_decode, _ = best(lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE))
        net_in, small = best(lambda: colorizer.network_input(photo))
        network, ab = best(lambda: colorizer.predict_low(small)[0].numpy())
        layout = output_layout("JPEG", photo)
        render1, codes = best(lambda: colorizer.render(photo, ab, layout, threads=1))
        render2, _ = best(lambda: colorizer.render(photo, ab, layout, threads=2))
        touch, _ = best(lambda: np.copyto(np.empty_like(codes), codes))
        encode, _ = best(lambda: encode_codes(codes, photo, "JPEG", layout, quality=95))
        rgb = np.ascontiguousarray(codes[..., ::-1])
        pil_encode, _ = best(lambda: Image.fromarray(rgb).save(io.BytesIO(), "JPEG", quality=95))
        cv2_encode, _ = best(lambda: cv2.imencode(".jpg", codes, [cv2.IMWRITE_JPEG_QUALITY, 95]))
        whole = render_codes_unstreamed_difference(photo, ab)
    return [
        ("read (decode + L* table)", read, f"Pillow decode alone {pil_decode:.3f}, OpenCV {cv2_decode:.3f}"),
        ("network input (strips)", net_in, "-"),
        ("network + decoding (cic.lite)", network, "-"),
        ("colour work, 1 thread", render1, f"copying the output once {touch:.3f}"),
        ("colour work, 2 threads", render2, f"copying the output once {touch:.3f}"),
        ("encode JPEG q95 (OpenCV)", encode, f"libjpeg-turbo alone: OpenCV {cv2_encode:.3f}, Pillow {pil_encode:.3f}"),
        ("streamed vs whole-image max diff (codes)", whole, "target <= 1"),
    ]


def render_codes_unstreamed_difference(photo, ab) -> float:  # noqa: ANN001
    """Max code difference between the default strips and one strip holding the whole photo."""
    from autocolor.render import render_codes

    streamed = render_codes(photo, ab).astype(np.int16)
    return float(np.abs(streamed - render_codes(photo, ab, rows=photo.shape[0])).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-200mp", action="store_true")
    args = parser.parse_args()
    console = Console()
    rows: list[tuple[str, str, str, bool | None, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i in range(16):
            make_photo(folder / f"p{i:02d}.jpg", 4000, 3000, seed=i)
        photo = folder / "p00.jpg"
        out = Path(tmp) / "out"
        out.mkdir()
        single = [*AUTOCOLOR, str(photo), "-o", str(out / "single.jpg"), "--device", "cpu", "--quiet", "--overwrite"]
        batch = [*AUTOCOLOR, str(folder), "-o", str(out / "folder"), "--device", "cpu", "--quiet", "--overwrite"]
        ours = [*AUTOCOLOR, str(photo), "-o", str(out / "eccv16.jpg"), "--model", "cic.eccv16", "--random-weights",
                "--device", "cpu", "--quiet", "--overwrite", "--offline"]  # fmt: skip
        baseline = [sys.executable, str(ROOT / "benchmarks" / "colorizers_baseline.py"), str(photo),
                    str(out / "baseline.jpg"), "--random-weights", "--threads", "1"]  # fmt: skip
        console.print("timing whole processes ...")
        med, cpu = paired({"single": single, "folder": batch, "ours": ours, "baseline": baseline}, args.repeats)
        floor = floor_per_photo(sorted(folder.glob("*.jpg")))
        per_photo = med["folder"] / 16
        speedup = med["baseline"] / med["ours"]
        rows += [
            ("12 MP JPEG, whole process - import torch", "<= 1.00 s", f"{med['single']:.2f} s (CPU {cpu['single']:.2f} s)",
             med["single"] <= 1.0,
             " ".join(single[2:])),
            ("folder of 16 x 12 MP, per photo (whole process - import torch) / 16", f"<= 3 x floor = {3 * floor:.2f} s",
             f"{per_photo:.2f} s ({per_photo / floor:.1f} x floor {floor:.2f} s; CPU {cpu['folder'] / 16:.2f} s a photo)",
             per_photo <= 3 * floor, " ".join(batch[2:])),
            ("vs colorizers-style baseline (cic.eccv16), both - import torch", ">= 3.0 x",
             f"{speedup:.1f} x ({med['baseline']:.2f} s vs {med['ours']:.2f} s; CPU {cpu['baseline'] / cpu['ours']:.1f} x)",
             speedup >= 3.0, " ".join(ours[2:])),
        ]  # fmt: skip
        for name, width, height, limit in (("50 MP", 8660, 5774, None), ("200 MP", 17000, 12000, 2 << 30)):
            if name == "200 MP" and args.skip_200mp:
                continue
            big = Path(tmp) / f"{name.split()[0]}mp.jpg"
            console.print(f"making and colorizing the {name} photo ...")
            make_photo(big, width, height)
            command = [*AUTOCOLOR, str(big), "-o", str(out / big.name), "--device", "cpu", "--quiet", "--overwrite"]
            wall, rss = run(command)
            big.unlink()
            goal = limit if limit is not None else 4 * 3 * width * height
            label = "<= 2 GB" if limit else f"<= 4 x RGB = {goal / MB:.0f} MB"
            rows.append((f"{name} ({width}x{height}) peak RSS", label, f"{rss / MB:.0f} MB ({wall:.1f} s)", rss <= goal,
                         " ".join(command[2:])))  # fmt: skip
        console.print("per-stage profile ...")
        stages = stage_profile(photo, args.repeats)
    start = startup(args.repeats)
    table = Table(title="issue 14 targets (CPU, this machine, one run)")
    for column in ("target", "goal", "measured", "met", "command"):
        table.add_column(column, overflow="fold")
    for target, goal, measured, met, command in rows:
        table.add_row(target, goal, measured, {True: "yes", False: "NO", None: "-"}[met], command)
    console.print(table)
    profile = Table(title="12 MP photo, per stage (best of runs, seconds) and each stage's floor")
    for column in ("stage", "seconds", "floor"):
        profile.add_column(column)
    for stage, seconds, floor_text in stages:
        profile.add_row(stage, f"{seconds:.3f}", floor_text)
    console.print(profile)
    console.print("start-up (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in start.items())
                  + "  (skimage is not imported by colorize; shown for what it would add)")  # fmt: skip


if __name__ == "__main__":
    main()
