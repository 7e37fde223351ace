"""Baseline for ``bench_pipeline.py``: the ``colorizers`` demo pipeline, re-written step for step.

Zhang et al.'s ``colorizers`` package colorizes a photo as: load with PIL -> ``skimage`` rgb2lab
of the whole photo (float64) and of a 256 x 256 PIL resize -> network on the small L ->
bilinear upsampling of ab to full size -> ``skimage`` lab2rgb at full resolution -> save. This
script does exactly those steps (our own code, not theirs) with the same ``cic.eccv16``
architecture, so that ``autocolor colorize`` can be timed against it as whole processes:

    python benchmarks/colorizers_baseline.py in.jpg out.jpg [--random-weights] [--threads 1]

The network and its decoding (annealed mean, T = 0.38) are ours; everything around them is the
baseline's. Random weights give meaningless colours and the same time.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import color

from autocolor.decode import DecodeOptions, predict_ab
from autocolor.models import create_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    net = create_model("cic.eccv16", pretrained=not args.random_weights).eval()
    rgb = np.asarray(Image.open(args.input).convert("RGB"))  # load_img
    small = np.asarray(Image.fromarray(rgb).resize((256, 256), resample=Image.BICUBIC))  # resize_img
    lab_full = color.rgb2lab(rgb)  # full-resolution float64, as preprocess_img does
    lab_small = color.rgb2lab(small)
    l_full = torch.from_numpy(lab_full[:, :, 0])[None, None].float()
    l_small = torch.from_numpy(lab_small[:, :, 0])[None, None].float()
    with torch.inference_mode():
        ab_small = predict_ab(net, l_small, DecodeOptions(method="annealed_mean", temperature=0.38))
        ab_full = F.interpolate(ab_small, size=l_full.shape[2:], mode="bilinear")  # postprocess_tens
    lab = torch.cat((l_full, ab_full), dim=1)[0].numpy().transpose(1, 2, 0)
    out = color.lab2rgb(lab)  # full-resolution float64
    Image.fromarray(np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)).save(args.output, quality=95)


if __name__ == "__main__":
    main()
