#!/usr/bin/env python
"""Before/after sheet for colour hints: gray input | automatic | the hints | with hints.

Everything goes through the project's own pipeline (:class:`autocolor.pipeline.Colorizer`, the
same call as ``autocolor colorize --hint``), so the sheet shows what the command produces.

Example (the README's)::

    python scripts/hints_example.py examples/camera.png -o docs/hints-example.jpg --model cic.base --device cpu \\
        --hint 430,420,#6b8e3a --hint 350,300,#6b8e3a --hint 470,280,#6b8e3a --hint 60%,90%,#6b8e3a \\
        --hint-radius 4 --cell 256

The "hints" cell is the gray photo with each hint's patch painted in its snapped colour (the
colour the network receives) at the photo's scale, outlined so that it stays visible.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autocolor.cli.common import one_line
from autocolor.errors import AutocolorError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="a photo")
    parser.add_argument("-o", "--output", required=True, help="sheet to write (.jpg, .png, ...)")
    parser.add_argument("-m", "--model", default="cic.base", help="a hint-aware model (default cic.base)")
    parser.add_argument("--hint", action="append", required=True, metavar="X,Y,COLOR", help="a hint (repeatable)")
    parser.add_argument("--hint-radius", type=int, default=2, help="patch half-side at the network input (default 2)")
    parser.add_argument("--cell", type=int, default=320, help="longest side of each image, px (default 320)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--random-weights", action="store_true", help=argparse.SUPPRESS)  # tests only
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the script; returns the exit status (0 ok, 1 or 2 on errors)."""
    args = build_parser().parse_args(argv)
    try:
        return _make_sheet(args)
    except AutocolorError as exc:
        print(f"hints_example: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code


def _hint_overlay(photo_lightness, hints, colorizer):  # type: ignore[no-untyped-def]
    """The gray photo with every hint's patch (snapped colour, photo scale) painted on it."""
    import cv2
    import numpy as np
    import torch

    from autocolor.pipeline import lightness_ab_to_rgb

    height, width = photo_lightness.shape
    small = colorizer.network_input(photo_lightness)
    maps = colorizer.hint_maps(hints, small[0, 0], (height, width))
    ab_full = torch.nn.functional.interpolate(maps.ab[None], size=(height, width), mode="nearest")[0].numpy()
    mask = torch.nn.functional.interpolate(maps.mask[None], size=(height, width), mode="nearest")[0, 0].numpy()
    ab = np.where(mask[None] > 0, ab_full, 0.0).astype(np.float32)
    rgb = lightness_ab_to_rgb(photo_lightness, ab)
    outline = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) - mask.astype(np.uint8)
    rgb[outline > 0] = (1.0, 1.0, 1.0)
    return rgb


def _make_sheet(args: argparse.Namespace) -> int:
    import numpy as np

    from autocolor.contactsheet import make_contact_sheet, save_contact_sheet, thumbnail
    from autocolor.hints import parse_hint
    from autocolor.imagefile import read_photo
    from autocolor.pipeline import Colorizer, lightness_ab_to_rgb

    photo = read_photo(args.input)
    hints = [parse_hint(text, args.hint_radius) for text in args.hint]
    colorizer = Colorizer(args.model, args.device, pretrained=not args.random_weights)
    gray = lightness_ab_to_rgb(photo.lightness, np.zeros((2, *photo.lightness.shape), np.float32))
    cells = [
        (gray, "gray input"),
        (colorizer.colorize_photo(photo), f"{args.model}, automatic"),
        (_hint_overlay(photo.lightness, hints, colorizer), f"{len(hints)} hints"),
        (colorizer.colorize_photo(photo, hints), f"{args.model}, with the hints"),
    ]
    sheet = make_contact_sheet([thumbnail(image, args.cell) for image, _ in cells], [label for _, label in cells],
                               columns=len(cells), cell=args.cell)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    print(f"wrote {save_contact_sheet(args.output, sheet)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
