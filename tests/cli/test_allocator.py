"""The command line's allocator settings depend on the subcommand, found before Typer parses."""

from __future__ import annotations

import pytest

from fidelcli.cli import _command


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["clv", "-t", "sales.csv"], "clv"),
        (["-q", "--no-color", "rfm", "-t", "clv"], "rfm"),  # a file named clv is not the command
        (["--config", "clv", "kpi"], "kpi"),  # the value of --config is skipped
        (["--version"], None),
        ([], None),
    ],
)
def test_subcommand_is_the_first_argument_that_is_not_an_option(argv: list[str], command: str | None) -> None:
    assert _command(argv) == command
