"""Write the project's ab prior (``src/autocolor/assets/prior_ab.npy``) from training images.

    python scripts/make_prior.py --counts runs/cic_lite/prior_counts.npy -o src/autocolor/assets/prior_ab.npy
    python scripts/make_prior.py --data ../shared/data/train -o prior.npy

The prior is p~ = Gaussian-smoothed (sigma 5, Lab units, over the 313 bin centres) of
(counts + 1) / (N + 313): one pseudo-count per bin (Laplace) so that bins never seen in the
training pixels keep a probability of about 1/N instead of the ~1e-19 that smoothing alone
leaves; otherwise one such pixel would outweigh a whole test set in the class-rebalanced AuC.
``counts`` are pixel counts per bin over 64x64 thumbnails of every colour image (what
``autocolor train`` caches as ``prior_counts.npy``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from autocolor.color.bins import cic_ab_grid
from autocolor.color.prior import save_prior, smooth_prior


def prior_from_counts(counts: np.ndarray, pseudo_count: float = 1.0, sigma: float = 5.0) -> np.ndarray:
    """(313,) pixel counts -> smoothed prior with ``pseudo_count`` added to every bin."""
    counts = np.asarray(counts, dtype=np.float64) + pseudo_count
    return smooth_prior(counts / counts.sum(), cic_ab_grid().numpy().astype(np.float64), sigma)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--counts", type=Path, help="prior_counts.npy cached by autocolor train")
    source.add_argument("--data", type=Path, help="folder of colour training images")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--min-chroma", type=float, default=3.0)
    args = parser.parse_args()
    if args.counts is not None:
        counts = np.load(args.counts)
    else:
        from autocolor.data.folder import find_images, scan_chroma
        from autocolor.data.prior import count_ab_bins

        paths = find_images(args.data)
        chroma = scan_chroma(paths)
        counts = count_ab_bins([p for p in paths if chroma[str(p)] >= args.min_chroma])
    prior = prior_from_counts(counts)
    save_prior(args.output, prior)
    print(f"{args.output}: {int(counts.sum())} pixels, min p~ {prior.min():.3g}, max p~ {prior.max():.3g}")


if __name__ == "__main__":
    main()
