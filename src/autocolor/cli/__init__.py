"""The ``autocolor`` command: a Click group whose subcommands are imported only when used.

``autocolor --version`` and ``autocolor --help`` never import torch: subcommand modules are
looked up by name (:data:`LAZY_COMMANDS`) and imported only when that subcommand runs or
prints its own help. Errors meant for the user (:class:`autocolor.errors.AutocolorError`)
become one red line ``autocolor: error: <message>`` on stderr and the error's exit code;
Click usage errors exit with 2, Ctrl-C with 130. ``--debug`` adds tracebacks.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import click

from autocolor import __version__
from autocolor.cli.common import one_line, report_error
from autocolor.errors import AutocolorError

EXIT_INTERRUPTED = 130


class LazyCommand(NamedTuple):
    """Where a subcommand lives and its one-line help (shown without importing it)."""

    module: str
    attribute: str
    short_help: str


#: Subcommands, by name. A module that does not exist (yet) is simply not listed.
LAZY_COMMANDS: dict[str, LazyCommand] = {
    "colorize": LazyCommand(
        "autocolor.cli.colorize", "colorize_command", "Colorize grayscale photos (files, folders, stdin)."
    ),
    "sample": LazyCommand(
        "autocolor.cli.sample", "sample_command", "Draw several diverse colorizations of a photo."
    ),
    "fetch-weights": LazyCommand(
        "autocolor.cli.fetch_weights",
        "fetch_weights_command",
        "Download and verify pretrained weights into the cache.",
    ),
    "train": LazyCommand("autocolor.cli.train", "train_command", "Train a colorization model."),
    "eval": LazyCommand("autocolor.cli.eval", "eval_command", "Evaluate a model on a folder of photos."),
    "report": LazyCommand(
        "autocolor.cli.report", "report_command", "Merge run manifests: done, failed and missing inputs."
    ),
}


def _module_exists(name: str) -> bool:
    # find_spec locates the file without executing it, so listing stays cheap.
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when the subcommand is used.

    Subcommands whose module is absent are left out of ``--help`` and answered with Click's
    usual "No such command"; a module that exists but fails to import is reported as an
    error naming the command and the reason.
    """

    def __init__(self, *args: Any, lazy: dict[str, LazyCommand] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def _available_lazy(self) -> list[str]:
        return [name for name, spec in self.lazy.items() if _module_exists(spec.module)]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._available_lazy()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in self.lazy:
            return command
        spec = self.lazy[cmd_name]
        if not _module_exists(spec.module):
            return None
        try:
            module = importlib.import_module(spec.module)
            command = getattr(module, spec.attribute)
        except (ImportError, AttributeError) as exc:
            raise click.ClickException(f"command {cmd_name!r} is unavailable: {exc}") from exc
        if not isinstance(command, click.Command):
            raise click.ClickException(f"command {cmd_name!r} is unavailable: {spec.attribute} is not a command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static one-liners so that --help does not import the subcommands (and torch).
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str()))
            else:
                rows.append((name, self.lazy[name].short_help))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class AutocolorGroup(LazyGroup):
    """The top-level group; its :meth:`main` turns every failure into a message and exit code."""

    debug: bool = False

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        self.debug = bool(os.environ.get("AUTOCOLOR_DEBUG"))
        if not self.debug and "--debug" not in (sys.argv[1:] if args is None else list(args)):
            # Pillow warns (several lines, with its source line) about the damaged files it
            # still reads; such a file either works or fails with our one-line error.
            warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
        try:
            result = super().main(args, prog_name or "autocolor", complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except click.ClickException as exc:  # usage errors (exit 2) and the like
            exc.show()
            code = exc.exit_code
        except click.Abort as exc:
            interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
            click.echo("Interrupted." if interrupted else "Aborted.", err=True)
            code = EXIT_INTERRUPTED if interrupted else 1
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            code = EXIT_INTERRUPTED
        except AutocolorError as exc:
            if self.debug:
                traceback.print_exc()
            report_error(exc)
            code = exc.exit_code
        except Exception as exc:  # a bug: keep the message short unless --debug
            if self.debug:
                traceback.print_exc()
            report_error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)")
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"autocolor {__version__}")
        ctx.exit(0)


@click.group(
    cls=AutocolorGroup,
    lazy=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Colorize grayscale photographs (CIC, Larsson, PIC, GCP methods), on CPU or CUDA.

    \b
    Examples:
      autocolor colorize old.jpg                 # writes old_color.jpg
      autocolor colorize scans/ -o colored/      # a whole folder, tree mirrored
      autocolor fetch-weights cic.eccv16         # download verified weights

    Run `autocolor COMMAND --help` for a command's options.
    """
    if debug and isinstance(ctx.command, AutocolorGroup):
        ctx.command.debug = True


__all__ = ["main", "LazyGroup", "AutocolorGroup", "LAZY_COMMANDS", "report_error", "one_line"]
