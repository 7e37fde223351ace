"""``autocolor fetch-weights``: download, import, list and verify pinned pretrained weights.

A thin layer over :mod:`autocolor.weights`: parse, call, report one line per model. Exit
codes: 0 all ok, 1 some model failed, 2 usage error (including unknown model names).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.weights import WeightSpec

EXIT_FAILED = 1


def _fail(message: object) -> None:
    # Same one-line format as the group's handler, without importing the group module.
    click.secho(f"autocolor: error: {' '.join(str(message).split())}", fg="red", err=True)


def _human_size(size: int | None) -> str:
    """Decimal units, as download tools show them: 128976165 -> '129.0 MB'."""
    if size is None:
        return "?"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def _cache_state(s: WeightSpec) -> str:
    from autocolor import weights

    if weights.cached_weights(s.name) is not None:
        return "yes"
    if s.bundled:
        return "bundled"
    return "no"


def _print_list(names: tuple[str, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    from autocolor import weights

    specs = weights.manifest()
    table = Table(title="Pretrained weights (weights.toml)", title_justify="left")
    for column in ("name", "arch", "size", "licence", "cached", "pinned"):
        table.add_column(column, justify="right" if column == "size" else "left")
    shown = [specs[name] for name in names or sorted(specs)]
    for s in shown:
        pin = "sha256" if s.sha256 else "parts" if s.parts else "size*" if s.bytes else "first use*"
        table.add_row(s.name, s.arch, _human_size(s.bytes), s.licence, _cache_state(s), pin)
    console = Console(soft_wrap=False)
    console.print(table)
    if any(s.sha256 is None for s in shown):
        console.print(
            "* no published sha256: the size is checked, and the hash of the first verified "
            "download is recorded and enforced afterwards.",
            highlight=False,
        )
        console.print("  (first use*: no size either, nothing is checked the first time; parts: several files)",
                      highlight=False)  # fmt: skip
    console.print(f"cache: {weights.cache_dir()}", highlight=False)


def _check_names(names: tuple[str, ...]) -> None:
    from autocolor import weights

    known = weights.manifest()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.UsageError(
            f"unknown model(s): {', '.join(unknown)}; known: {', '.join(sorted(known))} "
            "(see `autocolor fetch-weights --list`)"
        )


def _verify(names: tuple[str, ...]) -> int:
    from autocolor import weights

    explicit = bool(names)
    failed = 0
    for name in names or tuple(sorted(weights.manifest())):
        result = weights.verify(name)
        if result.ok:
            click.echo(f"{name}: ok ({result.path})")
        elif result.path is None and not explicit:
            click.echo(f"{name}: not cached")  # verifying "everything" skips absent models
        else:
            _fail(result.message)
            failed += 1
    return failed


def _fetch(names: tuple[str, ...], *, offline: bool, force: bool, source_file: Path | None) -> int:
    from autocolor import weights
    from autocolor.errors import AutocolorError

    failed = 0
    for name in names:
        try:
            if source_file is not None:
                path = weights.import_file(name, source_file)
            else:
                path = weights.fetch(name, offline=offline, progress=sys.stderr.isatty(), force=force)
        except AutocolorError as exc:
            _fail(exc)
            failed += 1
            continue
        click.echo(f"{name}: ok ({path})")
    return failed


@click.command("fetch-weights")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--list", "list_", is_flag=True, help="Show the known pretrained models and whether they are cached.")
@click.option("--verify", is_flag=True, help="Re-hash cached weights (all cached models if no NAME is given).")
@click.option("--offline", is_flag=True, help="Never download; succeed only from the cache or bundled files.")
@click.option(
    "--from",
    "source_file",
    type=click.Path(exists=True, path_type=Path),
    help="Import a file you already have (exactly one NAME); it must match the pinned size and sha256. "
    "A folder: the model's official file name(s) in it (multi-file models such as gcp.imagenet).",
)
@click.option("--force", is_flag=True, help="Fetch and verify again even if the weights are cached.")
@click.pass_context
def fetch_weights_command(
    ctx: click.Context,
    names: tuple[str, ...],
    list_: bool,
    verify: bool,
    offline: bool,
    source_file: Path | None,
    force: bool,
) -> None:
    """Download pretrained weights, check their size and sha256, and cache them as safetensors.

    Sources listed in weights.toml are tried in order; a file that does not match its pinned
    checksum is refused and never cached. Interrupted downloads resume on the next run.
    The cache is $AUTOCOLOR_HOME, else $XDG_CACHE_HOME/autocolor, else ~/.cache/autocolor.

    \b
    Examples:
      autocolor fetch-weights --list
      autocolor fetch-weights cic.eccv16 cic.siggraph17
      autocolor fetch-weights cic.eccv16 --from ~/Downloads/colorization_release_v2-9b330a0b.pth
      autocolor fetch-weights gcp --from ~/Downloads/gcp_assets/   # its 5 files
      autocolor fetch-weights --verify
      autocolor fetch-weights cic.eccv16 --offline      # check it is usable without network
    """
    from autocolor.errors import WeightsError
    from autocolor.names import canonical_model_name

    names = tuple(canonical_model_name(name) for name in names)
    if list_ and verify:
        raise click.UsageError("use either --list or --verify, not both")
    if source_file is not None:
        if list_ or verify:
            raise click.UsageError("--from imports a file; it cannot be combined with --list or --verify")
        if len(names) != 1:
            raise click.UsageError("--from FILE needs exactly one NAME (the model the file is for)")
    if not names and not (list_ or verify):
        raise click.UsageError("give at least one model NAME, or --list / --verify")
    try:
        _check_names(names)
        if list_:
            _print_list(names)
            return
        failed = _verify(names) if verify else _fetch(names, offline=offline, force=force, source_file=source_file)
    except WeightsError as exc:  # e.g. a broken weights.toml: nothing can be done per model
        _fail(exc)
        ctx.exit(EXIT_FAILED)
    if failed:
        ctx.exit(EXIT_FAILED)
