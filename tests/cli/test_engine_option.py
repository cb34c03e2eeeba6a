"""`--engine` and `[engine] name`: the one place the engine of the reductions is chosen."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fidelcli.cli import options
from fidelcli.cli.app import app
from fidelcli.engine import ENGINES, PolarsEngine

CSV = "customer_id,date,amount\nA,2024-01-01,10.00\nA,2024-01-05,20.00\nB,2024-01-02,15.00\n"


@pytest.fixture
def sales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(options.context, "_config", None)
    monkeypatch.setattr(options.context, "config_path", None)
    path = tmp_path / "sales.csv"
    path.write_text(CSV)
    return path


def test_engine_flag_and_config_select_the_same_engine(sales: Path) -> None:
    runner = CliRunner()
    default = runner.invoke(app, ["rfm", "-t", str(sales), "--format", "csv"])
    flag = runner.invoke(app, ["--engine", "polars", "rfm", "-t", str(sales), "--format", "csv"])
    Path("fidelcli.toml").write_text('[engine]\nname = "polars"\n')
    options.context._config = None
    configured = runner.invoke(app, ["rfm", "-t", str(sales), "--format", "csv"])
    assert default.exit_code == flag.exit_code == configured.exit_code == 0
    # A: 2 occasions, 30.00; B: 1 occasion, 15.00 (hand count of CSV).
    assert default.stdout.splitlines()[1].startswith("A,") and ",2,30.0," in default.stdout.splitlines()[1]
    assert default.stdout == flag.stdout == configured.stdout


def test_selection_point_returns_the_named_engine(sales: Path) -> None:
    assert list(ENGINES) == ["polars", "spark"]
    options.context.engine_name = "polars"
    assert isinstance(options.engine(), PolarsEngine)


def test_unknown_engine_is_a_usage_error(sales: Path) -> None:
    result = CliRunner().invoke(app, ["--engine", "dask", "rfm", "-t", str(sales)])
    assert result.exit_code == 2
    assert "dask" in result.stderr and "polars" in result.stderr
    Path("fidelcli.toml").write_text('[engine]\nname = "dask"\n')
    options.context._config = None
    result = CliRunner().invoke(app, ["rfm", "-t", str(sales)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith("error: ") and "engine.name" in result.stderr
