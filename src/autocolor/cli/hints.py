"""``--hint``, ``--hints FILE`` and ``--hint-radius`` of ``autocolor colorize``: parse, assign, check.

Parsing only (the hints themselves are :mod:`autocolor.hints`). Every problem is found before the
model loads and is a :class:`~autocolor.errors.UsageError` (one line, exit 2): a malformed point
or colour, a hints file that cannot be read, hints for several inputs without a per-file map,
a map entry that matches no input, a point outside its image (checked from the image header,
in upright coordinates), a model that cannot take hints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from autocolor.errors import UsageError
from autocolor.hints import DEFAULT_RADIUS, MAX_RADIUS, Hint, load_hints_file, parse_hint
from autocolor.hints.spread import HintSpread

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.cli.common import InputFile

F = TypeVar("F", bound=Callable[..., object])
STDIO = "-"


def hint_options(f: F) -> F:
    """``--hint X,Y,COLOR`` (repeatable), ``--hints FILE`` and ``--hint-radius N``."""
    decorators = [
        click.option(
            "--hint",
            "hint_texts",
            multiple=True,
            metavar="X,Y,COLOR",
            help="A colour hint (hint-aware models: cic.siggraph17, cic.base): X,Y in pixels of the input "
            "or X%,Y%; COLOR #RRGGBB or lab:A,B (chroma only; the photo's lightness is kept). Repeatable.",
        ),
        click.option(
            "--hints",
            "hints_file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            metavar="FILE",
            help='JSON hints: a list of points ("X,Y,COLOR" or {"x","y","color","radius"}), or for '
            "folders an object mapping each photo's path relative to its folder to such a list.",
        ),
        click.option(
            "--hint-radius",
            type=click.IntRange(0, MAX_RADIUS),
            default=DEFAULT_RADIUS,
            show_default=True,
            metavar="N",
            help="Half-side of each hint's square patch, in pixels of the network input (256 px): "
            "a (2N+1)-pixel square; the models were trained with N = 0..4.",
        ),
        click.option(
            "--hint-spread",
            type=click.FloatRange(0.0, 10.0),
            default=None,
            metavar="REACH",
            help="How far each hint's correction carries along its object, as a fraction of the "
            "photo's size; it stops at edges in lightness. 0: only what the network makes of the "
            f"hints. [default: {HintSpread().reach:g}]",
        ),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def hint_spread_setting(reach: float | None) -> HintSpread | None:
    """``--hint-spread``: ``None`` (not given) -> the default spread, ``0`` -> no spreading."""
    if reach is None:
        return HintSpread()
    return HintSpread(reach=reach) if reach > 0 else None


def assign_hints(
    items: Sequence[InputFile], hint_texts: Sequence[str], hints_file: Path | None, radius: int
) -> dict[str, list[Hint]]:
    """Hints for each input path (inputs without hints are left out).

    ``--hint`` and a list-form ``--hints`` file describe one photo, so they need exactly one
    input; a map-form file assigns points by path relative to the folder given (or by file
    name for files given directly).
    """
    if not hint_texts and hints_file is None:
        return {}
    if hint_texts and hints_file is not None:
        raise UsageError("give --hint or --hints FILE, not both")
    if hint_texts:
        return {_single(items, "--hint").path: [parse_hint(text, radius) for text in hint_texts]}
    assert hints_file is not None
    loaded = load_hints_file(hints_file, radius)
    if loaded.per_file is None:
        return {_single(items, f"the list in {hints_file}").path: loaded.for_input("")}
    by_relative = {item.relative.as_posix(): item for item in items}
    unknown = sorted(set(loaded.per_file) - set(by_relative))
    if unknown:
        raise UsageError(f"{hints_file}: no input matches {', '.join(map(repr, unknown))} (keys are paths relative to the folder given)")
    return {by_relative[name].path: points for name, points in loaded.per_file.items() if points}


def _single(items: Sequence[InputFile], what: str) -> InputFile:
    if len(items) != 1:
        raise UsageError(
            f"{what} describes one photo but {len(items)} inputs were given; "
            "for several, use --hints FILE with a JSON object mapping relative paths to points"
        )
    return items[0]


def upright_size(path: str) -> tuple[int, int] | None:
    """``(height, width)`` of the photo as read (EXIF orientation applied), from the header only.

    ``None`` when it cannot be told cheaply (stdin, unreadable header): the check then happens
    when the photo is read, and fails that file only.
    """
    if path == STDIO:
        return None
    from PIL import Image

    from autocolor.imagemeta import stored_orientation

    try:
        with Image.open(path) as img:
            width, height = img.size
            turned = stored_orientation(img) in (5, 6, 7, 8)  # these swap the sides
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the batch, not here
        return None
    return (width, height) if turned else (height, width)


def check_hints_fit(hints: dict[str, list[Hint]]) -> None:
    """Raise a :class:`UsageError` naming the file when a point lies outside its photo."""
    for path, points in hints.items():
        size = upright_size(path)
        if size is None:
            continue
        for hint in points:
            try:
                hint.position(*size)
            except UsageError as err:
                raise UsageError(f"{path}: {err}") from None


def model_takes_hints(name: str) -> bool | None:
    """Whether the registered model ``name`` takes hints, told without loading its weights.

    The network is built on PyTorch's ``meta`` device (shapes only: no memory, no weights), so
    a model that cannot take hints is refused before a long download or load. ``None`` when
    that is not possible; the loaded network is asked then.
    """
    import torch

    from autocolor.decode import accepts_hints
    from autocolor.models import model_info

    try:
        with torch.device("meta"):
            return accepts_hints(model_info(name).factory())
    except Exception:  # noqa: BLE001 - a factory that needs real tensors: ask after loading
        return None


def check_model_takes_hints(model_name: str, accepts: bool | None, hints: dict[str, list[Hint]]) -> None:
    """One-line refusal of hints for a model that cannot take them (``None``: not known yet)."""
    if hints and accepts is False:
        raise UsageError(
            f"model {model_name} cannot take colour hints; use a hint-aware model (--model cic.base or cic.siggraph17)"
        )
