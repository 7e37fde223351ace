"""``autocolor eval``: score models, folders of outputs and baselines with the field's metrics.

Parsing and reporting only: the work is :func:`autocolor.evaluation.evaluate`, the outputs are
:mod:`autocolor.evaluation.report`.
"""

from __future__ import annotations

from pathlib import Path

import click

from autocolor.cli.common import Progress, quiet_decoders, report_error
from autocolor.cli.hints import hint_spread_setting
from autocolor.errors import UsageError

EXIT_SKIPPED = 1


def _parse_hint_counts(values: tuple[str, ...]) -> list[int]:
    """``("0,1,2", "5")`` -> ``[0, 1, 2, 5]`` (sorted, unique); anything else is a usage error."""
    counts: set[int] = set()
    for value in values:
        for part in value.split(","):
            try:
                count = int(part)
            except ValueError:
                raise UsageError(f"bad --hints-from-ground-truth {value!r}: use counts such as 0,1,2,5,10") from None
            if count < 0:
                raise UsageError(f"bad --hints-from-ground-truth {value!r}: counts must be >= 0")
            counts.add(count)
    return sorted(counts)


def _parse_predictions(values: tuple[str, ...]) -> list[tuple[str, Path]]:
    """``NAME=DIR`` or ``DIR`` (named after the folder) -> ``[(name, dir)]``."""
    pairs = []
    for value in values:
        name, sep, directory = value.partition("=")
        if not sep:
            name, directory = Path(value.rstrip("/")).name or value, value
        if not name or not directory:
            raise UsageError(f"bad --predictions {value!r}: use DIR or NAME=DIR")
        pairs.append((name, Path(directory)))
    return pairs


@click.command(
    "eval",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Examples:
  autocolor eval --data val/ --baseline gray
  autocolor eval --data val/ --model cic.eccv16 --model cic.lite --baseline gray --plot cmf.png
  autocolor eval --data val/ --predictions theirs=out_other_tool/ --json scores.json --csv scores.csv
  autocolor eval --data val/ --model cic.eccv16 --prior my_prior.npy --resolution 256x256
  autocolor eval --data val/ --model cic.eccv16 --fid      # after: autocolor fetch-weights fid.inception
  autocolor eval --data val/ --model pic.small --temperature 0.7 --seed 1   # samples at T = 0.7
  autocolor eval --data val/ --model cic.base --hints-from-ground-truth 0,1,2,5,10,20,50 --plot hints.png

\b
Metrics (each module of autocolor.metrics states its exact protocol):
  AuC      Zhang's area under the CMF of per-pixel ab error, thresholds 0..150 (integer),
           pooled over all pixels, trapezoid / 150; raw and rebalanced (weights 1/prior of the
           ground-truth bin; default prior: the project's own, --prior to change)
  RMSE ab  root mean square ab error in Lab units, pooled over pixels
  PSNR     on 8-bit RGB, mean over images;  SSIM: Wang et al. settings (scikit-image)
  colourful  Hasler & Suesstrunk, "paper / abs" forms; delta = |mean(pred) - mean(gt)|
  FID      optional (--fid), Inception weights only from `autocolor fetch-weights`

\b
Exit status: 0 every image scored; 1 some images were skipped (reported, numbers cover the
rest) or an error; 2 bad usage.""",
)
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of colour photos (ground truth); searched recursively.")
@click.option("-m", "--model", "models", multiple=True, metavar="NAME",
              help="Colorize the L* of every photo with this model; repeatable.")
@click.option("--predictions", "predictions", multiple=True, metavar="[NAME=]DIR",
              help="Score existing outputs: DIR/<same relative path, any image extension>; repeatable.")
@click.option("--baseline", "baselines", multiple=True, type=click.Choice(["gray"]),
              help="Add a baseline: gray = L* with ab = 0 (the papers' 'no colorization').")
@click.option("--resolution", default="256", show_default=True, metavar="native|N|WxH",
              help="Evaluation size: short side N (aspect kept), WxH exactly (CIC used 256x256), or native.")
@click.option("--prior", "prior_path", type=click.Path(path_type=Path), default=None,
              help="ab prior (.npy, 313 values) for rebalanced AuC; default: the project's own.")
@click.option("--prior-smoothing", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="SIGMA",
              help="Gaussian smoothing (Lab units) of the prior before 1/prior; 0 uses the file as given.")
@click.option("--rebalance-lambda", type=click.FloatRange(0, 1), default=0.0, show_default=True, metavar="LAMBDA",
              help="Mix the prior with uniform before 1/prior, as CIC's training weights; the paper's metric: 0.")
@click.option("--fid", is_flag=True, help="Also compute FID against the ground truths (needs fetched weights).")
@click.option("--fid-weights", type=click.Path(path_type=Path), default=None,
              help="FID Inception file (pt_inception-2015-12-05-6726825d.pth, sha256 checked) instead of the cache.")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]", help="Where models run.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed for sampling decoders (same seed, same numbers).")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Temperature of every model's annealed mean or sampling decoder (> 0); "
              "default: each model's own.")
@click.option("--mixture-temperature", type=click.FloatRange(min=0, min_open=True), default=None, metavar="T",
              help="Mixture temperature of every PIC model's sampler (> 0; 1 = the official "
              "sampler); default: each model's own.")
@click.option("--prior-correction", type=click.FloatRange(0, 1), default=None, metavar="S",
              help="Share (0-1) of the training's class rebalancing every 313-bin model undoes before "
              "decoding (0 = CIC's decoding); default: each model's own.")
@click.option("--flip-average/--no-flip-average", default=None,
              help="Average every per-pixel model's output over the photo and its mirror image; "
              "default: each model's own.")
@click.option("--offline", is_flag=True, help="Never download model weights.")
@click.option("--random-weights", is_flag=True, hidden=True, envvar="AUTOCOLOR_RANDOM_WEIGHTS")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Score only the first N photos (sorted).")
@click.option("--json", "json_path", default=None, metavar="FILE",
              help="Write protocol, summary, per-image rows and skipped files as JSON ('-' = stdout).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Write per-image rows to FILE and the summary (with the protocol) to FILE_summary.csv.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None, metavar="FILE.png",
              help="Draw the raw and rebalanced CMF curves and a colourfulness histogram (needs matplotlib).")
@click.option("--hints-from-ground-truth", "hint_counts", multiple=True, metavar="N[,N...]",
              help="Score hint-aware models given N colour hints simulated from the ground truth (seeded "
              "positions, 6x6-pixel patch means, as the SIGGRAPH17 evaluation), once per N; other models are "
              "scored automatically. With --plot, draws PSNR and AuC against N.")
@click.option("--hint-spread", type=click.FloatRange(0.0, 10.0), default=None, metavar="REACH",
              help="With --hints-from-ground-truth: how far each hint's correction carries along its object "
              "(fraction of the photo's size; 0: only what the network makes of the hints); default: "
              "colorize's.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no table.")
@click.pass_context
def eval_command(
    ctx: click.Context,
    data_dir: Path,
    models: tuple[str, ...],
    predictions: tuple[str, ...],
    baselines: tuple[str, ...],
    resolution: str,
    prior_path: Path | None,
    prior_smoothing: float,
    rebalance_lambda: float,
    fid: bool,
    fid_weights: Path | None,
    device: str,
    seed: int,
    temperature: float | None,
    mixture_temperature: float | None,
    prior_correction: float | None,
    flip_average: bool | None,
    offline: bool,
    random_weights: bool,
    limit: int | None,
    json_path: str | None,
    csv_path: Path | None,
    plot_path: Path | None,
    hint_counts: tuple[str, ...],
    hint_spread: float | None,
    quiet: bool,
) -> None:
    """Score colorizations of the photos in --data with the metrics of the CIC, Larsson, PIC
    and GCP papers, and print a table with the protocol that produced the numbers.

    Every method sees only the L* of each photo; an image counts only if every method could
    score it, so all methods are compared on the same images.
    """
    from autocolor.evaluation import EvalConfig, Resolution, evaluate, find_images
    from autocolor.evaluation.report import render_table, require_matplotlib, write_csv, write_json, write_plot

    if plot_path is not None:
        require_matplotlib()  # fail before a long run, not after it
    config = EvalConfig(
        data_dir=data_dir,
        models=list(dict.fromkeys(models)),
        predictions=_parse_predictions(predictions),
        baselines=list(dict.fromkeys(baselines)),
        resolution=Resolution(resolution),
        prior_path=prior_path,
        prior_smoothing=prior_smoothing,
        rebalance_lambda=rebalance_lambda,
        device=device,
        seed=seed,
        temperature=temperature,
        mixture_temperature=mixture_temperature,
        prior_correction=prior_correction,
        flip_average=flip_average,
        fid=fid or fid_weights is not None,
        fid_weights=fid_weights,
        limit=limit,
        pretrained=not random_weights,
        offline=offline,
        hint_counts=_parse_hint_counts(hint_counts),
        hint_spread=hint_spread_setting(hint_spread),
    )
    quiet_decoders()  # damaged TIFFs: one warning line each, not libtiff's own chatter
    total = len(find_images(data_dir))
    total = min(total, limit) if limit else total
    with Progress(total, enabled=not quiet, description="evaluating") as bar:
        result = evaluate(
            config,
            progress=lambda done, _total: bar.advance(),
            warn=lambda message: click.echo(f"autocolor: warning: {message}", err=True),
        )
    if json_path == "-":
        import json

        from autocolor.evaluation.report import to_json_dict

        click.echo(json.dumps(to_json_dict(result), indent=2, allow_nan=False))
    elif json_path is not None:
        write_json(result, Path(json_path))
    if csv_path is not None:
        write_csv(result, csv_path)
    if plot_path is not None:
        if config.hint_counts:
            from autocolor.evaluation.report import write_hints_plot

            write_hints_plot(result, plot_path)
        else:
            write_plot(result, plot_path)
    if not quiet:
        from rich.console import Console

        Console(stderr=json_path == "-").print(render_table(result))
    if result.skipped:
        report_error(f"{len(result.skipped)} image(s) skipped; the numbers cover the other "
                     f"{result.protocol['images_scored']}")
        ctx.exit(EXIT_SKIPPED)
