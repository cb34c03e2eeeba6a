"""The `fidelcli` command: global options, the explicit registration of every command (in the order
of `fidelcli --help`), and the one error handler. The command modules never import this one."""

from __future__ import annotations

import copy
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from typer.core import TyperGroup, TyperOption

from fidelcli import __version__
from fidelcli.cli import allocator, options, render
from fidelcli.cli.typer_compat import ClickException, Context
from fidelcli.engine import EngineName
from fidelcli.errors import FidelError
from fidelcli.privacy.mask import scrub


def _report(exc: BaseException) -> int:
    """Print one line (and a hint) on stderr for an exception; return the exit code.

    Every line goes through `scrub()` unless `--show-values`: a message that echoes an input value (a
    Polars error quoting a cell, a bug's exception text) never prints an email, a phone number, an IBAN
    or a quoted name. The traceback of `-v` is scrubbed too.
    """
    err = render.stderr()
    clean = (lambda text: text) if render.settings.show_values else scrub

    def line(text: str, **style: Any) -> None:
        err.print(clean(text), markup=False, soft_wrap=True, **style)

    if render.settings.verbose:
        sys.stderr.write(clean("".join(traceback.format_exception(exc))))
    if isinstance(exc, FidelError):
        line(f"error: {exc}", style="red")
        if exc.hint:
            line(f"hint: {exc.hint}")
        return exc.exit_code
    if isinstance(exc, pl.exceptions.PolarsError):
        # A value that does not parse surfaces as a Polars error when a query first reads it: name its row.
        for table in options.context.tables:
            try:
                table.check()
            except FidelError as located:
                return _report(located)
        # A data problem found while computing (e.g. a value Polars could not cast).
        line(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", style="red")
        line("hint: run `fidelcli validate` on the input to locate the bad rows")
        return 2
    line(f"error: internal error ({type(exc).__name__}): {exc}", style="red")
    line("hint: this is a bug; please report it with the output of the same command with -v")
    return 3


# Root flags also accepted after the subcommand (`fidelcli rfm -t x.csv -v`), by parameter name.
GLOBAL_FLAGS = {"quiet": "quiet", "verbose": "verbose", "no_color": "color", "show_values": "show_values"}


def _global_flag(attr: str) -> Callable[[object, object, bool], bool]:
    def callback(ctx: object, param: object, value: bool) -> bool:
        if value:  # given after the subcommand: it adds to the root's flags, never unsets one
            setattr(render.settings, attr, attr != "color")
        return value

    return callback


def _commands(group: Any) -> Iterator[Any]:
    for cmd in getattr(group, "commands", {}).values():
        yield cmd
        yield from _commands(cmd)


def _tidy_help(group: TyperGroup) -> None:
    """Give every subcommand the root's flags (-q, -v, --no-color, --show-values), and show flags
    without a `<bool>` placeholder in --help (a flag takes no value)."""
    roots = {p.name: p for p in group.params if isinstance(p, TyperOption) and p.name in GLOBAL_FLAGS}
    for cmd in [group, *_commands(group)]:
        if cmd is not group and not hasattr(cmd, "commands"):
            taken = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
            for name, root_param in roots.items():
                if taken.isdisjoint(root_param.opts):
                    shared = copy.copy(root_param)
                    shared.expose_value = False
                    shared.callback = _global_flag(GLOBAL_FLAGS[name])
                    shared.rich_help_panel = "Global options"
                    cmd.params.append(shared)
        for param in [*cmd.params, cmd.get_help_option(Context(cmd))]:
            if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""


class FidelGroup(TyperGroup):
    """Root group that maps every exception to one line on stderr and an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        """Usage errors (unknown option, bad value) as one line and a hint too, exit 2."""
        if not getattr(self, "_tidied", False):
            _tidy_help(self)
            self._tidied = True
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra)
        except SystemExit as exc:
            # Rich and Click exit 1 when the reader of the help goes away (`fidelcli rfm --help |
            # head`), after silencing stdout: as for data output, that is not an error.
            if exc.code == 1 and isinstance(exc.__context__, BrokenPipeError):
                sys.exit(0)
            raise
        except ClickException as exc:
            if not standalone_mode:
                raise
            if not exc.format_message():  # `fidelcli` alone: the help was printed
                sys.exit(exc.exit_code)
            err = render.stderr()
            err.print(f"error: {exc.format_message()}", style="red", markup=False, soft_wrap=True)
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else "fidelcli"
            err.print(f"hint: see {command} --help", markup=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            render.stderr().print("aborted", markup=False)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: Context) -> Any:
        try:
            result = super().invoke(ctx)
            for tx in options.context.transactions:
                tx.resolve()  # a command that never reduced them still reports their warnings
            return result
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`fidelcli rfm ... | head`): not an error; silence the final flush.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except Exception as exc:  # the one place errors are translated
            if type(exc).__module__.startswith(("click", "typer")):
                raise
            raise typer.Exit(_report(exc)) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fidelcli {__version__}")
        raise typer.Exit()


def root(
    config: Annotated[Path | None, typer.Option("--config", help="Config file (default ./fidelcli.toml if present).", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="More detail; tracebacks on errors.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (also with NO_COLOR set).")] = False,
    show_values: Annotated[
        bool,
        typer.Option(
            "--show-values",
            help="Show personal values (emails, phones, IBANs, names) in diagnostics and validate reports instead of masking them.",
        ),
    ] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
    engine: Annotated[
        EngineName | None,
        typer.Option("--engine", help="Engine of the transaction reductions (default \\[engine] name, else polars).", show_default=False),
    ] = None,
) -> None:
    """Customer-loyalty analytics from transaction exports."""
    render.settings.quiet = quiet
    render.settings.verbose = verbose
    render.settings.color = not no_color
    render.settings.show_values = show_values
    render.settings.currency = lambda: options.config().analysis.currency
    options.context.config_path = config
    options.context.engine_name = engine
    options.context._config = None
    options.context.tables = []
    options.context.transactions = []


def _profiled(name: str) -> str:
    """The command's name, once its allocator profile is known to be declared (`allocator.PROFILES`)."""
    if name not in allocator.PROFILES:
        raise RuntimeError(f"command {name!r} has no allocator profile: add it to fidelcli.cli.allocator.PROFILES")
    return name


# Every command, in the order of `fidelcli --help`: its module in fidelcli.cli and, there, its
# function, or the Typer app of its subcommands (`app`).
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "validate_cmd"),
    "rfm": ("rfm", "rfm_cmd"),
    "kpi": ("kpi", "kpi_cmd"),
    "cohort": ("cohort", "cohort_cmd"),
    "clv": ("clv", "clv_cmd"),
    "subscription": ("subscription", "subscription_cmd"),
    "churn": ("churn", "app"),
    "roi": ("roi", "app"),
    "loyalty": ("loyalty", "loyalty_cmd"),
    "target": ("target", "target_cmd"),
    "recommend": ("recommend", "app"),
    "journey": ("journey", "journey_cmd"),
    "privacy": ("privacy", "app"),
    "report": ("report", "report_cmd"),
    "sample": ("sample", "sample_cmd"),
}


def build(command: str | None = None) -> typer.Typer:
    """The `fidelcli` app: every command of `COMMANDS`, or only `command` when it is one of them.

    The console script (`fidelcli.cli.main`) builds the app of the command it runs, so the other
    commands' modules, and the libraries only they import (NumPy, PyArrow...), are never loaded: a
    shorter start for every command (docs/performance.md). Its help, options, errors and output are
    those of the full app's command.
    """
    new = typer.Typer(
        cls=FidelGroup,
        name="fidelcli",
        help="Customer-loyalty analytics from transaction exports: validate, RFM, KPIs, cohorts, CLV, churn.\n\n"
        "Example: fidelcli rfm -t sales.csv --summary",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )
    new.callback()(root)
    for name in [command] if command in COMMANDS else list(COMMANDS):
        module, attribute = COMMANDS[name]
        target = getattr(importlib.import_module(f"fidelcli.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            new.add_typer(target, name=_profiled(name))
        else:
            new.command(_profiled(name))(target)
    return new


_built: dict[str, typer.Typer] = {}


def __getattr__(name: str) -> typer.Typer:
    """`app`: the full app (every command), built on first use (`from fidelcli.cli.app import app`)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if "app" not in _built:
        _built["app"] = build()
    return _built["app"]
