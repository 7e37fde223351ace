"""Options shared by the subcommands: which model and where it runs, GCP's controls, the pixel
limit, and how outputs are written and reported.

Parsing only: each decorator adds ``click`` options and, where a value needs it, its parser
(``--max-pixels 50M``). Nothing here imports torch or the image stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
#: Env var with the same effect as the hidden ``--random-weights`` flag (tests only).
RANDOM_WEIGHTS_ENV = "AUTOCOLOR_RANDOM_WEIGHTS"


def model_options(f: F) -> F:
    """``--model``, ``--device``, ``--seed``, ``--offline`` and the hidden ``--random-weights``."""
    decorators = [
        click.option(
            "-m",
            "--model",
            metavar="NAME",
            default=None,
            help="Model to use (`autocolor fetch-weights --list` shows them); default: the bundled model.",
        ),
        click.option(
            "--device",
            default="auto",
            show_default=True,
            metavar="auto|cpu|cuda[:N]",
            help="Where to run; auto = the first CUDA GPU if any, else the CPU.",
        ),
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            default=None,
            help="Seed for sampling decoders; the same seed gives the same colours.",
        ),
        click.option("--offline", is_flag=True, help="Never download weights; use bundled or cached ones."),
        # Random weights make meaningless colours: this exists so tests can run the whole
        # pipeline with tiny models that have no published weights. Hidden from --help.
        click.option("--random-weights", is_flag=True, hidden=True, envvar=RANDOM_WEIGHTS_ENV),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def gcp_options(f: F) -> F:
    """``--class``, ``--direction`` and ``--strength``: options of GCP models only."""
    decorators = [
        click.option("--class", "class_ref", metavar="ID|NAME", default=None,
                     help="GCP only: the ImageNet class to colour as (default: predicted)."),  # fmt: skip
        click.option("--direction", type=click.IntRange(min=0), default=None,
                     help="GCP only: which latent direction of the deformator to move along."),  # fmt: skip
        click.option("--strength", type=float, default=None, help="GCP only: how far to move along it."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def bin_decoding_options(f: F) -> F:
    """``--prior-correction`` and ``--flip-average``: decoding options of CIC-style models."""
    decorators = [
        click.option("--prior-correction", type=click.FloatRange(0, 1), default=None, metavar="S",
                     help="CIC-style models: undo this share (0-1) of the class rebalancing the model "
                     "was trained with; 0 = vivid (CIC's decoding), 1 = calibrated, more muted. "
                     "Default: the model's."),  # fmt: skip
        click.option("--flip-average/--no-flip-average", default=None,
                     help="CIC-style models: average the network's output over the photo and its "
                     "mirror image (twice the network time). Default: the model's."),  # fmt: skip
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def bin_decoding_extra(model: str, prior_correction: float | None, flip_average: bool | None) -> dict[str, Any]:
    """``DecodeOptions.extra`` keys from :func:`bin_decoding_options`; only those given.

    Raises:
        UsageError: ``--prior-correction`` for a model without 313-bin output, or
            ``--flip-average`` for one whose output is not per pixel.
    """
    from autocolor.decode import FLIP_AVERAGE, OPTION_KINDS, PRIOR_CORRECTION
    from autocolor.errors import UsageError
    from autocolor.models import model_info

    kind = model_info(model).output_kind
    given = {PRIOR_CORRECTION: prior_correction, FLIP_AVERAGE: flip_average}
    what = {PRIOR_CORRECTION: "313-bin output", FLIP_AVERAGE: "per-pixel output"}
    extra: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        if kind not in OPTION_KINDS[key]:
            option = "--" + key.replace("_", "-")
            raise UsageError(f"{option} applies only to models with {what[key]}, not to {model}")
        extra[key] = value
    return extra


def _parse_pixels(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    text = value.replace("_", "").replace(",", "").strip().upper()
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    if not digits.isdigit() or int(digits) * scale <= 0:
        raise click.BadParameter(f"{value!r} is not a positive pixel count (e.g. 50000000 or 50M)")
    return int(digits) * scale


def max_pixels_option(f: F) -> F:
    """``--max-pixels N``: refuse images whose header claims more pixels (decompression bombs)."""
    return click.option(
        "--max-pixels",
        metavar="N",
        default=None,
        callback=_parse_pixels,
        envvar="AUTOCOLOR_MAX_PIXELS",
        help="Refuse images whose header claims more than N pixels (width x height; 50M = 50 million), "
        "before decoding them. Default: sized to this machine's memory.",
    )(f)


def output_options(f: F) -> F:
    """``--overwrite``, ``--json``, ``--recursive/--no-recursive`` and ``--quiet``."""
    decorators = [
        click.option("--overwrite", is_flag=True, help="Replace existing outputs (never an input)."),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print one JSON line per image on stdout (input, output, status, error, seconds, ...).",
        ),
        click.option(
            "--recursive/--no-recursive",
            default=True,
            show_default=True,
            help="Descend into sub-folders of folder inputs.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary (failures still print)."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f
