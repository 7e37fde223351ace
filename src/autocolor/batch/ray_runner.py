"""Colorize a batch on a Ray cluster with Ray Data (``pip install "autocolor[ray]"``).

Python::

    from autocolor.batch.ray_runner import colorize_with_ray
    results = colorize_with_ray(["/shared/scans"], "/shared/colored", model="cic.lite",
                                manifest="/shared/run.jsonl", address="auto")

CLI: ``autocolor colorize SRC -o DST --ray [--ray-address ADDR] [--ray-actors N]``.

How it maps onto Ray Data: the driver plans the jobs exactly as the in-process path does
(outputs, skips, shards, manifest resume; :mod:`autocolor.batch.plan`), turns the jobs still to
run into a dataset of ``(input, root, output)`` rows (``ray.data.from_items``), and runs
``map_batches`` with :class:`ColorizeActor`, a callable class: each actor loads the model once
in ``__init__`` and colorizes every batch of rows it is given with the in-process runner
(:func:`autocolor.batch.runner.run_batch`: the same reader -> network -> writer stages, the
same per-file failure handling, the same atomic writer). It returns one JSON result per row,
which the driver turns back into :class:`ItemResult` and writes to the manifest as rows stream
in. Scheduling, actor restarts, task retries and backpressure are Ray Data's: actors get one
GPU each when the cluster has GPUs (else one CPU each), the pool size is fixed
(``ActorPoolStrategy(size=N)``), and the streaming executor bounds the rows in flight.

Paths must mean the same file on every node (a shared file system), or be URIs of a file
system pyarrow understands (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``, ``file://``): inputs
given as URIs are listed by the driver and read by the actors through ``pyarrow.fs``. Outputs
are written with the atomic writer, so ``-o`` must be a local or shared-file-system folder.
autocolor (same version) must be installed on every node.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autocolor.batch.plan import InputFile, Job, plan_jobs
from autocolor.batch.ray_actor import ColorizeActor, ColorizerSettings
from autocolor.batch.results import ItemResult, one_line
from autocolor.batch.shard import Shard, parse_shard
from autocolor.batch.sources import is_uri, list_inputs, local_path
from autocolor.errors import AutocolorError, UsageError

__all__ = [
    "ColorizeActor",
    "ColorizerSettings",
    "RayOptions",
    "RayRunError",
    "RayUnavailableError",
    "check_settings",
    "colorize_with_ray",
    "run_jobs_on_ray",
]

#: Rows handed to one actor call; each call runs them through the in-process runner.
DEFAULT_ROWS_PER_CALL = 8
# At most this many dataset blocks; more rows share a block (rows of a block go to one actor).
_MAX_BLOCKS = 10_000


class RayUnavailableError(AutocolorError):
    """Ray (the ``autocolor[ray]`` extra) is not installed, or the cluster cannot be reached."""

    exit_code = 2


@dataclass
class RayOptions:
    """Where and how wide the Ray job runs.

    Attributes:
        address: a cluster to join (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``);
            ``None`` joins the Ray instance already initialised in this process, else the one
            ``RAY_ADDRESS`` names, else starts a local one for this run.
        actors: size of the actor pool; default one per GPU of the cluster (GPU actors), else
            one per CPU.
        rows_per_call: rows (files) per actor call (``map_batches``' ``batch_size``).
        network_batch: photos per network pass inside an actor (the runner's ``batch_size``).
        gpus_per_actor: GPUs per actor; default 1 when the cluster has GPUs and ``device`` is
            not ``"cpu"``, else 0 (CPU actors).
        cpus_per_actor: CPUs reserved per actor (and torch threads in it).
        ray_init: extra keyword arguments for ``ray.init`` when this call starts/joins Ray.
        console_logs: leave Ray's console output as Ray sets it (its INFO lines, progress
            bars). ``False`` (the CLI, which draws its own progress bar) keeps warnings and
            errors on the console and everything else in Ray's session log files.
    """

    address: str | None = None
    actors: int | None = None
    rows_per_call: int = DEFAULT_ROWS_PER_CALL
    network_batch: int = 4
    gpus_per_actor: float | None = None
    cpus_per_actor: float = 1.0
    ray_init: dict[str, Any] = field(default_factory=dict)
    console_logs: bool = True


#: Ray reads this when it is imported: "0" makes a new local instance bind and advertise the
#: loopback address instead of the machine's network address.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _import_ray(*, private_local: bool = False) -> Any:
    """Import Ray (and Ray Data); a ``private_local`` instance is kept on the loopback address.

    A local instance that this run starts for itself needs no address other machines can reach,
    so it binds 127.0.0.1 only (nothing is exposed on the network); joining a cluster keeps Ray's
    own choice.
    """
    if private_local and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is a separate extra of Ray
    except ImportError as exc:
        raise RayUnavailableError(
            f"Ray Data is not installed ({exc}); install it with: pip install \"autocolor[ray]\""
        ) from exc
    return ray


def _connect(ray: Any, options: RayOptions, *, quiet: bool) -> bool:
    """Join or start Ray; True when this call started (and must shut down) the connection."""
    import logging

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": not quiet}
    if options.address is None and not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False  # a private local instance: no web server
    kwargs.update(options.ray_init)
    try:
        ray.init(address=options.address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = options.address or os.environ.get("RAY_ADDRESS") or "a local instance"
        raise RayUnavailableError(f"cannot start or join Ray ({where}): {exc}") from exc
    return True


def _quiet_console(ray: Any) -> None:
    """No Ray Data progress bars or INFO lines on the console (they stay in the session log)."""
    import logging

    from ray.util.debug import log_once

    ray.data.DataContext.get_current().enable_progress_bars = False
    log_once("ray_data_progress_manager_disabled")  # Ray would warn that we turned its bars off
    for handler in logging.getLogger("ray.data").handlers:
        if type(handler).__name__ != "SessionFileHandler":
            handler.setLevel(max(handler.level, logging.WARNING))


def _resources(ray: Any, settings: ColorizerSettings, options: RayOptions, calls: int) -> tuple[float, int]:
    """``(gpus per actor, actors)`` for this cluster, settings and number of actor calls."""
    cluster = ray.cluster_resources()
    gpus_total = float(cluster.get("GPU", 0))
    cpus_total = float(cluster.get("CPU", 1))
    if settings.device.startswith("cuda") and gpus_total == 0:
        raise UsageError(f"--device {settings.device}: the Ray cluster has no GPUs")
    if options.gpus_per_actor is not None:
        gpus = float(options.gpus_per_actor)
    else:
        gpus = 1.0 if gpus_total >= 1 and settings.device != "cpu" else 0.0
    if options.actors is not None:
        actors = options.actors
    elif gpus > 0:
        actors = int(gpus_total // gpus)
    else:
        actors = int(cpus_total // max(options.cpus_per_actor, 1e-3))
    # No point in idle actors (each loads the model): at most one per actor call.
    return gpus, max(1, min(actors, calls))


def _root_text(item: InputFile) -> str:
    """The root folder of a URI input as a URI (``Path`` would fold ``s3://`` into ``s3:/``)."""
    if item.root is None or not is_uri(item.path):
        return ""
    relative = item.relative.as_posix()
    return item.path[: len(item.path) - len(relative)].rstrip("/")


def _unwrap(exc: BaseException) -> BaseException:
    """The user-facing error inside a Ray failure (an actor that could not load the model)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, AutocolorError):
            return current
        seen.add(id(current))
        current = getattr(current, "cause", None) or current.__cause__
    return exc


class RayRunError(AutocolorError):
    """The Ray job itself failed (not one file): workers lost beyond Ray's retries, and the like."""

    exit_code = 1


def run_jobs_on_ray(
    jobs: Sequence[Job],
    settings: ColorizerSettings,
    *,
    format: str | None = None,
    options: RayOptions | None = None,
    on_result: Callable[[ItemResult], None] | None = None,
    manifest: Any = None,
    quiet: bool = False,
) -> list[ItemResult]:
    """Run planned jobs on Ray; the executor behind ``colorize --ray``.

    Jobs that already have a ``result`` (skipped or refused when planned) are reported first
    without going to Ray; the others are colorized by :class:`ColorizeActor` actors and
    reported as they finish (completion order, not job order), each in the main thread:
    ``manifest(result, weights_sha256)`` (a :class:`autocolor.batch.manifest.ManifestSink`)
    first, then ``on_result(result)``. A file that fails is a ``"failed"`` result; only a
    failure of the run itself raises.

    Returns:
        The results of all reported jobs, in job order (also stored in ``job.result``).

    Raises:
        RayUnavailableError: Ray is not installed or cannot be started/joined.
        UsageError: a GPU device was asked for on a cluster without GPUs.
        RayRunError, or the model's own error (e.g. WeightsError): the run failed.
    """
    options = options or RayOptions()

    def report(result: ItemResult, sha: str | None = None) -> None:
        if manifest is not None:
            manifest(result, sha)
        if on_result is not None:
            on_result(result)

    for job in jobs:
        if job.result is not None:
            report(job.result)
    pending = [job for job in jobs if job.result is None]
    if pending:
        ray = _import_ray(private_local=options.address is None and not os.environ.get("RAY_ADDRESS"))
        started = _connect(ray, options, quiet=quiet)
        try:
            _run(ray, pending, settings, format, options, report, quiet=quiet)
        finally:
            if started:
                ray.shutdown()
    return [job.result for job in jobs if job.result is not None]


def _run(
    ray: Any,
    pending: Sequence[Job],
    settings: ColorizerSettings,
    format: str | None,
    options: RayOptions,
    report: Callable[[ItemResult, str | None], None],
    *,
    quiet: bool,
) -> None:
    rows_per_call = max(1, options.rows_per_call)
    calls = -(-len(pending) // rows_per_call)
    gpus, actors = _resources(ray, settings, options, calls)
    if not options.console_logs:
        _quiet_console(ray)
    # Hints (frozen dataclasses) travel pickled, as Ray pickles everything else it sends.
    rows = [
        {"input": job.item.path, "root": _root_text(job.item), "output": job.output,
         "hints": pickle.dumps(tuple(job.hints)) if job.hints else b""}
        for job in pending
    ]  # fmt: skip
    by_input = {job.item.path: job for job in pending}
    # One block per actor call (up to a cap), so the calls spread over the whole pool.
    dataset = ray.data.from_items(rows, override_num_blocks=min(calls, _MAX_BLOCKS))
    dataset = dataset.map_batches(
        ColorizeActor,
        fn_constructor_kwargs={
            "settings": settings,
            "format": format,
            "threads": max(1, int(options.cpus_per_actor)),
            "network_batch": options.network_batch,
        },
        batch_size=rows_per_call,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=options.cpus_per_actor,
        num_gpus=gpus,
    )
    try:
        for row in dataset.iter_rows():
            record = json.loads(row["result"])
            sha = record.pop("weights_sha256", None)
            result = ItemResult(**record)
            job = by_input.get(result.input)
            if job is not None:
                job.result = result
            report(result, sha)
    except (AutocolorError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps worker errors in its own types
        cause = _unwrap(exc)
        if isinstance(cause, AutocolorError):
            raise cause from exc
        first = one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        raise RayRunError(f"the Ray run failed: {type(exc).__name__}: {first}") from exc


def check_settings(settings: ColorizerSettings) -> None:
    """Refuse, on the driver, what every actor would refuse: an unknown model or decoding.

    Raises:
        UnknownModelError, UsageError.
    """
    from autocolor.decode import check_method
    from autocolor.models import model_info

    info = model_info(settings.model)
    check_method(info.output_kind, settings.decoding or info.decoding)
    if settings.size is not None and settings.size < 8:
        raise UsageError(f"input size must be at least 8 px, got {settings.size}")


def colorize_with_ray(
    sources: str | Sequence[str],
    output: str,
    *,
    model: str | None = None,
    device: str = "auto",
    size: int | None = None,
    decoding: str | None = None,
    temperature: float | None = None,
    upsample: str = "guided",
    seed: int | None = None,
    pretrained: bool = True,
    offline: bool = False,
    extra: Mapping[str, Any] | None = None,
    format: str | None = None,
    overwrite: bool = False,
    recursive: bool = True,
    shard: str | Shard | None = None,
    manifest: str | os.PathLike[str] | None = None,
    address: str | None = None,
    actors: int | None = None,
    options: RayOptions | None = None,
    on_result: Callable[[ItemResult], None] | None = None,
) -> list[ItemResult]:
    """Colorize files, folders or URIs into the folder ``output`` on a Ray cluster.

    The same work as ``autocolor colorize SOURCES -o OUTPUT --ray``: folders are listed
    (recursively, hidden names skipped), outputs mirror each folder's tree under ``output``,
    existing outputs are skipped unless ``overwrite``, a file that fails is reported and the rest
    go on.

    Args:
        sources: local files or folders (the same path on every node), or URIs
            (``s3://bucket/scans/``; any file system pyarrow supports).
        output: a local or shared-file-system folder (created if needed).
        model, device, size, decoding, temperature, upsample, seed, pretrained, offline,
            extra: as for :class:`autocolor.pipeline.Colorizer`; ``device="auto"`` gives GPU
            actors when the cluster has GPUs.
        format: output format (``"png"``, ``"jpg"``, ...); default the input's.
        shard: ``"K/N"`` or a :class:`Shard`: only this shard of the inputs.
        manifest: a JSONL run manifest (:mod:`autocolor.batch.manifest`): inputs it records
            as done are skipped, every finished input is appended to it.
        address, actors: shorthands for ``options.address`` / ``options.actors``.
        options: :class:`RayOptions` (pool size, rows per call, GPUs per actor, ...).
        on_result: called in this process with each :class:`ItemResult` as it arrives.

    Returns:
        One :class:`ItemResult` per input that was run or decided here (inputs done according
        to ``manifest`` are left out), in input order.

    Raises:
        UsageError: no inputs, a bad option, an output that is a URI.
        RayUnavailableError, RayRunError, or the model's own error (see :func:`run_jobs_on_ray`).
    """
    from autocolor.batch.manifest import ManifestSink, ManifestWriter, drop_done, job_keys, weights_sha256

    if local_path(output) is None:
        raise UsageError(f"-o {output}: outputs are written with the atomic writer, so give a local or shared folder")
    output = str(local_path(output))
    options = options or RayOptions()
    if address is not None:
        options.address = address
    if actors is not None:
        options.actors = actors
    names = [sources] if isinstance(sources, str) else list(sources)
    items = list_inputs(names, recursive=recursive, exclude=[output])
    if not items:
        raise UsageError(f"no supported images found in: {', '.join(names)}")
    if shard is not None:
        shard = parse_shard(shard) if isinstance(shard, str) else shard
        items = shard.select_inputs(items)
    if model is None:
        from autocolor.pipeline import DEFAULT_MODEL  # the bundled default, like Colorizer's

        model = DEFAULT_MODEL
    settings = ColorizerSettings(
        model, device, size, decoding, temperature, upsample, seed, pretrained, offline, extra
    )
    check_settings(settings)
    jobs = plan_jobs(items, output, folder=True, format=format, overwrite=overwrite)
    if manifest is None:
        return run_jobs_on_ray(jobs, settings, format=format, options=options, on_result=on_result)
    jobs, _done = drop_done(jobs, manifest, model)
    with ManifestWriter(manifest) as writer:
        sink = ManifestSink(writer, job_keys(jobs), weights_sha256(model, pretrained=pretrained))
        return run_jobs_on_ray(jobs, settings, format=format, options=options, on_result=on_result, manifest=sink)
