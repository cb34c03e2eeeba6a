"""`fidelcli sample`: the printed table is the library's `Truth.files_table()`."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from fidelcli.cli.app import app
from fidelcli.sample import Truth


def test_sample_cli_prints_the_library_files_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "data"
    res = CliRunner().invoke(app, ["sample", "-o", str(out), "--customers", "120", "--seed", "3", "--format", "csv"])
    assert res.exit_code == 0, res.stderr
    truth = Truth.model_validate_json((out / "truth.json").read_text(encoding="utf-8"))
    table = truth.files_table()
    assert_frame_equal(pl.read_csv(io.StringIO(res.stdout)), table)
    # One CSV file per input kind; 120 customers asked for, one row each; one spend row per month of
    # the default window 2023-01 to 2025-12 (36) and paid channel (5 with a CAC: search, social,
    # display, email, referral): 180. Every count is the rows of its file.
    assert table["table"].to_list() == ["transactions", "customers", "surveys", "campaigns", "subscriptions", "touchpoints", "spend"]
    assert table["files"].to_list() == [f"{t}.csv" for t in table["table"]]
    assert table.filter(pl.col("table") == "customers")["rows"].item() == 120
    assert table.filter(pl.col("table") == "spend")["rows"].item() == 36 * 5
    for kind, rows in zip(table["table"], table["rows"], strict=True):
        assert pl.read_csv(out / f"{kind}.csv", infer_schema_length=0).height == rows
