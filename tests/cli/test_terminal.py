"""What the commands write and show, end to end: identical bytes for identical runs, money to the
cent, tables that fit the terminal, help text, global flags after the subcommand (issue 11, items 6
and 9; docs/output.md)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.cli import render
from fidelcli.cli.app import app
from fidelcli.io.rounding import column_kind

SAMPLE = Path(__file__).parents[2] / "sample_data"
TX = str(SAMPLE / "transactions.csv")
NNBSP = "\u202f"

# The same views as `make run`, kept small: BG/NBD alone and a short horizon for clv.
COMMANDS = {
    "clv": ["clv", "-t", TX, "--model", "bgnbd", "--horizon", "4w"],
    "rfm": ["rfm", "-t", TX],
    "rfm-summary": ["rfm", "-t", TX, "--summary"],
    "kpi": ["kpi", "-t", TX, "-c", str(SAMPLE / "customers.csv"), "--surveys", str(SAMPLE / "surveys.csv"),
            "--spend", str(SAMPLE / "spend.csv"), "--campaigns", str(SAMPLE / "campaigns.csv")],
    "kpi-summary": ["kpi", "-t", TX, "--summary"],
    "cohort": ["cohort", "-t", TX, "--period", "quarter"],
}


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """-q, -v and --lang set process-wide settings: leave none behind for the next test."""
    monkeypatch.setattr(render, "settings", render.Settings())


def invoke(*args: str, env: dict[str, str] | None = None):  # noqa: ANN201
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.slow
def test_clv_twice_gives_identical_bytes(tmp_path: Path) -> None:
    for ext in ("csv", "parquet"):
        first, second = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        for out in (first, second):
            r = invoke("-q", *COMMANDS["clv"], "-o", str(out))
            assert r.exit_code == 0, r.stderr
        assert first.read_bytes() == second.read_bytes(), ext


@pytest.mark.slow
@pytest.mark.parametrize("view", ["rfm", "rfm-summary", "kpi", "kpi-summary", "cohort"])
def test_rfm_kpi_cohort_twice_give_identical_bytes(tmp_path: Path, view: str) -> None:
    outputs = []
    for i in range(2):
        out = tmp_path / f"{i}.parquet"
        r = invoke("-q", *COMMANDS[view], "-o", str(out))
        assert r.exit_code == 0, r.stderr
        piped = invoke("-q", *COMMANDS[view], "--format", "csv")
        outputs.append((out.read_bytes(), piped.stdout))
    assert outputs[0] == outputs[1]


def _decimals(text: str) -> int:
    """Decimals of a CSV cell (Polars writes 2e-6 for 0.000002)."""
    if "e" in text.lower():
        mantissa, exponent = text.lower().split("e")
        return max(0, _decimals(mantissa) - int(exponent))
    return len(text.split(".")[1]) if "." in text else 0


@pytest.mark.parametrize("view", list(COMMANDS))
def test_money_is_rounded_to_the_cent(tmp_path: Path, view: str) -> None:
    out = tmp_path / "out.csv"
    r = invoke("-q", *COMMANDS[view], "-o", str(out))
    assert r.exit_code == 0, r.stderr
    text = pl.read_csv(out, infer_schema=False)  # the cells as written
    typed = pl.read_csv(out, infer_schema_length=None)
    long = "kpi" in text.columns
    checked = 0
    for column in text.columns:
        dtype = typed.schema[column]
        if not dtype.is_numeric() or column in ("cohort", "period_start", "year"):
            continue
        kinds = [column_kind(k) for k in text["kpi"]] if long and column in ("previous", "current", "delta") else None
        for i, cell in enumerate(text[column]):
            if cell is None:
                continue
            kind = kinds[i] if kinds else column_kind(column)
            limit = {"money": 2, "rate": 6, "count": 6 if dtype.is_float() else 0, "measure": 15}[kind]
            assert _decimals(cell) <= limit, (column, cell, kind)
            assert cell.lower() not in ("nan", "inf", "-inf")
            checked += 1
        if column_kind(column) == "count" and not long:
            assert dtype.is_integer() or typed[column].drop_nulls().round(0).ne(typed[column].drop_nulls()).any(), column
    assert checked > 0


def test_money_in_the_clv_file_is_never_a_float_artefact(tmp_path: Path) -> None:
    out = tmp_path / "clv.csv"
    assert invoke("-q", *COMMANDS["clv"], "-o", str(out)).exit_code == 0
    body = out.read_text()
    assert not re.search(r"\d\.\d*(0000000|9999999)\d", body)  # no 892.8000000000001, no 0.035500000000000004
    df = pl.read_csv(out)
    assert df.schema["frequency"] == pl.Int64  # a count


@pytest.mark.parametrize("width", [80, 160])
@pytest.mark.parametrize("view", ["clv", "rfm", "kpi", "cohort"])
def test_tables_fit_the_terminal(monkeypatch: pytest.MonkeyPatch, width: int, view: str) -> None:
    monkeypatch.setattr(render, "is_terminal", lambda: True)
    r = invoke("--no-color", *COMMANDS[view], "--format", "table", env={"COLUMNS": str(width)})
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) > 10
    assert max(len(line) for line in lines) <= width
    assert "…" not in "".join(line for line in lines if not line.startswith("…"))  # no cell cut short


def test_french_terminal_numbers_and_currency(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fidelcli.toml").write_text('[analysis]\ncurrency = "EUR"\n')
    r = invoke("--no-color", "rfm", "-t", TX, "--summary", "--format", "table", "--lang", "fr", env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "segments RFM au 2026-01-01"
    champions = next(line for line in r.stdout.splitlines() if line.startswith("Champions"))
    assert re.search(rf"\d{{3}}{NNBSP}\d{{3}},\d\d{NNBSP}€", champions)  # e.g. 226 876,71 €
    assert re.search(rf"\d,\d{NNBSP}%", champions)  # a share as a French percentage
    # The currency changes the terminal only: files keep plain numbers.
    (tmp_path / "fidelcli.toml").write_text('[analysis]\ncurrency = "USD"\n')
    en = invoke("--no-color", "rfm", "-t", TX, "--summary", "--format", "markdown")
    assert "| Champions |" in en.stdout and "$" in en.stdout
    csv = invoke("rfm", "-t", TX, "--summary", "--format", "csv")
    assert "$" not in csv.stdout and "€" not in csv.stdout


def test_help_shows_bracketed_config_sections_and_no_bool_placeholder() -> None:
    train = invoke("churn", "train", "--help", env={"COLUMNS": "200"})
    score = invoke("churn", "score", "--help", env={"COLUMNS": "200"})
    assert "(default 0 or [churn] seed)" in train.stdout
    assert "(default [churn] bands or 0.3,0.6)" in score.stdout
    for args in (["--help"], ["rfm", "--help"], ["kpi", "--help"], ["clv", "--help"], ["churn", "train", "--help"]):
        assert "<bool>" not in invoke(*args, env={"COLUMNS": "200"}).stdout, args


def _crash(*args: object, **kwargs: object) -> object:
    raise ZeroDivisionError("boom")


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_verbose_after_the_subcommand_gives_a_traceback(monkeypatch: pytest.MonkeyPatch, flag: str) -> None:
    import fidelcli.cli.rfm

    monkeypatch.setattr(fidelcli.cli.rfm, "rfm_analysis", _crash)
    quiet = invoke("rfm", "-t", TX)
    assert quiet.exit_code == 3 and "Traceback" not in quiet.stderr
    loud = invoke("rfm", "-t", TX, flag)
    assert loud.exit_code == 3
    assert "Traceback (most recent call last)" in loud.stderr and "ZeroDivisionError: boom" in loud.stderr
    assert loud.stderr.splitlines()[-2:] == ["error: internal error (ZeroDivisionError): boom",
                                             "hint: this is a bug; please report it with the output of the same command with -v"]


def test_quiet_and_no_color_after_the_subcommand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "is_terminal", lambda: True)
    r = invoke("rfm", "-t", TX, "--summary", "-q", "--no-color", "--format", "table")
    assert r.exit_code == 0
    assert r.stderr == ""  # no thresholds, no progress lines
    assert "\x1b[" not in r.stdout
