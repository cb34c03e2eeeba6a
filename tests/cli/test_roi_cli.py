"""`fidelcli roi abtest` and `fidelcli roi scenario`: exit codes, exact stderr lines, JSON equal to the library."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.analyses.roi import AbtestOptions, ScenarioInputs, abtest, retention_scenario
from fidelcli.cli import options
from fidelcli.cli.app import app

# Per-user results: 3 users per arm in a CSV as exports write it (yes/no outcome, decimal money).
RESULTS = """user,arm,bought,spend,age
1,ctrl,no,0,31
2,ctrl,yes,12.5,40
3,ctrl,no,0,22
4,new,yes,20,35
5,new,yes,7.5,51
6,new,no,0,28
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(options.context, "_config", None)
    monkeypatch.setattr(options.context, "config_path", None)
    (tmp_path / "results.csv").write_text(RESULTS)
    return tmp_path


def run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_per_user_table_json_equals_the_library(here: Path) -> None:
    r = run("roi", "abtest", "--results", "results.csv", "--variant", "arm", "--metric", "bought", "--revenue", "spend",
            "--control", "ctrl", "--exclude", "user", "--bootstrap", "200", "--format", "json")
    assert r.exit_code == 0, r.stderr  # type: ignore[attr-defined]
    lf = pl.DataFrame({"variant": ["ctrl"] * 3 + ["new"] * 3, "bought": [False, True, False, True, True, False],
                       "revenue": [0.0, 12.5, 0, 20, 7.5, 0]}).lazy()
    lib = abtest(lf, metrics=["bought"], revenue=True, options=AbtestOptions(control="ctrl", bootstrap=200))
    assert json.loads(r.stdout) == json.loads(lib.to_json())  # type: ignore[attr-defined]
    lines = r.stderr.splitlines()  # type: ignore[attr-defined]
    assert lines[0] == 'results.csv: columns: variant <- "arm", bought <- "bought", revenue <- "spend"'
    assert "warning: variant 'ctrl' has only 3 recipients: too few for the tests' approximations" in lines


def test_csv_of_the_chosen_table(here: Path) -> None:
    r = run("roi", "abtest", "--results", "results.csv", "--variant", "arm", "--metric", "bought", "--control", "ctrl",
            "--table", "variants", "--format", "csv", "-q")
    assert r.exit_code == 0
    # ctrl 1/3, new 2/3 (rates to 6 decimals).
    rows = list(pl.read_csv(r.stdout.encode()).select("variant", "recipients", "bought_rate").iter_rows())  # type: ignore[attr-defined]
    assert rows == [("ctrl", 3, 0.333333), ("new", 3, 0.666667)]


def test_output_json_file_holds_the_whole_result(here: Path) -> None:
    r = run("roi", "abtest", "--results", "results.csv", "--variant", "arm", "--metric", "bought", "--control", "ctrl", "-o", "ab.json", "-q")
    assert r.exit_code == 0
    doc = json.loads((here / "ab.json").read_text())
    assert sorted(doc) == ["headline", "tables", "warnings"] and sorted(doc["tables"]) == ["lifts", "variants"]


@pytest.mark.parametrize(("args", "error", "hint"), [
    (["--control", "nope"], "error: control variant 'nope' is not among the variants", "hint: use --control with one of: ctrl, new"),
    (["--control", "ctrl", "--metric", "age"], 'error: results.csv, column "age", row 1: the value is not a yes/no outcome (true/false, 1/0)',
     "hint: fix the value, or name another column"),
    (["--control", "ctrl", "--variant", "group"], "error: results.csv: --variant group: no such column",
     "hint: use one of: user, arm, bought, spend, age"),
])
def test_errors_are_one_line_and_exit_2(here: Path, args: list[str], error: str, hint: str) -> None:
    base = ["roi", "abtest", "--results", "results.csv", "--variant", "arm", "--metric", "bought"]
    # A later --variant / --metric replaces / adds to the earlier one.
    r = run(*base, *args)
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-2:] == [error, hint]  # type: ignore[attr-defined]


def test_per_user_table_without_metric_is_refused(here: Path) -> None:
    r = run("roi", "abtest", "--results", "results.csv", "--variant", "arm")
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-2:] == ["error: a per-user results table needs at least one --metric",  # type: ignore[attr-defined]
                                          "hint: e.g. --metric conversion"]


def test_campaigns_table_with_by_column_of_customers(here: Path) -> None:
    (here / "campaigns.csv").write_text(
        "campaign_id,customer_id,variant,converted,revenue,cost\n"
        + "".join(f"C1,K{i},{'control' if i % 2 else 'B'},{'1' if i % 3 == 0 else '0'},{10 if i % 3 == 0 else 0},{0 if i % 2 else 0.1}\n"
                  for i in range(40)))
    (here / "customers.csv").write_text("customer_id,country\n" + "".join(f"K{i},{'FR' if i < 20 else 'BE'}\n" for i in range(40)))
    r = run("roi", "abtest", "--campaigns", "campaigns.csv", "-c", "customers.csv", "--by", "country", "--table", "segments",
            "--format", "csv", "-q")
    assert r.exit_code == 0, r.stderr  # type: ignore[attr-defined]
    seg = pl.read_csv(r.stdout.encode())  # type: ignore[attr-defined]
    assert seg["segment"].to_list() == ["BE", "FR"]
    # FR: i < 20; B = even i (10), converted when i % 3 == 0: 0, 6, 12, 18 -> 4/10; control odd i: 3, 9, 15 -> 3/10.
    fr = seg.filter(pl.col("segment") == "FR").row(0, named=True)
    assert (fr["control_rate"], fr["variant_rate"]) == (0.3, 0.4)


def test_scenario_csv_and_sentence(here: Path) -> None:
    r = run("roi", "scenario", "--retention", "0.6", "--margin", "40", "--discount-rate", "0.1", "--customers", "10000",
            "--points", "5", "--format", "json")
    assert r.exit_code == 0
    lib = retention_scenario(ScenarioInputs(retention=0.6, margin=40, discount_rate=0.1, customers=10000), points=5)
    assert json.loads(r.stdout) == json.loads(lib.to_json())  # type: ignore[attr-defined]
    assert r.stderr.splitlines()[-1] == lib.sentence  # type: ignore[attr-defined]


def test_scenario_needs_retention_and_margin_or_a_model(here: Path) -> None:
    r = run("roi", "scenario", "--retention", "0.6")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == ["error: roi scenario needs --model, or --retention and --margin",  # type: ignore[attr-defined]
                                     "hint: e.g. --retention 0.6 --margin 40"]


@pytest.mark.slow
def test_sample_campaign_with_segments_and_uplift_is_deterministic_and_covers_the_truth(here: Path) -> None:
    from fidelcli.sample import generate

    generate(here / "s", customers=1500, seed=3, formats=("parquet",))
    truth = json.loads((here / "s" / "truth.json").read_text())["campaign"]
    args = ["roi", "abtest", "--campaigns", "s/campaigns.parquet", "-t", "s/transactions.parquet", "--by", "segment", "--uplift",
            "--folds", "2", "--bootstrap", "200", "--split", "A=0.4", "--split", "B=0.4", "--split", "control=0.2", "--format", "json"]
    first, second = run(*args), run(*args)
    assert first.exit_code == 0, first.stderr  # type: ignore[attr-defined]
    assert first.stdout == second.stdout  # type: ignore[attr-defined]
    # The RFM segment is computed from the purchases before the campaign's send date.
    assert f"recipient history: purchases before the campaign's send date {truth['sent_at']}" in first.stderr  # type: ignore[attr-defined]
    doc = json.loads(first.stdout)  # type: ignore[attr-defined]
    assert sorted(doc["tables"]) == ["deciles", "lifts", "qini", "segments", "variants"]
    b = next(r for r in doc["tables"]["lifts"] if r["variant"] == "B" and r["metric"] == "converted")
    true = truth["conversion_rate"]["B"] - truth["conversion_rate"]["control"]
    assert b["lift_lower"] <= true <= b["lift_upper"]
    assert {r["variant"] for r in doc["tables"]["segments"]} == {"A", "B"}
