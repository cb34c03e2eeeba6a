"""`fidelcli journey`: exit codes, stderr lines, and --format json equal to the library result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fidelcli.analyses.journey import journey
from fidelcli.cli import options
from fidelcli.cli.app import app
from fidelcli.io.read import scan_table

LOG = """customer_id,timestamp,stage,channel,satisfaction
A,2024-01-01 08:00:00,awareness,social,
A,2024-01-03 08:00:00,purchase,web,4
B,2024-01-02 08:00:00,awareness,search,
B,2024-01-05 08:00:00,purchase,store,2
"""


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(options.context, "_config", None)
    monkeypatch.setattr(options.context, "config_path", None)
    path = tmp_path / "touchpoints.csv"
    path.write_text(LOG)
    return path


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args))


def test_json_is_the_library_result(log: Path) -> None:
    result = run("journey", "--touchpoints", str(log), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(journey(scan_table(log, "touchpoints").lf).to_json())
    assert "no transactions (-t): the moments of truth need them; showing the journey only" in result.stderr.splitlines()


def test_csv_prints_the_matrix_without_transactions(log: Path) -> None:
    result = run("journey", "--touchpoints", str(log), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "stage,channel,touchpoints,customers,rated,satisfaction,irritants,irritant_share",
        "awareness,search,1,1,0,,0,",
        "awareness,social,1,1,0,,0,",
        "purchase,store,1,1,1,2.0,1,1.0",
        "purchase,web,1,1,1,4.0,0,0.0",
    ]


def test_show_paths_with_a_touchpoints_map(log: Path) -> None:
    log.write_text(LOG.replace("stage", "etape_du_parcours"))
    result = run("journey", "--touchpoints", str(log), "--map", "touchpoints.stage=etape_du_parcours", "--show", "paths", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["rank,path,stages,customers,share", "1,awareness > purchase,2,2,1.0"]


def test_moments_need_transactions(log: Path) -> None:
    result = run("journey", "--touchpoints", str(log), "--show", "moments")
    assert result.exit_code == 2
    assert "the moments of truth need transactions (-t)" in result.stderr


def test_satisfaction_off_the_scale_is_one_line_and_exit_2(log: Path) -> None:
    log.write_text(LOG.replace("store,2", "store,9"))
    result = run("journey", "--touchpoints", str(log))
    assert result.exit_code == 2
    assert 'error: touchpoints.csv, column "satisfaction", row 4: satisfaction 9.0 is outside the 1-5 scale' in result.stderr.splitlines()


def test_no_touchpoints_input_is_an_error(log: Path) -> None:
    result = run("journey")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: no touchpoints input given"
