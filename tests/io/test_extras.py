"""Optional dependencies are extras: a missing one is one error line (exit 2) naming the extra to install."""

import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fidelcli
from fidelcli.cli.app import app
from fidelcli.errors import DependencyError, FidelError
from fidelcli.extras import MODULES, require
from fidelcli.io.read import scan_table

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "sample_data" / "transactions.csv"


@pytest.fixture
def missing(monkeypatch: pytest.MonkeyPatch):
    """Make `import NAME` fail as if NAME were not installed (None in sys.modules raises ImportError)."""
    return lambda name: monkeypatch.setitem(sys.modules, name, None)


def test_require_returns_the_module_or_names_the_extra(missing):
    assert require("plots", purpose="drawing charts") is sys.modules["matplotlib"]
    missing("duckdb")
    with pytest.raises(DependencyError) as err:
        require("duckdb", purpose="reading DuckDB", file="crm.duckdb")
    assert str(err.value) == "crm.duckdb: reading DuckDB needs the duckdb package"
    assert err.value.hint == "pip install 'fidelcli[duckdb]'"
    assert isinstance(err.value, FidelError) and err.value.exit_code == 2


def test_database_sources_name_their_extra(missing, tmp_path: Path):
    missing("duckdb")
    missing("psycopg")
    with pytest.raises(DependencyError) as err:
        scan_table(f"duckdb:///{tmp_path / 'crm.duckdb'}?table=sales", "transactions")
    assert (err.value.message, err.value.hint) == ("reading DuckDB needs the duckdb package", "pip install 'fidelcli[duckdb]'")
    with pytest.raises(DependencyError) as err:
        scan_table("postgresql://shop@localhost/crm?table=sales", "transactions")
    assert str(err.value) == "postgresql://shop@localhost/crm: reading PostgreSQL needs the psycopg package"
    assert err.value.hint == "pip install 'fidelcli[postgres]'"


def test_clv_plots_without_matplotlib_exits_2_before_any_work(missing, tmp_path: Path):
    missing("matplotlib")
    result = CliRunner().invoke(app, ["clv", "-t", str(SAMPLE), "--plots", str(tmp_path / "charts")])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2:] == [
        "error: drawing the charts of --plots needs the matplotlib package",
        "hint: pip install 'fidelcli[plots]'",
    ]
    assert not (tmp_path / "charts").exists()


def test_extras_and_version_are_declared_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    # Each extra installs the module `require` imports for it; the tests install the ones they cover.
    expected = {"plots": "matplotlib", "duckdb": "duckdb", "postgres": "psycopg", "spark": "pyspark"}
    assert {e: extras[e][0].split(">")[0].split("[")[0] for e in MODULES} == expected
    # The tests exercise every optional reader and writer: the test extra pulls in every runtime extra.
    assert "fidelcli[plots,duckdb,postgres,spark]" in extras["test"] and "fidelcli[test]" in extras["dev"]
    assert not any(d.startswith(("matplotlib", "duckdb", "psycopg", "pyspark")) for d in project["dependencies"])
    # The version: only fidelcli.__version__, which the installed metadata repeats.
    assert "version" not in project and project["dynamic"] == ["version"]
    assert version("fidelcli") == fidelcli.__version__
