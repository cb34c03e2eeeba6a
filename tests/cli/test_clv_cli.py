"""`fidelcli clv` end to end: per-customer output, model files, summary tables, plots, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from refdata import reference, reference_path  # tests/ is on pytest's `pythonpath`
from typer.testing import CliRunner

from fidelcli.cli.app import app

CDNOW = reference_path("clvtools_cdnow.csv")  # copied in tests/reference/ (see its README)


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args))


def problems(stderr: str) -> list[str]:
    """The error and hint lines (progress log lines aside)."""
    return [line for line in stderr.splitlines() if line.startswith(("error:", "hint:"))]


def test_cdnow_per_customer_csv_and_model_file(tmp_path: Path) -> None:
    out, model = tmp_path / "clv.csv", tmp_path / "model.json"
    r = invoke("clv", "-t", str(CDNOW), "--calibration-end", "1997-09-30", "--model", "bgnbd", "--horizon", "39w",
               "--lifetime", "2", "--format", "csv", "-o", str(out), "--save-model", str(model))
    assert r.exit_code == 0, r.stderr
    df = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert df.columns == ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases",
                          "expected_value", "clv", "value_tier", "historical_clv", "high_potential"]
    assert df.height == 2357
    one = df.filter(pl.col("customer_id") == "1").row(0, named=True)
    # Hardie's BG/NBD note: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in the next 39 weeks.
    assert one["expected_purchases"] == pytest.approx(1.226, abs=5e-4)
    assert one["monetary_value"] == 22.35  # (29.73 + 14.96) / 2 = 22.345, first purchase excluded; money to the cent
    # stdout (piped / --format csv) is the same per-customer table
    assert_frame_equal(pl.read_csv(r.stdout.encode(), schema_overrides={"customer_id": pl.String}), df)
    doc = json.loads(model.read_text())
    assert list(doc) == ["fidelcli_version", "time_unit", "calibration_end", "purchase_model", "spend_model"]
    assert doc["time_unit"] == "week" and doc["calibration_end"] == "1997-09-30"
    assert doc["purchase_model"]["name"] == "bgnbd"
    assert doc["purchase_model"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)  # FHL 2005, Table 1
    assert doc["spend_model"]["params"] == pytest.approx({"p": 6.25, "q": 3.74, "v": 15.44}, abs=5e-3)

    # The loaded model predicts the same values without refitting.
    out2 = tmp_path / "clv2.csv"
    r2 = invoke("clv", "-t", str(CDNOW), "--calibration-end", "1997-09-30", "--load-model", str(model), "--horizon", "39w",
                "--lifetime", "2", "--format", "csv", "-o", str(out2))
    assert r2.exit_code == 0, r2.stderr
    assert_frame_equal(pl.read_csv(out2, schema_overrides={"customer_id": pl.String}), df)


def test_terminal_view_shows_fit_holdout_and_pseudonymised_top(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIDELCLI_PSEUDONYM_KEY", raising=False)
    src = tmp_path / "tx.csv"
    pl.read_csv(CDNOW).with_columns(Id=pl.format("cust-{}-x", pl.col("Id"))).write_csv(src)
    r = invoke("clv", "-t", str(src), "--calibration-end", "1997-09-30", "--model", "bgnbd", "--format", "markdown",
               "--plots", str(tmp_path / "plots"))
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert re.search(r"\| bgnbd \| r \| 0\.24\d* \|", out)  # r = 0.2426 (FHL 2005), however many digits are shown
    assert "| customers | 2,357 |" in out and "| actual_total | 1,882 |" in out
    assert "| mae |" in out and "| rmse |" in out and "| correlation |" in out
    assert "| 7+ | 64 |" in out  # 64 customers with 7 or more repeat purchases in calibration
    assert "cust-" not in out  # never raw ids on the terminal
    # FIDELCLI_PSEUDONYM_KEY is not set here: the caption says the pseudonyms change at every run.
    assert "ids: hashes with a key drawn for this run (FIDELCLI_PSEUDONYM_KEY is not set)" in out
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "expected_purchases_matrix.png", "holdout_by_frequency.png", "holdout_tracking.png", "p_alive_matrix.png"]
    assert r.stderr.splitlines()[-1] == f"wrote 4 charts to {tmp_path / 'plots'}"


def test_summary_table_in_weeks(tmp_path: Path) -> None:
    # BTYD's cbs table (cust, x, t.x, T.cal, m.x) given directly: same BG/NBD fit as from transactions.
    r = invoke("clv", "--summary", str(reference("btyd_cdnow_cbs_holdout.csv")), "--model", "bgnbd", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 2357 and rows[0]["customer_id"] == "1"
    assert rows[0]["frequency"] == 2.0


def test_bgbb_on_the_donations_summary(tmp_path: Path) -> None:
    # Fader, Hardie & Shang (2010), the 1995 donor cohort, 6 calibration opportunities:
    # alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6.
    model = tmp_path / "m.json"
    r = invoke("clv", "--summary", str(reference("btyd_donations_rf_calibration.csv")), "--model", "bgbb", "--time-unit", "year",
               "--horizon", "5y", "--save-model", str(model), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(model.read_text())
    assert doc["purchase_model"]["params"] == pytest.approx({"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}, abs=2e-3)
    assert doc["purchase_model"]["log_likelihood"] == pytest.approx(-33225.6, abs=0.1)
    assert doc["purchase_model"]["n_customers"] == 11104 and doc["spend_model"] is None
    df = pl.read_csv(r.stdout.encode())
    assert "periods" in df.columns and df.height == 22
    # Holdout 2002-2006 (5 yearly opportunities): the model's expected donations of the 11,104 donors
    # against the 13,260 actually made (Fader, Hardie & Shang 2010 report a close aggregate fit).
    weights = pl.read_csv(reference("btyd_donations_rf_calibration.csv"))["custs"]
    total = (df["expected_purchases"] * weights).sum()
    assert abs(total - 13260) / 13260 < 0.05


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["--horizon", "12"], "error: horizon '12' is not a whole number of days, weeks, months or years"),
        (["--margin", "abc"], "error: --margin 'abc' is neither a rate nor 'column'"),
        (["--calibration-end", "1990-01-01"],
         f"error: {CDNOW.name}: calibration end 1990-01-01 is before the first purchase (1997-01-01): no customer to model"),
        (["--calibration-end", "1999-01-01"], "error: calibration end 1999-01-01 is not before the analysis date 1998-07-01"),
        (["--model", "bgbb", "--time-unit", "year"], f"error: {CDNOW.name}: bgbb: no transaction opportunity in the data (n = 0 for all)"),
        (["--ci", "1.5"], "error: --ci must be a level between 0 and 1, found 1.5"),
    ],
)
def test_usage_errors(args: list[str], stderr: str) -> None:
    r = invoke("clv", "-t", str(CDNOW), *args)
    assert r.exit_code == 2
    assert problems(r.stderr)[0] == stderr


def test_everyone_bought_once_exits_2_with_a_hint(tmp_path: Path) -> None:
    src = tmp_path / "once.csv"
    src.write_text("customer_id,date,amount\na,2024-01-01,10\nb,2024-01-05,20\nc,2024-02-01,5\n")
    r = invoke("clv", "-t", str(src))
    assert r.exit_code == 2
    lines = problems(r.stderr)
    assert lines[0].startswith("error: once.csv: no purchase model could be fitted (bgnbd, pnbd, mbgnbd); bgnbd: no customer made a repeat purchase")
    assert lines[1] == "hint: use a longer calibration period, or a historical CLV"


def test_transactions_and_summary_together_is_an_error() -> None:
    r = invoke("clv", "-t", str(CDNOW), "--summary", str(reference("btyd_cdnow_cbs_holdout.csv")))
    assert r.exit_code == 2
    assert problems(r.stderr)[0] == "error: give either -t/--transactions or --summary, not both"


def test_margin_column_equals_the_same_rate_given_as_a_number(tmp_path: Path) -> None:
    # Every line has a margin of 25 % of its amount: --margin column must give --margin 0.25's CLV.
    src = tmp_path / "tx.csv"
    pl.read_csv(CDNOW).with_columns(Margin=(pl.col("Price") * 0.25).round(6)).write_csv(src)
    base = ["clv", "-t", str(src), "--map", "amount=Price", "--map", "margin=Margin", "--model", "bgnbd", "--lifetime", "2", "--format", "csv"]
    by_column = invoke(*base, "--margin", "column")
    by_rate = invoke(*base, "--margin", "25%")
    assert by_column.exit_code == 0 and by_rate.exit_code == 0, by_column.stderr + by_rate.stderr
    a = pl.read_csv(by_column.stdout.encode())
    b = pl.read_csv(by_rate.stdout.encode())
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-6)
    assert a["clv"].sum() > 0


def test_event_log_without_amounts_ranks_by_expected_purchases() -> None:
    # BTYDplus grocery event log (cust, date; no amounts): no spend model, so no CLV, tiers by purchases.
    r = invoke("clv", "-t", str(reference("btydplus_groceryElog.csv")), "--model", "bgnbd", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert "warning: no amount column (nor quantity and unit price): monetary figures are unavailable" in r.stderr
    df = pl.read_csv(r.stdout.encode())
    assert df.height == 1525
    assert df["clv"].null_count() == df.height and df["expected_value"].null_count() == df.height
    top = df.filter(pl.col("value_tier") == "top 1%")
    assert top.height == 15 and top["expected_purchases"].min() >= df["expected_purchases"].quantile(0.99, "lower")  # 1 % of 1,525


def test_output_does_not_depend_on_row_order(tmp_path: Path) -> None:
    shuffled = tmp_path / "shuffled.csv"
    pl.read_csv(CDNOW).sample(fraction=1.0, shuffle=True, seed=5).write_csv(shuffled)
    args = ["clv", "--model", "bgnbd", "--calibration-end", "1997-09-30", "--lifetime", "3", "--format", "csv"]
    a = invoke(*args, "-t", str(CDNOW))
    b = invoke(*args, "-t", str(shuffled))
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout  # byte-identical table


# ---------------------------------------------------------------- regressions (review of issue #5)
def test_margin_column_does_not_leak_the_holdout(tmp_path: Path) -> None:
    # Margin 25 % of the amount up to the calibration end, 90 % after it: with --calibration-end the
    # per-customer rates come from the calibration only, so --margin column equals --margin 25%.
    src = tmp_path / "tx.csv"
    df = pl.read_csv(CDNOW)
    after = pl.col("Date").cast(pl.String).str.to_date() > pl.date(1997, 9, 30)
    df.with_columns(Margin=pl.when(after).then(pl.col("Price") * 0.9).otherwise(pl.col("Price") * 0.25).round(6)).write_csv(src)
    base = ["clv", "-t", str(src), "--map", "amount=Price", "--map", "margin=Margin", "--model", "bgnbd", "--lifetime", "2",
            "--calibration-end", "1997-09-30", "--format", "csv"]
    by_column = invoke(*base, "--margin", "column")
    by_rate = invoke(*base, "--margin", "25%")
    assert by_column.exit_code == 0 and by_rate.exit_code == 0, by_column.stderr + by_rate.stderr
    assert_frame_equal(pl.read_csv(by_column.stdout.encode()), pl.read_csv(by_rate.stdout.encode()), check_exact=False, abs_tol=0.01)


def test_weighted_summary_keeps_weight_and_counts_customers() -> None:
    src = reference("btyd_donations_rf_calibration.csv")
    args = ["clv", "--summary", str(src), "--model", "bgbb", "--time-unit", "year", "--horizon", "5y"]
    csv = invoke(*args, "--format", "csv")
    assert csv.exit_code == 0, csv.stderr
    df = pl.read_csv(csv.stdout.encode())
    weights = pl.read_csv(src)["custs"]
    assert df["weight"].to_list() == weights.cast(pl.Float64).to_list()  # the input's custs, one per row
    md = invoke(*args, "--format", "markdown")
    assert md.exit_code == 0, md.stderr
    # 22 rows standing for 11,104 donors (FHS 2010); totals weight each row by its donors.
    assert "| customers | 11,104 |" in md.stdout
    total = float((df["expected_purchases"] * df["weight"]).sum())
    assert f"| total_expected_purchases | {total:,.2f} |" in md.stdout


def test_bgbb_horizon_below_one_period_is_an_error() -> None:
    r = invoke("clv", "--summary", str(reference("btyd_donations_rf_calibration.csv")), "--model", "bgbb", "--time-unit", "year",
               "--horizon", "6m", "--format", "csv")
    assert r.exit_code == 2
    assert problems(r.stderr) == ["error: horizon 6m is shorter than one year, the period of the BG/BB model",
                                  "hint: give a horizon of at least one year, e.g. --horizon 1y"]


@pytest.mark.parametrize(("args", "stderr"), [
    (["--lifetime", "0"], "error: --lifetime must be a number of years > 0, found 0.0"),
    (["--lifetime", "-3"], "error: --lifetime must be a number of years > 0, found -3.0"),
    (["--discount-rate", "-1.5"], "error: discount rate must be an annual rate >= 0 and < 1, found -1.5"),
    (["--discount-rate", "-0.05"], "error: discount rate must be an annual rate >= 0 and < 1, found -0.05"),
    (["--discount-rate", "10"], "error: discount rate must be an annual rate >= 0 and < 1, found 10.0"),
])
def test_lifetime_and_discount_rate_are_range_checked_up_front(args: list[str], stderr: str) -> None:
    r = invoke("clv", "--summary", str(reference("btyd_cdnow_cbs_holdout.csv")), *args)
    assert r.exit_code == 2
    assert problems(r.stderr)[0] == stderr
    assert "fitting" not in r.stderr  # refused before any work


def test_spend_model_failure_still_reports_purchases(tmp_path: Path) -> None:
    # Repeat buyers a, b, c, d ... but only a and b spend on their repeat purchases: no Gamma-Gamma.
    src = tmp_path / "cbs.csv"
    pl.read_csv(reference("btyd_cdnow_cbs_holdout.csv")).with_columns(
        **{"m.x": pl.when(pl.col("cust").is_in([1, 2])).then(pl.col("m.x")).otherwise(0.0)}).write_csv(src)
    r = invoke("clv", "--summary", str(src), "--model", "bgnbd", "--lifetime", "2", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert ("warning: gamma_gamma: only 2 customer(s) with repeat purchases and a positive spend: expected_value and clv "
            "are left empty (expected purchases and P(alive) are reported)") in r.stderr
    df = pl.read_csv(r.stdout.encode())
    assert df.height == 2357 and df["clv"].null_count() == 2357 and df["expected_purchases"].null_count() == 0


def test_pseudonym_key_is_random_per_run_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from fidelcli.cli.clv import pseudonym_key

    monkeypatch.delenv("FIDELCLI_PSEUDONYM_KEY", raising=False)
    a, b = pseudonym_key(), pseudonym_key()
    assert a != b and len(a) == 32 and a != "fidelcli"  # 16 random bytes in hex, never a public default
    monkeypatch.setenv("FIDELCLI_PSEUDONYM_KEY", "s3cret")
    assert pseudonym_key() == "s3cret"
    # the terminal's top customers: stable across runs only with the variable set
    args = ["clv", "--summary", str(reference("btyd_cdnow_cbs_holdout.csv")), "--model", "bgnbd", "--lifetime", "2", "--top", "3",
            "--format", "markdown"]
    def top(out: str) -> list[str]:
        return [line for line in out.split("| customer | frequency |")[1].splitlines()[2:] if line.startswith("|")]

    with_key = [top(invoke(*args).stdout) for _ in range(2)]
    assert len(with_key[0]) == 3 and with_key[0] == with_key[1]
    monkeypatch.delenv("FIDELCLI_PSEUDONYM_KEY")
    assert top(invoke(*args).stdout) != with_key[0]


def test_clv_cli_equals_the_library_call() -> None:
    from fidelcli.analyses.clv import ClvOptions, customer_lifetime_value
    from fidelcli.analyses.timeunits import parse_horizon
    from fidelcli.clean import clean_transactions
    from fidelcli.engine import get_engine
    from fidelcli.io.read import scan_table

    r = invoke("clv", "-t", str(CDNOW), "--model", "bgnbd", "--lifetime", "2", "--format", "json")
    assert r.exit_code == 0, r.stderr
    tx = clean_transactions(scan_table(str(CDNOW), "transactions"), occasion="day")
    lib = customer_lifetime_value(tx, engine=get_engine("polars"), model="bgnbd",
                                  options=ClvOptions(horizon=parse_horizon("12m"), lifetime_years=2.0))
    assert json.loads(r.stdout) == json.loads(lib.to_json())["tables"]["customers"]
    assert lib.headline()["customers"] == 2357  # the CDNOW cohort (Fader, Hardie & Lee 2005)


def test_analysis_margin_of_the_config_is_the_clv_margin(tmp_path: Path) -> None:
    # [analysis] margin = 0.25 gives --margin 0.25's CLV; [clv] margin wins over it.
    base = ["-t", str(CDNOW), "--model", "bgnbd", "--lifetime", "2", "--format", "csv"]
    (tmp_path / "a.toml").write_text("[analysis]\nmargin = 0.25\n")
    (tmp_path / "b.toml").write_text("[analysis]\nmargin = 0.25\n[clv]\nmargin = '50%'\n")
    by_config = invoke("--config", str(tmp_path / "a.toml"), "clv", *base)
    by_flag = invoke("clv", *base, "--margin", "0.25")
    clv_section = invoke("--config", str(tmp_path / "b.toml"), "clv", *base)
    by_half = invoke("clv", *base, "--margin", "0.5")
    assert {by_config.exit_code, by_flag.exit_code, clv_section.exit_code, by_half.exit_code} == {0}
    assert by_config.stdout == by_flag.stdout and clv_section.stdout == by_half.stdout
    assert by_config.stdout != by_half.stdout
