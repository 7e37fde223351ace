#!/usr/bin/env python
"""Colorize photos with one or more models and write one comparison sheet (for docs/ images).

Rows are photos; columns are the gray input, then one colorization per model. Everything goes
through the project's own pipeline (:class:`autocolor.pipeline.Colorizer`), so the sheet shows
exactly what ``autocolor colorize`` produces.

Examples::

    python scripts/make_contact_sheet.py ../shared/data/legacy -o docs/legacy.png \\
        --model cic.eccv16 --model cic.eccv16:mode --model larsson.vgg16 --limit 6
    python scripts/make_contact_sheet.py a.jpg b.jpg -o sheet.png --model pic.small --seed 1
    python scripts/make_contact_sheet.py photos/ -o docs/pic.jpg --model pic.small128 --samples 4 --original

A model is ``NAME`` or ``NAME:DECODING`` (e.g. ``cic.eccv16:mode``); ``--seed`` makes sampling
decoders repeatable. With ``--samples N`` each model gives N columns drawn exactly as
``autocolor sample`` draws them (seeds ``seed .. seed+N-1``, :mod:`autocolor.sampling`).
Unreadable photos are reported and left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

from autocolor.cli.common import one_line
from autocolor.cli.inputs import discover_inputs
from autocolor.errors import AutocolorError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from autocolor.imagefile import Photo


def _parse_model(text: str) -> tuple[str, str | None]:
    name, _, decoding = text.partition(":")
    return name, decoding or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="photos or folders of photos")
    parser.add_argument("-o", "--output", required=True, help="sheet to write (.png, .jpg, ...)")
    parser.add_argument("-m", "--model", action="append", dest="models", metavar="NAME[:DECODING]",
                        help="a model column (repeatable); default: the bundled default model")
    parser.add_argument("--limit", type=int, default=8, help="at most this many photos (default 8)")
    parser.add_argument("--cell", type=int, default=256, help="longest side of each image, px (default 256)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--seed", type=int, default=0, help="seed for sampling decoders (default 0)")
    parser.add_argument("--samples", type=int, default=1,
                        help="N columns per model, drawn as `autocolor sample` draws them (default 1: one colorize)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="sampling temperature with --samples (default: the model's)")
    parser.add_argument("--mixture-temperature", type=float, default=None,
                        help="PIC mixture temperature with --samples (default: the model's)")
    parser.add_argument("--offline", action="store_true", help="never download weights")
    parser.add_argument("--original", action="store_true",
                        help="add a last column with the photo as stored (the ground truth of colour photos)")
    parser.add_argument("--random-weights", action="store_true", help=argparse.SUPPRESS)  # tests only
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the script; returns the exit status (0 ok, 1 failure, 2 bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    try:
        return _make_sheet(args)
    except AutocolorError as exc:
        print(f"make_contact_sheet: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code


def _stored_rgb(path: str) -> np.ndarray:
    """The photo as stored, upright, as float RGB in [0, 1] (for the --original column)."""
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.float32) / 255.0


def _column_maker(
    name: str, decoding: str | None, args: argparse.Namespace
) -> Callable[[Photo], list[tuple[np.ndarray, str]]]:
    """Load one model and return ``photo -> [(image, label), ...]``: one colorization, or with
    ``--samples N`` N samples (seeds ``args.seed ..``) drawn exactly as ``autocolor sample`` does."""
    from autocolor.pipeline import Colorizer
    from autocolor.sampling import DrawnSample, draw_samples, plan_sampling

    pretrained = not args.random_weights
    if args.samples == 1:
        single = Colorizer(name, args.device, decoding=decoding, seed=args.seed,
                           pretrained=pretrained, offline=args.offline)  # fmt: skip
        label = name if decoding is None else f"{name}:{decoding}"
        return lambda photo: [(single.colorize_photo(photo), label)]
    plan = plan_sampling(name, temperature=args.temperature, mixture_temperature=args.mixture_temperature)
    sampler = plan.colorizer(args.device, pretrained=pretrained, offline=args.offline)
    seeds = list(range(args.seed, args.seed + args.samples))

    def samples(photo: Photo) -> list[tuple[np.ndarray, str]]:
        def label(sample: DrawnSample) -> str:
            bits = "" if sample.bits_per_dim is None else f" {sample.bits_per_dim:.2f} b/d"
            return f"{name} #{sample.seed}{bits}"

        return [(sample.rgb, label(sample)) for sample in draw_samples(sampler, plan, photo.lightness, seeds)]

    return samples


def _make_sheet(args: argparse.Namespace) -> int:
    import numpy as np

    from autocolor.contactsheet import make_contact_sheet, save_contact_sheet, thumbnail
    from autocolor.imagefile import read_photo
    from autocolor.pipeline import DEFAULT_MODEL, lightness_ab_to_rgb

    models = [_parse_model(m) for m in (args.models or [DEFAULT_MODEL])]
    items, _ = discover_inputs(args.inputs)
    photos: list[Photo] = []
    for item in items:
        if len(photos) >= args.limit:
            break
        try:
            photos.append(read_photo(item.path))
        except AutocolorError as exc:
            print(f"make_contact_sheet: skipped {one_line(exc)}", file=sys.stderr)
    if not photos:
        print("make_contact_sheet: error: no readable photos", file=sys.stderr)
        return 1

    per_model = args.samples
    columns = 1 + len(models) * per_model + int(args.original)
    cells: list[np.ndarray | None] = [None] * (len(photos) * columns)
    labels = [""] * len(cells)
    for row, photo in enumerate(photos):
        gray = lightness_ab_to_rgb(photo.lightness, np.zeros((2, *photo.lightness.shape), np.float32))
        cells[row * columns] = thumbnail(gray, args.cell)
        labels[row * columns] = Path(photo.source).stem
    # One model at a time, loaded once: only one network is in memory.
    for index, (name, decoding) in enumerate(models):
        first = 1 + index * per_model
        column_images = _column_maker(name, decoding, args)
        for row, photo in enumerate(photos):
            for offset, (image, label) in enumerate(column_images(photo)):
                cells[row * columns + first + offset] = thumbnail(image, args.cell)
                labels[row * columns + first + offset] = label
        del column_images
    if args.original:
        for row, photo in enumerate(photos):
            cells[row * columns + columns - 1] = thumbnail(_stored_rgb(photo.source), args.cell)
            labels[row * columns + columns - 1] = "original"
    sheet = make_contact_sheet([c for c in cells if c is not None], labels, columns=columns, cell=args.cell)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    written = save_contact_sheet(args.output, sheet)
    samples = f", {per_model} samples each" if per_model > 1 else ""
    print(f"wrote {written} ({len(photos)} photos x {len(models)} models{samples})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
