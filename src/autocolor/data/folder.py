"""Folders of colour photographs as (L*, ab) training crops.

Every random choice (crop box, flip) is derived from ``(seed, epoch, index)``, not from a
worker's global RNG, so an epoch yields the same batches whatever the number of DataLoader
workers, and a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset, Sampler

from autocolor.color.lab import rgb_to_lab
from autocolor.data.augment import AugmentSpec, degrade_lightness, jitter_rgb

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def find_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive), sorted for a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_rgb(path: Path) -> Image.Image:
    """Decode an image upright (EXIF orientation applied) as 8-bit RGB."""
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def mean_chroma(image: Image.Image, side: int = 64) -> float:
    """Mean ab chroma (Lab units) of a small thumbnail: ~0 for gray or near-gray images."""
    thumb = image.resize((side, side), Image.Resampling.BILINEAR)
    rgb = torch.from_numpy(np.asarray(thumb, dtype=np.float32) / 255.0).permute(2, 0, 1)
    ab = rgb_to_lab(rgb)[1:]
    return float(ab.norm(dim=0).mean())


def scan_chroma(paths: Sequence[Path], cache: Path | None = None) -> dict[str, float]:
    """Mean chroma of each image, cached as JSON in ``cache`` (keyed by path, size, mtime)."""
    known: dict[str, dict[str, float]] = {}
    if cache is not None and cache.exists():
        known = json.loads(cache.read_text())
    result: dict[str, float] = {}
    for path in paths:
        stat = path.stat()
        key = str(path)
        entry = known.get(key)
        if entry is None or entry["size"] != stat.st_size or entry["mtime"] != stat.st_mtime:
            try:
                chroma = mean_chroma(load_rgb(path))
            except (OSError, ValueError):
                chroma = -1.0  # unreadable: excluded like a gray image
            entry = {"size": stat.st_size, "mtime": stat.st_mtime, "chroma": chroma}
            known[key] = entry
        result[key] = entry["chroma"]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(known))
        tmp.replace(cache)
    return result


@dataclass(frozen=True)
class CropSpec:
    """Augmentation: random-resized crop to ``size`` x ``size`` and horizontal flips.

    ``scale`` is the range of the crop's area as a fraction of the image, ``ratio`` the range
    of its aspect ratio. ``train=False`` resizes the whole image to ``size`` x ``size``
    (aspect ignored, as the inference pipeline does).
    """

    size: int = 176
    scale: tuple[float, float] = (0.35, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    train: bool = True


def _crop_box(width: int, height: int, spec: CropSpec, rng: random.Random) -> tuple[int, int, int, int]:
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(*spec.scale)
        aspect = math.exp(rng.uniform(math.log(spec.ratio[0]), math.log(spec.ratio[1])))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = rng.randint(0, width - w)
            top = rng.randint(0, height - h)
            return left, top, left + w, top + h
    side = min(width, height)  # fallback: central square
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


class ColorImageFolder(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """(L*, ab) crops of the colour images of a folder.

    Items are ``(lightness (1, S, S) in [0, 100], ab (2, S, S) in Lab units)``, float32.
    Images whose mean chroma is below ``min_chroma`` (gray, sepia-flat, unreadable) are skipped.
    ``augment`` (training crops only) adds photometric jitter and input degradations.
    """

    def __init__(
        self,
        root: str | Path,
        crop: CropSpec,
        *,
        seed: int = 0,
        min_chroma: float = 3.0,
        chroma_cache: Path | None = None,
        limit: int | None = None,
        augment: AugmentSpec | None = None,
    ) -> None:
        paths = find_images(root)
        chroma = scan_chroma(paths, chroma_cache)
        self.paths = [p for p in paths if chroma[str(p)] >= min_chroma]
        self.skipped = len(paths) - len(self.paths)
        if limit is not None:
            self.paths = self.paths[:limit]
        if not self.paths:
            raise ValueError(f"{root}: no colour images found ({self.skipped} gray or unreadable skipped)")
        self.crop = crop
        self.augment = augment if augment is not None and augment.enabled and crop.train else None
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentations ``__getitem__`` reproduces."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = load_rgb(self.paths[index])
        spec = self.crop
        if spec.train:
            rng = random.Random(f"{self.seed}-{self.epoch}-{index}")  # str seeds hash stably
            image = image.crop(_crop_box(image.width, image.height, spec, rng))
            flip = spec.flip and rng.random() < 0.5
        else:
            rng, flip = None, False
        image = image.resize((spec.size, spec.size), Image.Resampling.BICUBIC)
        if flip:
            image = ImageOps.mirror(image)
        rgb = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
        if self.augment is not None and rng is not None:
            rgb = jitter_rgb(rgb, self.augment, rng)
        lab = rgb_to_lab(rgb)
        lightness = lab[:1].contiguous()
        if self.augment is not None and rng is not None:
            lightness = degrade_lightness(lightness, self.augment, rng)
        return lightness, lab[1:].contiguous()


class EpochSampler(Sampler[int]):
    """Seeded per-epoch permutation, sharded over ``world_size`` ranks, resumable mid-epoch.

    ``start_batch`` skips the first batches of the epoch (their indices are still drawn, so
    the order of the rest is unchanged): this is how ``--resume`` continues exactly.
    """

    def __init__(self, length: int, *, seed: int, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        self.length = length
        self.seed = seed
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def batches_per_epoch(self) -> int:
        return self.length // (self.batch_size * self.world_size)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.length, generator=generator).tolist()
        per_rank = self.batches_per_epoch() * self.batch_size
        mine = order[self.rank * per_rank : (self.rank + 1) * per_rank]
        return iter(mine[self.start_batch * self.batch_size :])

    def __len__(self) -> int:
        return (self.batches_per_epoch() - self.start_batch) * self.batch_size
