"""``autocolor colorize``: files, folders or stdin in; colour photos out.

Parsing and reporting only: planning and running the batch is :mod:`autocolor.batch`, the work
on one photo :class:`autocolor.pipeline.Colorizer`. The model is loaded once per run; a bad
file is reported and the batch goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from autocolor.batch.memory import DEFAULT_MAX_MEMORY, parse_size
from autocolor.batch.plan import OUTPUT_TAG, plan_jobs
from autocolor.cli.hints import (
    assign_hints,
    check_hints_fit,
    check_model_takes_hints,
    hint_options,
    hint_spread_setting,
    model_takes_hints,
)
from autocolor.cli.common import (
    STDIO,
    ItemResult,
    Progress,
    debug_enabled,
    passed_over_results,
    print_summary,
    quiet_decoders,
)
from autocolor.cli.inputs import check_output_folder, refuse_terminal_stdout
from autocolor.cli.options import (
    bin_decoding_extra,
    bin_decoding_options,
    gcp_options,
    max_pixels_option,
    model_options,
    output_options,
)
from autocolor.cli.stopping import StopOnSignal, not_started
from autocolor.cli.scaleout import ScaleOut, gather_inputs, open_manifest, run_on_ray, scaleout_options, select_shard
from autocolor.cli.video import run_video_command, video_options, wants_video
from autocolor.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.batch.shard import Shard

FORMATS = ("png", "jpg", "jpeg", "tif", "tiff", "webp")


@click.command("colorize")
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="Output file, folder, or - for stdout. Default: <name>_color.<ext> beside each input.",
)
@model_options
@click.option(
    "--size",
    type=click.IntRange(min=8),
    default=None,
    help="Network input side in pixels (default: the model's).",
)
@click.option(
    "--decoding",
    metavar="METHOD",
    default=None,
    help="Decoding method; depends on the model (CIC: annealed_mean, mean, mode, sample). Default: the model's.",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Annealed-mean / sampling temperature; lower = more saturated (CIC default 0.38).",
)
@click.option(
    "--upsample",
    type=click.Choice(["guided", "bilinear"]),
    default="guided",
    show_default=True,
    help="How the low-resolution colour is brought to full resolution.",
)
@bin_decoding_options
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS, case_sensitive=False),
    default=None,
    help="Output format (default: from the output name, else the input's).",
)
@max_pixels_option
@click.option(
    "--max-memory",
    metavar="SIZE",
    default=DEFAULT_MAX_MEMORY,
    show_default=True,
    help="Memory the whole run may use (e.g. 1G, 512M). Photos are worked in strips, so a "
    "200-megapixel scan fits in 2G; fewer photos are kept in flight to stay within it.",
)
@hint_options
@gcp_options
@video_options
@output_options
@scaleout_options
def colorize_command(
    inputs: tuple[str, ...],
    output: str | None,
    model: str | None,
    device: str,
    seed: int | None,
    offline: bool,
    random_weights: bool,
    size: int | None,
    decoding: str | None,
    temperature: float | None,
    upsample: str,
    prior_correction: float | None,
    flip_average: bool | None,
    format_: str | None,
    max_pixels: int | None,
    max_memory: str,
    hint_texts: tuple[str, ...],
    hints_file: Path | None,
    hint_radius: int,
    hint_spread: float | None,
    class_ref: str | None,
    direction: int | None,
    strength: float | None,
    overwrite: bool,
    as_json: bool,
    recursive: bool,
    quiet: bool,
    files_from: str | None,
    shard: Shard | None,
    manifest: str | None,
    use_ray: bool,
    ray_address: str | None,
    ray_actors: int | None,
    **video: Any,
) -> None:
    """Colorize grayscale photos and films: files, folders (recursively) or - for stdin.

    The photo's own lightness is kept at full resolution; only colour is predicted. Existing
    outputs are skipped unless --overwrite; an input is never overwritten. Exit status: 0 when
    every image worked or was skipped, 1 when some failed, 2 for a usage error.

    \b
    Examples:
      autocolor colorize old.jpg                      # -> old_color.jpg
      autocolor colorize old.jpg -o new.png           # choose the output
      autocolor colorize scans/ -o colored/           # folder tree mirrored under colored/
      autocolor colorize a.tif b.tif -o out/ --format png --overwrite
      autocolor colorize --model cic.eccv16 --decoding mode --device cuda old.jpg
      autocolor colorize old.jpg --prior-correction 0   # CIC's vivid decoding (more colour, more risk)
      cat old.png | autocolor colorize - > new.png    # stdin to stdout
      autocolor colorize scans/ -o colored/ --json > report.jsonl
      autocolor colorize dog.jpg --model gcp --class 207   # GCP, as ImageNet class 207
      autocolor colorize scans/ -o colored/ --max-memory 1G # a smaller memory budget
      autocolor colorize reel.mp4 -o reel_color.mp4   # film: steady colours, audio copied
      autocolor colorize reel.mkv --start 1:00 --end 1:30 -o part.mkv
      ffmpeg -i reel.mp4 -f rawvideo -pix_fmt gray - | autocolor colorize - --raw 640x480 > color.rgb
      autocolor colorize old.jpg -o new.jpg --model cic.base --hint 120,80,#1f3a93 --hint 50%,10%,#87ceeb
      autocolor colorize scans/ -o colored/ --model cic.base --hints hints.json   # {"a.jpg": [...]}
      autocolor colorize scans/ -o out/ --shard 3/8 --manifest run-3.jsonl   # job 3 of 8
      find scans -name '*.tif' -print0 | autocolor colorize --files-from - -o out/
      autocolor colorize scans/ -o out/ --ray --ray-address auto   # on a Ray cluster
      autocolor colorize huge_scans/ -o out/ --max-pixels 400M     # allow bigger photos

    In folders without -o, files named *_color.* are taken for earlier outputs and left alone.
    Videos (.mp4 .mov .mkv .avi .webm ...) are given as files; the model and decoding options
    apply to them, hints and --shard/--ray/--files-from/--manifest do not.

    SIGINT (Ctrl-C) or SIGTERM stops after the photos in progress, prints the summary with the
    files not started and exits 130 / 143; running the same command again finishes the rest.
    Several runs may share one output folder: each file is claimed by one of them.
    """
    if as_json and output == STDIO:
        raise UsageError("--json prints to stdout, so the image cannot go there too; use -o FILE")
    memory_limit = parse_size(max_memory)
    ctx = click.get_current_context()
    if wants_video(inputs, video):  # films: frames in order through a temporal state
        ctx.exit(run_video_command(ctx.params))
    scale = ScaleOut(files_from, shard, manifest, use_ray, ray_address, ray_actors)
    scale.check(inputs, output)
    passed_over: list[tuple[str, str]] = []  # files a folder walk left, reported with the reason
    items, unreadable, folder = gather_inputs(
        scale, inputs, output, recursive=recursive, skip_stem_suffix=OUTPUT_TAG if output is None else None,
        passed_over=passed_over,
    )  # fmt: skip
    if not items and not unreadable:
        left = f" ({len(passed_over)} other file(s) not taken, e.g. {': '.join(passed_over[0])})" if passed_over else ""
        raise UsageError(f"no supported images found in: {', '.join(inputs or [str(files_from)])}{left}")
    if folder:
        check_output_folder(str(output))
    hints = assign_hints(items, hint_texts, hints_file, hint_radius)  # before sharding: a hint file covers all
    check_hints_fit(hints)
    items, unreadable = select_shard(scale, items, unreadable, quiet=quiet)
    jobs = plan_jobs(items, output, folder=folder, format=format_, overwrite=overwrite)
    for job in jobs:
        job.hints = tuple(hints.get(job.item.path, ()))
        job.max_pixels = max_pixels
    if any(job.output == STDIO for job in jobs):
        refuse_terminal_stdout()

    from autocolor import pipeline
    from autocolor.models import model_info

    model_name = model or pipeline.DEFAULT_MODEL
    registered = model_info(model_name).name  # an unknown name is a usage error, even when all is skipped
    if hints:
        check_model_takes_hints(model_name, model_takes_hints(model_name), hints)
    extra: dict[str, object] = {}
    if (class_ref, direction, strength) != (None, None, None):  # sampling's imports cost start-up time
        from autocolor.sampling import gcp_extra

        extra = gcp_extra(model_name, class_ref=class_ref, direction=direction, strength=strength)
    extra.update(bin_decoding_extra(model_name, prior_correction, flip_average))
    settings = dict(model=model_name, device=device, size=size, decoding=decoding, temperature=temperature,
                    upsample=upsample, seed=seed, pretrained=not random_weights, offline=offline, extra=extra,
                    hint_spread=hint_spread_setting(hint_spread))  # fmt: skip
    for job in jobs:
        if job.result is not None:
            job.result.model = job.result.model or registered
    from autocolor.batch.runner import kernels_single_threaded, run_batch
    from autocolor.devices import resolve_device

    # One thread per kernel from the model load on: the batch overlaps its own stages instead.
    if not use_ray:
        ctx.with_resource(kernels_single_threaded(resolve_device(device)))
    stop = StopOnSignal(quiet=quiet, enabled=not use_ray)  # Ray runs its own tasks: Ctrl-C ends it
    with stop, open_manifest(scale, jobs, registered, quiet=quiet) as (jobs, sink):
        colorizer = None
        if not use_ray and any(job.result is None for job in jobs):
            colorizer = pipeline.Colorizer(**settings)  # type: ignore[arg-type]
            check_model_takes_hints(model_name, colorizer.accepts_hints, hints)
        if sink is not None:
            from autocolor.batch.manifest import weights_sha256

            sink.weights_sha256 = weights_sha256(model_name, pretrained=not random_weights)

        from autocolor.hints import hints_to_json

        quiet_decoders()
        results = [ItemResult(path, None, "failed", reason) for path, reason in unreadable]
        results += passed_over_results(passed_over)
        for result in results:
            if sink is not None:
                sink(result)
            if as_json:
                click.echo(result.to_json())
        to_run = {job.item.path for job in jobs if job.result is None}
        with Progress(len(to_run), enabled=not (quiet or as_json)) as progress:

            def report(result: ItemResult, record: bool = True) -> None:
                result.model = result.model or registered
                if result.input in hints:
                    result.hints = hints_to_json(hints[result.input])
                if record and sink is not None:  # the manifest line first: it is what a rerun trusts
                    sink(result)
                if result.input in to_run:
                    progress.working_on(Path(result.input).name)
                    progress.advance()
                if as_json:
                    click.echo(result.to_json())

            if use_ray:  # Ray writes the manifest line itself, with the hash its actors loaded
                on_ray = lambda result: report(result, record=False)  # noqa: E731
                results += run_on_ray(scale, jobs, settings, format=format_, on_result=on_ray, sink=sink,
                                      quiet=quiet or as_json)  # fmt: skip
            elif colorizer is None:  # everything was decided up front: nothing to run
                from autocolor.batch.claims import sweep_outputs

                sweep_outputs(job.output for job in jobs)  # what killed runs left beside the outputs
                for job in jobs:
                    assert job.result is not None
                    report(job.result)
                    results.append(job.result)
            else:
                results += run_batch(jobs, colorizer, format=format_, on_result=report, max_memory=memory_limit,
                                     should_stop=stop, debug=debug_enabled())  # fmt: skip
            for result in not_started(jobs, stop):  # a signal came: reported, not in the manifest
                report(result, record=False)
                results.append(result)
    print_summary(results, quiet=quiet)
    if stop():
        stop.report([r for r in results if r.error == stop.reason])
        ctx.exit(stop.exit_code)
    ctx.exit(1 if any(r.status == "failed" for r in results) else 0)
