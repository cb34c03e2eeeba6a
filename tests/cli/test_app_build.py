"""The console script builds the app of the one command it runs (`cli.app.build`): same help,
errors and output as the full app, without the other commands' modules and their libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from fidelcli.cli.app import COMMANDS, app, build

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "transactions.csv"


def test_the_full_app_has_every_command_and_one_command_app_only_its_own() -> None:
    group = typer.main.get_command(app)
    assert set(group.commands) == set(COMMANDS)  # type: ignore[attr-defined]
    assert list(typer.main.get_command(build("rfm")).commands) == ["rfm"]  # type: ignore[attr-defined]
    # not a command (a typo, none, an option): the full app, which names the unknown command
    assert set(typer.main.get_command(build("rmf")).commands) == set(COMMANDS)  # type: ignore[attr-defined]
    assert set(typer.main.get_command(build(None)).commands) == set(COMMANDS)  # type: ignore[attr-defined]


def test_one_command_app_gives_the_same_output_and_errors() -> None:
    runner = CliRunner()
    # -q: no progress lines (they carry the time of day); errors are still printed
    for args in (["rfm", "-t", str(SAMPLE), "--format", "json"], ["kpi", "-t", str(SAMPLE), "--period", "quarter"],
                 ["churn", "--help"], ["rfm", "-t", str(SAMPLE), "--bins", "x"], ["rfm", "-t", "missing.csv"]):
        full, alone = runner.invoke(app, ["-q", *args]), runner.invoke(build(args[0]), ["-q", *args])
        assert (alone.exit_code, alone.stdout, alone.stderr) == (full.exit_code, full.stdout, full.stderr), args
    assert runner.invoke(build("rfm"), ["rfm", "-t", "missing.csv"]).exit_code == 2


def test_a_command_does_not_load_the_libraries_of_the_others() -> None:
    # kpi and rfm need neither NumPy (loyalty simulation, statistics, models) nor PyArrow (target rules).
    code = ("import sys; from fidelcli.cli.app import build; [build(c) for c in ('kpi', 'rfm')]; "
            "print(sorted(m for m in ('numpy', 'pyarrow', 'scipy', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    # the full app still loads them all (every command's module)
    code = "import sys; from fidelcli.cli.app import app; app.registered_groups; print('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "True"
