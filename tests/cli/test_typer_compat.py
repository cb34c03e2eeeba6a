"""The private Typer (vendored Click) names fidelcli uses still mean what fidelcli expects."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from fidelcli.cli.app import app
from fidelcli.cli.typer_compat import ClickException, Context


def test_usage_errors_derive_from_click_exception() -> None:
    # FidelGroup.main catches ClickException to print a usage error as one line and a hint.
    assert issubclass(typer.BadParameter, ClickException)
    assert not issubclass(typer.Exit, ClickException) and not issubclass(typer.Abort, ClickException)
    assert ClickException("x").exit_code == 1 and typer.BadParameter("x").exit_code == 2


def test_context_gives_a_command_its_help_option() -> None:
    group = typer.main.get_command(app)
    option = group.get_help_option(Context(group))
    assert option is not None and option.opts == ["--help"]


def test_a_usage_error_is_one_line_and_a_hint() -> None:
    r = CliRunner().invoke(app, ["rfm", "--bins", "12"])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert lines[0] == "error: Invalid value for '--bins': Input should be less than or equal to 10"
    assert lines[1] == "hint: see fidelcli rfm --help"
