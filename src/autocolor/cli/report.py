"""``autocolor report``: merge run manifests (one per shard, reruns) into done / failed / missing.

Parsing and printing only: the merge is :mod:`autocolor.batch.report`. Imports neither torch
nor the image stack, so it answers at once even for large manifests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from autocolor.cli.common import one_line
from autocolor.cli.inputs import discover_inputs
from autocolor.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.batch.report import Summary

#: Missing inputs listed by the text report (``--json`` lists all).
MISSING_SHOWN = 20


@click.command("report")
@click.argument("manifests", nargs=-1, required=True, metavar="MANIFEST.jsonl...",
                type=click.Path(exists=True, dir_okay=False))  # fmt: skip
@click.option("--expect", "expect", metavar="SRC",
              help="The INPUT folder of the run: its images are the inputs expected, so the ones no "
              "manifest mentions are reported as missing.")  # fmt: skip
@click.option("--files-from", metavar="LIST",
              help="The --files-from list of the run (- for stdin): its entries are the inputs expected "
              "(relative ones below --expect SRC when given).")  # fmt: skip
@click.option("--recursive/--no-recursive", default=True, show_default=True,
              help="With --expect: whether the run descended into sub-folders.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only the failures and missing inputs, no counts.")
def report_command(
    manifests: tuple[str, ...],
    expect: str | None,
    files_from: str | None,
    recursive: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Summarise the run manifests of `colorize --manifest`: done, failed and missing inputs.

    Inputs are matched on their path below the input folder, so manifests written by shards on
    different machines merge. An input is done if any manifest records it done (a rerun may have
    retried an earlier failure), failed if every record of it is a failure. Without --expect or
    --files-from nothing is known about inputs that were never recorded.

    Exit status: 0 when nothing failed and nothing expected is missing, 1 otherwise, 2 for a
    usage error (such as a manifest that cannot be read).

    \b
    Examples:
      autocolor report run-*.jsonl                      # done / failed, failures listed
      autocolor report run-*.jsonl --expect scans/      # ... and the images never finished
      autocolor report run-*.jsonl --files-from list.txt --json > summary.json
    """
    import json

    from autocolor.batch.report import summarize_files

    expected = _expected(expect, files_from, recursive) if expect or files_from else None
    summary = summarize_files(manifests, expected=expected)
    ctx = click.get_current_context()
    if as_json:
        click.echo(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
        ctx.exit(summary.exit_code)
    for failure in summary.failed:
        click.secho(f"failed: {failure.get('input')}: {one_line(failure.get('error'))}", fg="red")
    missing = summary.missing or []
    for key in missing[:MISSING_SHOWN]:
        click.echo(f"missing: {key}")
    if len(missing) > MISSING_SHOWN:
        click.echo(f"missing: ... and {len(missing) - MISSING_SHOWN} more (--json lists all)")
    if not quiet:
        click.echo(_counts_line(summary))
        if summary.bad_lines:
            where = ", ".join(f"{name}:{line}" for name, line in summary.bad_lines[:3])
            more = "" if len(summary.bad_lines) <= 3 else f" and {len(summary.bad_lines) - 3} more"
            click.echo(f"ignored {len(summary.bad_lines)} unreadable line(s) ({where}{more}): "
                       "a job killed while writing its last line", err=True)  # fmt: skip
    ctx.exit(summary.exit_code)


def _counts_line(summary: Summary) -> str:
    parts = [f"{summary.done} done"]
    if summary.skipped:
        parts[0] += f" ({summary.skipped} of them skipped: output already there)"
    parts.append(f"{len(summary.failed)} failed")
    if summary.missing is not None:
        parts.append(f"{len(summary.missing)} missing of {summary.expected} expected")
    if summary.unexpected:
        parts.append(f"{summary.unexpected} recorded but not expected")
    files = len(summary.manifests)
    return f"{', '.join(parts)} ({files} manifest{'s' if files != 1 else ''})"


def _expected(expect: str | None, files_from: str | None, recursive: bool) -> dict[str, str]:
    """Key -> path of every input the run was given, found as ``colorize`` finds them."""
    from autocolor.batch.shard import input_key, read_file_list, resolve_listed

    if expect is not None and not Path(expect).is_dir():
        raise UsageError(f"--expect {expect}: not a folder (give the run's INPUT folder)")
    if files_from is not None:
        listed = resolve_listed(read_file_list(files_from), expect)
        return {input_key(path, root): path for path, root in listed}
    assert expect is not None
    items, unreadable = discover_inputs([expect], recursive=recursive)
    if unreadable:
        path, reason = unreadable[0]
        raise UsageError(f"--expect {expect}: {path}: {reason}")
    return {input_key(item.path, item.root): item.path for item in items}
