"""``autocolor colorize``: files, folders or stdin in; colour photos out.

Parsing and reporting only: planning and running the batch is :mod:`autocolor.batch`, the work
on one photo :class:`autocolor.pipeline.Colorizer`. The model is loaded once per run; a bad
file is reported and the batch goes on.
"""

from __future__ import annotations

from pathlib import Path

import click

from autocolor.batch.plan import OUTPUT_TAG, plan_jobs
from autocolor.cli.hints import (
    assign_hints,
    check_hints_fit,
    check_model_takes_hints,
    hint_options,
    model_takes_hints,
)
from autocolor.cli.common import (
    STDIO,
    ItemResult,
    Progress,
    check_output_folder,
    debug_enabled,
    discover_inputs,
    gcp_options,
    model_options,
    output_is_folder,
    output_options,
    print_summary,
    refuse_terminal_stdout,
)
from autocolor.errors import UsageError

FORMATS = ("png", "jpg", "jpeg", "tif", "tiff", "webp")


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
@hint_options
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
    hint_texts: tuple[str, ...],
    hints_file: Path | None,
    hint_radius: int,
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
      autocolor colorize old.jpg -o new.jpg --model cic.base --hint 120,80,#1f3a93 --hint 50%,10%,#87ceeb
      autocolor colorize scans/ -o colored/ --model cic.base --hints hints.json   # {"a.jpg": [...]}

    In folders without -o, files named *_color.* are taken for earlier outputs and left alone.
    """
    if as_json and output == STDIO:
        raise UsageError("--json prints to stdout, so the image cannot go there too; use -o FILE")
    ctx = click.get_current_context()
    items, unreadable = discover_inputs(
        inputs,
        recursive=recursive,
        exclude=[Path(output)] if output not in (None, STDIO) else [],
        skip_stem_suffix=OUTPUT_TAG if output is None else None,
    )
    if not items and not unreadable:
        raise UsageError(f"no supported images found in: {', '.join(inputs)}")
    folder = output_is_folder(output, items, inputs)
    if folder:
        check_output_folder(str(output))
    hints = assign_hints(items, hint_texts, hints_file, hint_radius)
    check_hints_fit(hints)
    jobs = plan_jobs(items, output, folder=folder, format=format_, overwrite=overwrite)
    for job in jobs:
        job.hints = tuple(hints.get(job.item.path, ()))
    if any(job.output == STDIO for job in jobs):
        refuse_terminal_stdout()

    from autocolor import pipeline
    from autocolor.models import model_info

    from autocolor.sampling import gcp_extra

    model_name = model or pipeline.DEFAULT_MODEL
    model_info(model_name)  # an unknown name is a usage error, even when everything is skipped
    if hints:
        check_model_takes_hints(model_name, model_takes_hints(model_name), hints)
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
        check_model_takes_hints(model_name, colorizer.accepts_hints, hints)

    from autocolor.batch.runner import run_batch
    from autocolor.hints import hints_to_json

    results = [ItemResult(path, None, "failed", reason) for path, reason in unreadable]
    for result in results:
        if as_json:
            click.echo(result.to_json())
    to_run = {job.item.path for job in jobs if job.result is None}
    with Progress(len(to_run), enabled=not (quiet or as_json)) as progress:

        def report(result: ItemResult) -> None:
            result.model = result.model or model_name
            if result.input in hints:
                result.hints = hints_to_json(hints[result.input])
            if result.input in to_run:
                progress.working_on(Path(result.input).name)
                progress.advance()
            if as_json:
                click.echo(result.to_json())

        if colorizer is None:  # everything was decided up front: nothing to run
            for job in jobs:
                assert job.result is not None
                report(job.result)
                results.append(job.result)
        else:
            results += run_batch(jobs, colorizer, format=format_, on_result=report, debug=debug_enabled())
    print_summary(results, quiet=quiet)
    ctx.exit(1 if any(r.status == "failed" for r in results) else 0)
