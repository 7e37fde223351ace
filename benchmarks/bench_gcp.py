"""Time and peak memory (RSS) of one GCP colorization on the CPU, with random official-layout weights.

Usage::

    python benchmarks/bench_gcp.py [--threads 1] [--photo 1024x768] [--cases class auto sample]
        [--workdir DIR] [--keep]

What it does, each step in a fresh child process so that peaks do not mix:

1. ``prepare``: builds ``gcp.imagenet`` with random weights (seed 0), saves them as the five
   official files (``colorization_model.pth``, ``biggan_E.pth``, ``biggan_G_ema_256.pth``,
   ``biggan_D_256.pth``, ``deformator_for_biggan.pt``; 1.24 GB) and imports the folder exactly as
   ``autocolor fetch-weights gcp.imagenet --from DIR`` does (hash recorded, converted to
   safetensors) into a private ``$AUTOCOLOR_HOME``.
2. one child per case: loads ``gcp.imagenet`` from that cache (strict load) and colorizes a
   random photo (L* resized to 256x256 for the networks, ab upsampled to the photo's size, the
   photo's own L* kept). Reported: load time, colorization time, peak RSS after loading and at
   the end.

Cases: ``class`` (class given: one E + G pass), ``auto`` (class chosen automatically from a
shortlist of 3: D projection + 3 E + G passes), ``sample`` (class given, latent perturbed),
``stages`` (the 256x256 network part only, timed step by step: E, G, D features of both images,
``net_corr``, ``net_gen``; D projection over all classes).
Random weights give meaningless colours; time and memory do not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = ("class", "auto", "sample", "stages")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def prepare(workdir: Path) -> dict[str, float | str]:
    import torch

    from autocolor import weights
    from autocolor.models import create_model
    from autocolor.weights.convert_gcp import official_checkpoints

    torch.manual_seed(0)
    start = time.perf_counter()
    net = create_model("gcp.imagenet")
    files = official_checkpoints(net.state_dict())
    del net
    assets = workdir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    for name, obj in files.items():
        torch.save(obj, assets / name)
    del files
    written = time.perf_counter()
    weights.import_file("gcp.imagenet", assets)
    size = sum(p.stat().st_size for p in assets.iterdir())
    return {
        "case": "prepare", "official_bytes": str(size), "write_s": round(written - start, 1),
        "import_s": round(time.perf_counter() - written, 1), "peak_mb": round(_peak_mb()),
    }  # fmt: skip


def run_stages() -> dict[str, float | str]:
    import torch

    from autocolor.pipeline import load_model

    net = load_model("gcp.imagenet", "cpu", offline=True)
    lightness = torch.rand(1, 1, 256, 256, generator=torch.Generator().manual_seed(0)) * 100
    ids = torch.tensor([207])
    times: dict[str, float | str] = {"case": "stages"}

    def timed(name: str, fn, *a):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        out = fn(*a)
        times[name] = round(time.perf_counter() - start, 2)
        return out

    with torch.inference_mode():
        z = timed("E_s", net.invert, lightness, ids)
        prior = timed("G_s", net.generate, z, ids)
        x = net.normalize(lightness)
        query = timed("D_feat_s", net.biggan_dis.features, x)
        reference = net.biggan_dis.features(prior.image)
        warped = timed("corr_s", net.net_corr, query, reference, prior.features)
        timed("gen_s", net.net_gen, x, warped)
        timed("D_proj_s", net.class_scores, lightness)
    times["peak_mb"] = round(_peak_mb())
    return times


def run_case(case: str, photo: tuple[int, int]) -> dict[str, float | str]:
    import numpy as np
    import torch

    from autocolor.pipeline import Colorizer

    if case == "stages":
        return run_stages()

    start = time.perf_counter()
    extra = {} if case == "auto" else {"class_id": 207}
    colorizer = Colorizer("gcp.imagenet", "cpu", offline=True, extra=extra,
                          decoding="sample" if case == "sample" else None, seed=1)  # fmt: skip
    loaded = time.perf_counter()
    built = _peak_mb()
    width, height = photo
    lightness = (np.random.default_rng(0).random((height, width)) * 100).astype(np.float32)
    rgb = colorizer.colorize_lightness(lightness)
    done = time.perf_counter()
    assert rgb.shape == (height, width, 3) and np.isfinite(rgb).all()
    return {
        "case": case, "threads": str(torch.get_num_threads()), "load_s": round(loaded - start, 1),
        "colorize_s": round(done - loaded, 1), "rss_after_load_mb": round(built), "peak_mb": round(_peak_mb()),
    }  # fmt: skip


def _child(args: argparse.Namespace, step: str, env: dict[str, str]) -> dict[str, float | str]:
    cmd = [sys.executable, __file__, "--child", step, "--threads", str(args.threads), "--photo", args.photo,
           "--workdir", str(args.workdir)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{step} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--photo", default="1024x768", help="WxH of the random photo")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (files and cache)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    photo = tuple(int(v) for v in args.photo.lower().split("x"))
    if args.child is not None:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["AUTOCOLOR_HOME"] = str(args.workdir / "home")
        result = prepare(args.workdir) if args.child == "prepare" else run_case(args.child, photo)  # type: ignore[arg-type]
        print(json.dumps(result))
        return

    temporary = args.workdir is None
    args.workdir = Path(tempfile.mkdtemp(prefix="bench_gcp_")) if temporary else args.workdir
    env = {**os.environ, "AUTOCOLOR_HOME": str(args.workdir / "home")}
    env.pop("AUTOCOLOR_WEIGHTS_TOML", None)  # the real manifest: gcp.imagenet and its five parts
    try:
        rows = [_child(args, "prepare", env)] + [_child(args, case, env) for case in args.cases]
    finally:
        if temporary and not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    print(f"GCP (gcp.imagenet, random official-layout weights), CPU, {args.threads} thread(s), "
          f"photo {args.photo}, networks at 256x256")  # fmt: skip
    keys = sorted({k for row in rows for k in row if k != "case"})
    print("| case | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for row in rows:
        print(f"| {row['case']} | " + " | ".join(str(row.get(k, "")) for k in keys) + " |")


if __name__ == "__main__":
    main()
