"""The Ray side of the Ray executor: what each actor of the pool holds and runs.

:class:`ColorizeActor` is the callable class given to ``Dataset.map_batches``: Ray constructs
it once per actor (so the model is loaded once per actor, on the GPU Ray assigned to it if
any) and calls it with batches of rows. Each call runs its rows through the in-process runner
(:func:`autocolor.batch.runner.run_batch`), so a Ray worker decodes, colorizes and atomically
writes exactly as ``autocolor colorize`` does on one machine. The driver side is
:mod:`autocolor.batch.ray_runner`.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autocolor.batch.plan import InputFile, Job
from autocolor.batch.results import ItemResult, one_line
from autocolor.batch.sources import local_path
from autocolor.hints.spread import HintSpread

__all__ = ["ColorizeActor", "ColorizerSettings"]


@dataclass(frozen=True)
class ColorizerSettings:
    """A picklable recipe for a :class:`autocolor.pipeline.Colorizer` (sent to every actor).

    Fields are the Colorizer's arguments; ``device`` is the user's choice (``"auto"``, ``"cpu"``,
    ``"cuda"``), narrowed per actor (an actor given a GPU by Ray runs on ``cuda``).
    """

    model: str
    device: str = "auto"
    size: int | None = None
    decoding: str | None = None
    temperature: float | None = None
    upsample: str = "guided"
    seed: int | None = None
    pretrained: bool = True
    offline: bool = False
    extra: Mapping[str, Any] | None = None
    hint_spread: HintSpread | None = field(default_factory=HintSpread)  # None: the network alone

    def build(self, device: str) -> Any:
        """Load the model on ``device``: a :class:`autocolor.pipeline.Colorizer`."""
        from autocolor.pipeline import Colorizer

        return Colorizer(
            self.model,
            device,
            size=self.size,
            decoding=self.decoding,
            temperature=self.temperature,
            upsample=self.upsample,
            seed=self.seed,
            pretrained=self.pretrained,
            offline=self.offline,
            extra=dict(self.extra) if self.extra else None,
            hint_spread=self.hint_spread,
        )


class ColorizeActor:
    """The ``map_batches`` callable class: one model per actor, many batches of rows per actor.

    ``__call__`` takes a batch ``{"input", "root", "output", "hints"}`` (numpy object arrays of
    str, ``root`` ``""`` for none; ``hints`` the pickled tuple of :class:`autocolor.hints.Hint`,
    ``b""`` for none) and returns ``{"result": [json, ...]}``: per row the
    :class:`ItemResult` fields plus ``weights_sha256``. It never raises for a bad file.
    """

    def __init__(self, settings: ColorizerSettings, format: str | None, threads: int, network_batch: int) -> None:
        import torch

        from autocolor.batch.manifest import weights_sha256

        torch.set_num_threads(max(1, threads))
        device = settings.device
        if (device == "auto" or device.startswith("cuda")) and _assigned_gpu():
            device = "cuda"  # Ray set CUDA_VISIBLE_DEVICES to this actor's GPU(s): cuda:N would miss
        elif device == "auto":
            device = "cpu"  # no GPU reserved for this actor: do not grab one anyway
        self.colorizer = settings.build(device)
        self.format = format
        self.network_batch = network_batch
        self.weights_sha256 = weights_sha256(settings.model, pretrained=settings.pretrained)
        self._filesystems: dict[str, tuple[Any, str]] = {}

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        import numpy as np

        from autocolor.batch.runner import run_batch

        jobs = [
            Job(InputFile(str(path)), str(output), hints=pickle.loads(hints) if hints else ())
            for path, output, hints in zip(batch["input"], batch["output"], batch["hints"], strict=True)
        ]
        roots = [str(root) if root else None for root in batch["root"]]
        with tempfile.TemporaryDirectory(prefix="autocolor-ray-") as scratch:
            # Files behind a URI are copied to local scratch first; the runner reads local files.
            local = [self._localize(job, root, Path(scratch), n) for n, (job, root) in enumerate(zip(jobs, roots))]
            results = run_batch(local, self.colorizer, format=self.format, batch_size=self.network_batch)
        rows = []
        for job, result in zip(jobs, results, strict=True):
            result.input = job.item.path
            rows.append(json.dumps({**asdict(result), "weights_sha256": self.weights_sha256}))
        return {"result": np.array(rows, dtype=object)}

    def _localize(self, job: Job, root: str | None, scratch: Path, number: int) -> Job:
        """``job`` reading a local file: a local path as is, a URI's file copied into ``scratch``."""
        local = local_path(job.item.path)
        if local is not None:
            return Job(InputFile(local), job.output, hints=job.hints)
        target = scratch / f"{number}{Path(job.item.path).suffix}"
        try:
            filesystem, path = self._filesystem(job.item.path, root)
            with filesystem.open_input_stream(path) as source, open(target, "wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
        except Exception as exc:  # noqa: BLE001 - reported as this file's failure
            decided = Job(job.item, job.output)
            decided.result = ItemResult(job.item.path, job.output, "failed", one_line(f"cannot read: {exc}"))
            return decided
        return Job(InputFile(str(target)), job.output, hints=job.hints)

    def _filesystem(self, uri: str, root: str | None) -> tuple[Any, str]:
        """The pyarrow file system and path of ``job``'s input URI.

        Resolved once per root folder (``FileSystem.from_uri`` may cost a network round trip,
        e.g. an S3 region lookup); the file's path is the root's path plus its relative path.
        """
        from pyarrow import fs as pafs

        if root is None or not uri.startswith(root.rstrip("/") + "/"):
            return pafs.FileSystem.from_uri(uri)
        if root not in self._filesystems:
            self._filesystems[root] = pafs.FileSystem.from_uri(root)
        filesystem, base = self._filesystems[root]
        return filesystem, f"{base.rstrip('/')}/{uri[len(root.rstrip('/')) + 1:]}"


def _assigned_gpu() -> bool:
    try:
        import ray

        return bool(ray.get_gpu_ids())
    except Exception:  # noqa: BLE001 - outside Ray, or no GPU support
        return False


