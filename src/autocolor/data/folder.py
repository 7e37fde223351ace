"""Folders of colour photographs as (L*, ab) training crops.

Every random choice (crop box, flip) is derived from ``(seed, epoch, index)``, not from a
worker's global RNG, so an epoch yields the same batches whatever the number of DataLoader
workers, and a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset, Sampler

from autocolor.color.lab import rgb_to_lab
from autocolor.data.augment import AugmentSpec, degrade_lightness, jitter_rgb
from autocolor.errors import InputImageError
from autocolor.imageformats import open_rgb, readable_suffixes

log = logging.getLogger("autocolor.data")


def find_images(root: str | Path) -> list[Path]:
    """All files under ``root`` (recursive) in a format Pillow decodes, sorted for a stable order.

    Hidden files (``.name``, e.g. macOS ``._photo.jpg`` resource forks) are left out.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    suffixes = readable_suffixes()
    return sorted(
        p for p in root.rglob("*")
        if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()
    )  # fmt: skip


def load_rgb(path: Path) -> Image.Image:
    """Decode an image upright (EXIF orientation applied) as 8-bit RGB.

    Raises :class:`InputImageError` naming the file and the reason when it cannot be used.
    """
    return open_rgb(path)


def mean_chroma(image: Image.Image, side: int = 64) -> float:
    """Mean ab chroma (Lab units) of a small thumbnail: ~0 for gray or near-gray images."""
    thumb = image.resize((side, side), Image.Resampling.BILINEAR)
    rgb = torch.from_numpy(np.asarray(thumb, dtype=np.float32) / 255.0).permute(2, 0, 1)
    ab = rgb_to_lab(rgb)[1:]
    return float(ab.norm(dim=0).mean())


def scan_chroma(
    paths: Sequence[Path], cache: Path | None = None, broken: list[tuple[str, str]] | None = None
) -> dict[str, float]:
    """Mean chroma of each image, cached as JSON in ``cache`` (keyed by path, size, mtime).

    An unreadable file gets chroma -1 (so it is excluded like a gray image) and, when ``broken``
    is given, a ``(path, reason)`` entry there; the reason is cached with it.
    """
    known: dict[str, dict[str, Any]] = {}
    if cache is not None and cache.exists():
        try:
            known = json.loads(cache.read_text())
        except (OSError, ValueError):  # a damaged cache is only a cache: scan again
            known = {}
    result: dict[str, float] = {}
    for path in paths:
        stat = path.stat()
        key = str(path)
        entry = known.get(key)
        if entry is None or entry["size"] != stat.st_size or entry["mtime"] != stat.st_mtime:
            entry = {"size": stat.st_size, "mtime": stat.st_mtime}
            try:
                entry["chroma"] = mean_chroma(load_rgb(path))
            except InputImageError as err:
                entry.update(chroma=-1.0, error=err.reason)  # unreadable: excluded, and reported
            known[key] = entry
        result[key] = entry["chroma"]
        if broken is not None and entry.get("error"):
            broken.append((key, entry["error"]))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
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
    Images whose mean chroma is below ``min_chroma`` (gray, sepia-flat) are skipped, and so are
    files that cannot be decoded: ``broken`` lists them as ``(path, reason)`` for the caller to
    report. A file that breaks after the scan is reported when it is read and replaced by the
    next image, so training goes on. ``augment`` (training crops only) adds photometric jitter
    and input degradations.
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
        self.broken: list[tuple[str, str]] = []
        chroma = scan_chroma(paths, chroma_cache, self.broken)
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

    def _load(self, index: int) -> Image.Image:
        # A file that became unreadable after the scan (disk error, replaced mid-run) is
        # reported and stood in for by the next readable one: one bad sector must not end a
        # training run of days. Deterministic, so a resumed run sees the same stand-in.
        for step in range(len(self.paths)):
            path = self.paths[(index + step) % len(self.paths)]
            try:
                return load_rgb(path)
            except InputImageError as err:
                log.warning("skipped %s: %s (using the next image instead)", path, err.reason)
        raise InputImageError(self.paths[index], "no image of the folder can be read any more")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self._load(index)
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
    """Seeded per-epoch permutation dealt to ``world_size`` ranks by global batches; resumable
    mid-epoch, with the same or another number of processes.

    Step ``g`` of an epoch takes the next ``batch_size * world_size`` images of the epoch's
    permutation and rank ``r`` trains on the ``r``-th ``batch_size`` of them (per-rank data
    sharding: the ranks of one step never share an image). So what an epoch has used is always a
    prefix of its permutation, whatever the world size, and ``start`` (images of the epoch already
    used, all ranks together) resumes right after it; the permutation is still drawn in full, so
    the order of the rest is unchanged. With one process this is the plain shuffled order.
    """

    def __init__(self, length: int, *, seed: int, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        self.length = length
        self.seed = seed
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start = 0

    @property
    def images_per_step(self) -> int:
        """Images one training step consumes over all ranks: ``batch_size * world_size``."""
        return self.batch_size * self.world_size

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Draw epoch ``epoch`` and skip its first ``start`` images (used before a resume)."""
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.epoch = epoch
        self.start = start

    def batches_per_epoch(self) -> int:
        """Steps in a whole epoch (the remainder, fewer images than one step, is left out)."""
        return self.length // self.images_per_step

    def batches_left(self) -> int:
        """Steps left in the epoch after its first ``start`` images (0: the epoch is over)."""
        return max(0, (self.length - self.start) // self.images_per_step)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.length, generator=generator).tolist()
        first = self.start + self.rank * self.batch_size
        for step in range(self.batches_left()):
            offset = first + step * self.images_per_step
            yield from order[offset : offset + self.batch_size]

    def __len__(self) -> int:
        return self.batches_left() * self.batch_size
