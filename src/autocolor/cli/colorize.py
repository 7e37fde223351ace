"""``autocolor colorize``: files, folders or stdin in; colour photos out.

Parsing and reporting only: the work is :class:`autocolor.pipeline.Colorizer`. The model is
loaded once per run; a bad file is reported and the batch goes on.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from autocolor.cli.common import (
    STDIO,
    InputFile,
    ItemResult,
    Progress,
    check_output_folder,
    debug_enabled,
    discover_inputs,
    ensure_parent,
    failure_reason,
    gcp_options,
    max_pixels_option,
    model_options,
    output_is_folder,
    output_options,
    passed_over_results,
    plan_output,
    print_summary,
    quiet_decoders,
    refuse_terminal_stdout,
)
from autocolor.errors import OutputError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.pipeline import Colorizer

OUTPUT_TAG = "_color"
FORMATS = ("png", "jpg", "jpeg", "tif", "tiff", "webp")


@dataclass
class Job:
    item: InputFile
    output: str
    result: ItemResult | None = None  # set when decided before running (skipped / refused)


def _plan(
    items: list[InputFile], output: str | None, *, folder: bool, format: str | None, overwrite: bool
) -> list[Job]:
    """Outputs for every input; skips and refusals decided here, before the model loads."""
    from autocolor.imagefile import same_file

    jobs: list[Job] = []
    claimed: dict[str, str] = {}
    inputs = {os.path.realpath(item.path) for item in items if item.path != STDIO}
    for item in items:
        target = plan_output(item, output, folder=folder, format=format, tag=OUTPUT_TAG)
        job = Job(item, target)
        jobs.append(job)
        if target == STDIO:
            continue
        key = os.path.realpath(target)
        if key in inputs or (item.path != STDIO and same_file(item.path, target)):
            # Never overwrite an input (this one or another of the batch), even with --overwrite.
            which = "the input file" if same_file(item.path, target) else "another input"
            refusal = OutputError(target, f"is {which}; refusing to overwrite an input")
            job.result = ItemResult(item.path, target, "failed", failure_reason(refusal, item.path))
        elif key in claimed:
            reason = f"output {target} is also the output of {claimed[key]}"
            job.result = ItemResult(item.path, target, "failed", reason)
        elif Path(target).exists() and not overwrite:
            job.result = ItemResult(item.path, target, "skipped", f"{target} exists (use --overwrite)")
        claimed.setdefault(key, item.path)
    return jobs


def _run_one(job: Job, colorizer: Colorizer, format: str | None, max_pixels: int | None) -> ItemResult:
    from autocolor.imagefile import read_photo, write_photo

    start = time.perf_counter()
    result = ItemResult(job.item.path, job.output, "failed", model=colorizer.model_name)
    try:
        photo = read_photo(job.item.path, max_pixels=max_pixels)
        result.width, result.height = photo.size
        rgb = colorizer.colorize_photo(photo)
        if job.output != STDIO:
            ensure_parent(job.output)
        written = write_photo(job.output, rgb, like=photo, format=format)
        result.output = str(written) if written is not None else STDIO
        result.status = "ok"
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch
        if debug_enabled():
            traceback.print_exc()
        result.error = failure_reason(exc, job.item.path)
    result.seconds = time.perf_counter() - start
    return result


@click.command("colorize")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
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
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS, case_sensitive=False),
    default=None,
    help="Output format (default: from the output name, else the input's).",
)
@max_pixels_option
@gcp_options
@output_options
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
    format_: str | None,
    max_pixels: int | None,
    class_ref: str | None,
    direction: int | None,
    strength: float | None,
    overwrite: bool,
    as_json: bool,
    recursive: bool,
    quiet: bool,
) -> None:
    """Colorize grayscale photos: files, folders (recursively) or - for stdin.

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
      cat old.png | autocolor colorize - > new.png    # stdin to stdout
      autocolor colorize scans/ -o colored/ --json > report.jsonl
      autocolor colorize dog.jpg --model gcp --class 207   # GCP, as ImageNet class 207
      autocolor colorize huge_scans/ -o out/ --max-pixels 400M

    In folders without -o, files named *_color.* are taken for earlier outputs and left alone.
    """
    if as_json and output == STDIO:
        raise UsageError("--json prints to stdout, so the image cannot go there too; use -o FILE")
    ctx = click.get_current_context()
    passed_over: list[tuple[str, str]] = []
    items, unreadable = discover_inputs(
        inputs,
        recursive=recursive,
        exclude=[Path(output)] if output not in (None, STDIO) else [],
        skip_stem_suffix=OUTPUT_TAG if output is None else None,
        passed_over=passed_over,
    )
    if not items and not unreadable:
        left = f" ({len(passed_over)} other file(s) not taken, e.g. {passed_over[0][0]}: {passed_over[0][1]})"
        raise UsageError(f"no supported images found in: {', '.join(inputs)}{left if passed_over else ''}")
    folder = output_is_folder(output, items, inputs)
    if folder:
        check_output_folder(str(output))
    jobs = _plan(items, output, folder=folder, format=format_, overwrite=overwrite)
    if any(job.output == STDIO for job in jobs):
        refuse_terminal_stdout()

    from autocolor import pipeline
    from autocolor.models import model_info

    from autocolor.sampling import gcp_extra

    model_name = model or pipeline.DEFAULT_MODEL
    model_info(model_name)  # an unknown name is a usage error, even when everything is skipped
    extra = gcp_extra(model_name, class_ref=class_ref, direction=direction, strength=strength)
    colorizer = None
    if any(job.result is None for job in jobs):
        colorizer = pipeline.Colorizer(
            model_name,
            device,
            size=size,
            decoding=decoding,
            temperature=temperature,
            upsample=upsample,
            seed=seed,
            pretrained=not random_weights,
            offline=offline,
            extra=extra,
        )

    quiet_decoders()
    results = [ItemResult(path, None, "failed", reason) for path, reason in unreadable]
    results += passed_over_results(passed_over)
    for result in results:
        if as_json:
            click.echo(result.to_json())
    with Progress(sum(job.result is None for job in jobs), enabled=not (quiet or as_json)) as progress:
        for job in jobs:
            if job.result is None:
                assert colorizer is not None
                progress.working_on(Path(job.item.path).name)
                job.result = _run_one(job, colorizer, format_, max_pixels)
                progress.advance()
            job.result.model = job.result.model or model_name
            results.append(job.result)
            if as_json:
                click.echo(job.result.to_json())
    print_summary(results, quiet=quiet)
    ctx.exit(1 if any(r.status == "failed" for r in results) else 0)
