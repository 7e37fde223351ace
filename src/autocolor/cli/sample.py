"""``autocolor sample``: several diverse colorizations of a photo, plus a contact sheet.

Parsing, output names and reporting only: choosing the decoder and drawing the samples is
:mod:`autocolor.sampling`, the grid is :mod:`autocolor.contactsheet`. The model is loaded once
per run; a bad photo is reported and the others go on.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from autocolor.cli.colorize import FORMATS
from autocolor.cli.common import (
    STDIO,
    InputFile,
    ItemResult,
    Progress,
    debug_enabled,
    ensure_parent,
    failure_reason,
    print_summary,
    quiet_decoders,
)
from autocolor.cli.inputs import check_output_folder, discover_inputs
from autocolor.cli.options import gcp_options, model_options, output_options
from autocolor.errors import OutputError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.pipeline import Colorizer
    from autocolor.sampling import DrawnSample, SamplingPlan

SAMPLE_TAG = "_sample"
SHEET_TAG = "_samples"
SHEET_CELL = 256
# Earlier outputs found in an input folder are not inputs: photo_sample01.png, photo_samples.png.
_OUTPUT_NAME = re.compile(rf"{SAMPLE_TAG}(\d+|s)$")


# --------------------------------------------------------------------------- outputs


@dataclass
class SampleJob:
    """One input photo: its sample files (seed, path), its sheet, and what is to be written."""

    item: InputFile
    samples: list[tuple[int, str]]
    sheet: str
    write: set[str]
    result: ItemResult
    bits_per_dim: dict[int, float | None] = field(default_factory=dict)  # seed -> bits/dim, once drawn


def _plan_jobs(
    items: list[InputFile], output: str | None, *, count: int, seed: int, suffix: str, overwrite: bool, model: str
) -> list[SampleJob]:
    """Output names for every input, decided before the model loads.

    Without ``-o`` outputs go beside the input; with ``-o DIR`` into ``DIR`` (folder inputs keep
    their sub-folders). Existing files are kept unless ``overwrite``; the sheet is redrawn
    whenever a sample is written (an old sheet would show other samples).
    """
    from autocolor.imagefile import same_file

    inputs = {os.path.realpath(item.path) for item in items if item.path != STDIO}
    digits = max(2, len(str(count)))
    jobs = []
    claimed: dict[str, str] = {}  # output -> the input it belongs to (photo.png and photo.jpg clash)
    for item in items:
        if item.path == STDIO and output is None:
            raise UsageError("stdin input needs -o DIR")
        folder = Path(item.path).parent if output is None else Path(output) / item.relative.parent
        stem = "stdin" if item.path == STDIO else Path(item.path).stem
        samples = [
            (seed + i, str(folder / f"{stem}{SAMPLE_TAG}{i + 1:0{digits}d}{suffix}")) for i in range(count)
        ]
        sheet = str(folder / f"{stem}{SHEET_TAG}{suffix}")
        paths = [path for _, path in samples] + [sheet]
        result = ItemResult(item.path, sheet, "ok", model=model)  # "ok" until it fails: still to do
        clash = next((p for p in paths if os.path.realpath(p) in inputs or same_file(item.path, p)), None)
        taken = next((p for p in paths if os.path.realpath(p) in claimed), None)
        write = {p for p in paths if overwrite or not Path(p).exists()}
        if clash is not None:
            refusal = OutputError(clash, "is an input; refusing to overwrite an input")
            result.status, result.error = "failed", failure_reason(refusal, item.path)
        elif taken is not None:
            result.status = "failed"
            result.error = f"output {taken} is also an output of {claimed[os.path.realpath(taken)]}"
        elif not write:
            result.status, result.error = "skipped", f"{sheet} and its samples exist (use --overwrite)"
        else:
            write.add(sheet)
        for path in paths:
            claimed.setdefault(os.path.realpath(path), item.path)
        jobs.append(SampleJob(item, samples, sheet, write, result))
    return jobs


def _check_best_of(best_of: int | None, count: int, model: str, plan: SamplingPlan) -> None:
    """``--best-of`` needs at least N candidates and a model with a likelihood, drawing samples."""
    if best_of is None:
        return
    from autocolor.decode import kind_has_likelihood
    from autocolor.models import model_info

    if best_of < count:
        raise UsageError(f"--best-of {best_of} is fewer than the {count} samples to keep (--n)")
    if plan.method != "sample" or not kind_has_likelihood(model_info(model).output_kind):
        raise UsageError(f"--best-of ranks samples by likelihood: {model} cannot do that (use a PIC model, temperature > 0)")


def _run_job(
    job: SampleJob, colorizer: Colorizer, plan: SamplingPlan, format_: str, progress: Progress, *, best_of: int | None
) -> None:
    """Draw, write the missing samples and the sheet; failures end up in ``job.result``.

    With ``best_of`` the candidates are ranked first and the sample files get the most
    probable seeds, in order (``job.samples`` is updated, so JSON reports those seeds)."""
    import numpy as np

    from autocolor.contactsheet import make_contact_sheet, save_contact_sheet, thumbnail
    from autocolor.imagefile import read_photo, write_photo
    from autocolor.pipeline import lightness_ab_to_rgb
    from autocolor.sampling import draw_samples, full_resolution, rank_by_likelihood

    start = time.perf_counter()
    result = job.result
    try:
        photo = read_photo(job.item.path)
        result.width, result.height = photo.size
        gray = lightness_ab_to_rgb(photo.lightness, np.zeros((2, *photo.lightness.shape), np.float32))
        cells, labels = [thumbnail(gray, SHEET_CELL)], ["input"]
        progress.working_on(Path(job.item.path).name)
        if best_of is not None:
            first = job.samples[0][0]
            kept = rank_by_likelihood(colorizer, plan, photo.lightness, list(range(first, first + best_of)))
            kept = kept[: len(job.samples)]
            job.samples = [(candidate.seed, path) for candidate, (_, path) in zip(kept, job.samples)]
            progress.advance(best_of)
            drawn: Iterator[DrawnSample] = (full_resolution(colorizer, photo.lightness, c) for c in kept)
        else:
            drawn = draw_samples(colorizer, plan, photo.lightness, [seed for seed, _ in job.samples])
        for (seed, path), sample in zip(job.samples, drawn, strict=True):
            if path in job.write:
                ensure_parent(path)
                write_photo(path, sample.rgb, like=photo, format=format_)
            cells.append(thumbnail(sample.rgb, SHEET_CELL))
            labels.append(sample_label(sample))
            job.bits_per_dim[seed] = sample.bits_per_dim
            progress.advance()
        sheet = make_contact_sheet(cells, labels, cell=SHEET_CELL)
        ensure_parent(job.sheet)
        save_contact_sheet(job.sheet, sheet, format=format_)
        result.status = "ok"
    except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the others
        if debug_enabled():
            traceback.print_exc()
        result.status, result.error = "failed", failure_reason(exc, job.item.path)
    result.seconds = time.perf_counter() - start


def sample_label(sample: DrawnSample) -> str:
    """Caption of a sample on the sheet: its seed, and its bits/dim for likelihood models."""
    if sample.bits_per_dim is None:
        return f"seed {sample.seed}"
    return f"seed {sample.seed}, {sample.bits_per_dim:.2f} bits/dim"


def _json_record(job: SampleJob, plan: SamplingPlan) -> str:
    from autocolor.sampling import MIXTURE_TEMPERATURE

    record = json.loads(job.result.to_json())
    record.update(
        method=plan.method,
        temperature=plan.temperature if plan.temperature is not None else 0.0,
        **({"mixture_temperature": plan.extra[MIXTURE_TEMPERATURE]} if MIXTURE_TEMPERATURE in plan.extra else {}),
        samples=[
            {"path": path, "seed": seed, "status": "ok" if path in job.write else "skipped"}
            | ({"bits_per_dim": job.bits_per_dim[seed]} if job.bits_per_dim.get(seed) is not None else {})
            for seed, path in job.samples
        ],
        sheet=job.sheet,
    )
    if job.result.status == "failed":  # nothing (more) was written
        for sample in record["samples"]:
            sample["status"] = "failed" if sample["status"] == "ok" else sample["status"]
    return json.dumps(record, ensure_ascii=False)


# --------------------------------------------------------------------------- the command


@click.command("sample")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-n", "--n", "count", type=click.IntRange(min=1, max=999), default=8, show_default=True,
              help="Number of samples per photo.")  # fmt: skip
@click.option("-o", "--output", metavar="DIR", help="Folder for the outputs (default: beside each input).")
@model_options
@click.option("--temperature", type=click.FloatRange(min=0), default=None,
              help="Sampling temperature; lower = safer, higher = more varied; 0 = the mode "
                   "(every sample the same). Default: the model's.")  # fmt: skip
@click.option("--mixture-temperature", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="T", help="PIC only: divides the mixture logits; below 1 a pixel switches less "
                                "often between colours, so flat regions mottle less (1 = the official "
                                "sampler). Default: the model's (pic.deep128: 0.9).")  # fmt: skip
@click.option("--best-of", "best_of", type=click.IntRange(min=1), default=None, metavar="C",
              help="Draw C candidates (seeds SEED..SEED+C-1) and keep the N most probable under the "
                   "model, most probable first (PIC models; C >= N).")  # fmt: skip
@gcp_options
@click.option("--size", type=click.IntRange(min=8), default=None,
              help="Network input side in pixels (default: the model's).")  # fmt: skip
@click.option("--upsample", type=click.Choice(["guided", "bilinear"]), default="guided", show_default=True,
              help="How the low-resolution colour is brought to full resolution.")  # fmt: skip
@click.option("--format", "format_", type=click.Choice(FORMATS, case_sensitive=False), default="png",
              show_default=True, help="Format of the samples and the sheet.")  # fmt: skip
@output_options
def sample_command(
    inputs: tuple[str, ...],
    count: int,
    output: str | None,
    model: str | None,
    device: str,
    seed: int | None,
    offline: bool,
    random_weights: bool,
    temperature: float | None,
    mixture_temperature: float | None,
    best_of: int | None,
    class_ref: str | None,
    direction: int | None,
    strength: float | None,
    size: int | None,
    upsample: str,
    format_: str,
    overwrite: bool,
    as_json: bool,
    recursive: bool,
    quiet: bool,
) -> None:
    """Draw N diverse colorizations of each photo and a contact sheet of them.

    Writes <name>_sample01.png ... <name>_sampleNN.png at full resolution (the photo's own
    lightness, alpha and metadata kept) and <name>_samples.png: the gray input, then the samples
    labelled with their seeds. Sample i uses seed SEED + i (SEED defaults to 0), so the same
    seed gives the same samples. Generative models (PIC, GCP) draw whole-image samples; PIC
    also scores each one (bits/dim under the model, lower = more probable; on the sheet and in
    --json). CIC and Larsson models can only be sampled per pixel, a noisier FALLBACK (a note
    says so). Regression models cannot be sampled. Default model: pic.deep128 when its weights
    ship with autocolor, else the default colorization model (fallback). Existing files are kept
    unless --overwrite. Exit status: 0 ok or skipped, 1 when a photo failed, 2 for a usage error.

    \b
    Examples:
      autocolor sample old.jpg -o samples/                   # 8 samples + samples/old_samples.png
      autocolor sample old.jpg --n 4 --seed 10 -o out/       # seeds 10..13
      autocolor sample old.jpg --model pic.imagenet --temperature 0.8 -o out/
      autocolor sample dog.jpg --model gcp --class 207 -o out/   # GCP: as ImageNet class 207
      autocolor sample old.jpg -o out/ --json                # files, seeds and bits/dim as JSON
      autocolor sample old.jpg --n 4 --best-of 16 -o out/    # the 4 most probable of 16 draws
      autocolor sample old.jpg --mixture-temperature 1 -o out/   # more colour, more mottle
    """
    items, unreadable = discover_inputs(
        inputs, recursive=recursive, exclude=[Path(output)] if output is not None else []
    )
    items = [i for i in items if i.root is None or not _OUTPUT_NAME.search(Path(i.path).stem)]
    if not items and not unreadable:
        raise UsageError(f"no supported images found in: {', '.join(inputs)}")
    if output is not None:
        if output == STDIO or Path(output).is_file():
            raise UsageError(f"-o {output}: must be a folder (the samples are several files)")
        check_output_folder(output)

    from autocolor.outputnames import output_suffix
    from autocolor.sampling import FALLBACK_METHOD, default_sample_model, fallback_note, plan_sampling

    model_name = model or default_sample_model()
    plan = plan_sampling(
        model_name, temperature=temperature, mixture_temperature=mixture_temperature,
        class_ref=class_ref, direction=direction, strength=strength,
    )  # fmt: skip
    _check_best_of(best_of, count, model_name, plan)
    first_seed = seed if seed is not None else 0
    jobs = _plan_jobs(items, output, count=count, seed=first_seed, suffix=output_suffix("-", format_),
                      overwrite=overwrite, model=model_name)  # fmt: skip
    todo = [job for job in jobs if job.result.status == "ok"]
    colorizer = None
    quiet_decoders()  # damaged TIFFs: one error line each, not libtiff's own chatter
    if todo:
        if plan.method == FALLBACK_METHOD and not quiet:
            click.echo(fallback_note(model_name), err=True)
        colorizer = plan.colorizer(device, size=size, upsample=upsample, pretrained=not random_weights, offline=offline)

    results = [ItemResult(path, None, "failed", reason, model=model_name) for path, reason in unreadable]
    if as_json:
        for result in results:
            click.echo(result.to_json())
    per_photo = count + (best_of or 0)
    with Progress(per_photo * len(todo), enabled=not (quiet or as_json), description="sampling") as progress:
        for job in jobs:
            if job.result.status == "ok":
                assert colorizer is not None
                _run_job(job, colorizer, plan, format_, progress, best_of=best_of)
            results.append(job.result)
            if as_json:
                click.echo(_json_record(job, plan))
    print_summary(results, quiet=quiet)
    click.get_current_context().exit(1 if any(r.status == "failed" for r in results) else 0)
