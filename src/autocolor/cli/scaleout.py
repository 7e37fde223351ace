"""The large-archive options of ``autocolor colorize``: ``--files-from``, ``--shard``,
``--manifest`` and ``--ray``, and the steps they add to the command.

Kept apart from :mod:`autocolor.cli.colorize` so that command reads as before: it calls
:func:`gather_inputs`, :func:`select_shard`, :func:`open_manifest` and, with ``--ray``,
:func:`run_on_ray`. The work itself is :mod:`autocolor.batch` (shard, manifest, ray_runner).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from autocolor.cli.common import STDIO, InputFile, ItemResult
from autocolor.cli.inputs import discover_inputs, output_is_folder
from autocolor.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.batch.manifest import ManifestSink
    from autocolor.batch.plan import Job
    from autocolor.batch.shard import Shard

F = TypeVar("F", bound=Callable[..., Any])


def _parse_shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Shard | None:
    from autocolor.batch.shard import parse_shard

    if value is None:
        return None
    try:
        return parse_shard(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"--shard {value!r}: ")) from None


def scaleout_options(f: F) -> F:
    """``--files-from``, ``--shard``, ``--manifest``, ``--ray``, ``--ray-address``, ``--ray-actors``."""
    decorators = [
        click.option(
            "--files-from", metavar="LIST",
            help="Read the input paths from LIST (one per line, or NUL-separated; - for stdin) instead of "
            "walking folders. Relative paths are taken below the one folder INPUT if given, else below "
            "the current folder; their outputs mirror them under -o.",
        ),
        click.option(
            "--shard", metavar="K/N", callback=_parse_shard,
            help="Only shard K of N (1 <= K <= N): a fixed partition by relative path, so N jobs with "
            "K = 1..N cover every input exactly once.",
        ),
        click.option(
            "--manifest", metavar="FILE.jsonl", type=click.Path(dir_okay=False),
            help="Append one JSON line per finished input to FILE (fsynced); a rerun with the same FILE "
            "skips what it records as done (even with --overwrite) and retries failures. Merge with "
            "`autocolor report`.",
        ),
        click.option("--ray", "use_ray", is_flag=True,
                     help="Run on Ray (pip install \"autocolor[ray]\"): one actor per GPU, else per CPU."),
        click.option("--ray-address", metavar="ADDR",
                     help="Ray cluster to join (auto, ray://head:10001); default RAY_ADDRESS or a local one."),
        click.option("--ray-actors", type=click.IntRange(min=1), metavar="N",
                     help="Ray actor pool size (each loads the model once); default one per GPU, else per CPU."),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


@dataclass
class ScaleOut:
    """The values of :func:`scaleout_options`."""

    files_from: str | None
    shard: Shard | None
    manifest: str | None
    use_ray: bool
    ray_address: str | None
    ray_actors: int | None

    def check(self, inputs: Sequence[str], output: str | None) -> None:
        """Usage errors of the combination, before anything is listed."""
        if self.files_from is not None:
            if len(inputs) > 1 or any(a == STDIO or not os.path.isdir(a) for a in inputs):
                raise UsageError("--files-from takes at most one INPUT, a folder its relative paths are below")
            if output == STDIO:
                raise UsageError("--files-from needs -o FOLDER (or no -o), not stdout")
        elif not inputs:
            raise click.UsageError("Missing argument 'INPUT...' (a file, a folder, or -), or give --files-from LIST")
        if STDIO in inputs and (self.shard or self.manifest or self.use_ray):
            raise UsageError("stdin (-) cannot be sharded, recorded in a manifest or sent to Ray; give files")
        if output == STDIO and (self.manifest or self.use_ray):
            raise UsageError("--manifest and --ray write files: give -o FOLDER, not stdout")
        if (self.ray_address or self.ray_actors) and not self.use_ray:
            raise UsageError("--ray-address and --ray-actors go with --ray")


def gather_inputs(
    options: ScaleOut,
    inputs: Sequence[str],
    output: str | None,
    *,
    recursive: bool,
    skip_stem_suffix: str | None,
    passed_over: list[tuple[str, str]] | None = None,
) -> tuple[list[InputFile], list[tuple[str, str]], bool]:
    """``(inputs, unreadable folders, whether -o is a folder)`` before any sharding.

    Folders are walked as usual (``passed_over`` receives the files a walk does not take, with
    the reason); with ``--files-from`` the list is read instead
    (:func:`autocolor.batch.shard.resolve_listed`) and ``-o``, when given, is a folder.
    """
    if options.files_from is None:
        exclude = [Path(output)] if output not in (None, STDIO) else []
        items, unreadable = discover_inputs(
            inputs, recursive=recursive, exclude=exclude, skip_stem_suffix=skip_stem_suffix, passed_over=passed_over
        )
        return items, unreadable, output_is_folder(output, items, inputs)
    from autocolor.batch.shard import read_file_list, resolve_listed

    base = inputs[0] if inputs else None
    seen: set[str] = set()
    items = []
    for path, root in resolve_listed(read_file_list(options.files_from), base):
        if os.path.realpath(path) not in seen:  # a list may name a file twice
            seen.add(os.path.realpath(path))
            items.append(InputFile(path, Path(root) if root is not None else None))
    if output is not None and Path(output).is_file():
        raise UsageError(f"-o {output}: --files-from needs -o to be a folder, and this is a file")
    return items, [], output is not None


def select_shard(
    options: ScaleOut, items: list[InputFile], unreadable: list[tuple[str, str]], *, quiet: bool
) -> tuple[list[InputFile], list[tuple[str, str]]]:
    """This shard's inputs (all of them without ``--shard``); an unreadable folder is reported
    by the one shard its path falls in, not by all N."""
    if options.shard is None:
        return items, unreadable
    from autocolor.batch.shard import input_key

    shard = options.shard
    mine = shard.select_inputs(items)
    if not mine and not quiet:
        click.echo(f"autocolor: shard {shard} has none of the {len(items)} input(s); nothing to do", err=True)
    return mine, [p for p in unreadable if shard.holds(input_key(p[0], None))]


@contextlib.contextmanager
def open_manifest(
    options: ScaleOut, jobs: list[Job], model: str, *, quiet: bool
) -> Iterator[tuple[list[Job], ManifestSink | None]]:
    """With ``--manifest``: drop the jobs it records as done, and yield a sink for new lines.

    Yields ``(jobs still to report, sink or None)``; ``sink.weights_sha256`` is to be set once
    the weights are loaded.
    """
    if options.manifest is None:
        yield jobs, None
        return
    from autocolor.batch.manifest import ManifestSink, ManifestWriter, drop_done, job_keys

    kept, done = drop_done(jobs, options.manifest, model)
    if done and not quiet:
        click.echo(f"autocolor: {done} input(s) already done according to {options.manifest}; not redone", err=True)
    with ManifestWriter(options.manifest) as writer:
        yield kept, ManifestSink(writer, job_keys(kept), None)


def run_on_ray(
    options: ScaleOut,
    jobs: list[Job],
    settings: dict[str, Any],
    *,
    format: str | None,
    on_result: Callable[[ItemResult], None],
    sink: ManifestSink | None,
    quiet: bool,
) -> list[ItemResult]:
    """Run ``jobs`` with :func:`autocolor.batch.ray_runner.run_jobs_on_ray`; ``settings`` are the
    :class:`ColorizerSettings` fields."""
    from autocolor.batch.ray_runner import ColorizerSettings, RayOptions, check_settings, run_jobs_on_ray

    colorizer = ColorizerSettings(**settings)
    check_settings(colorizer)
    from autocolor.cli.common import debug_enabled

    ray_options = RayOptions(address=options.ray_address, actors=options.ray_actors, console_logs=debug_enabled())
    return run_jobs_on_ray(
        jobs, colorizer, format=format, options=ray_options, on_result=on_result, manifest=sink, quiet=quiet
    )
