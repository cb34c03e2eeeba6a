"""The Spark engine equals the Polars engine on real and sample data, and its settings and failures.

Every reduction of the engine interface is run by both engines on the same source and compared:
exact for counts, dates, ids and cents and for the churn features (derived from integer sums),
1e-9 relative for the other floats (sums of floats in another order). Sources: the sample (`sample_data/`, order ids, returns, margins), the CDNOW 1/10
cohort (CLVTools), the first 15,000 lines of UCI Online Retail (cancellations `C...`, lines without
a customer, quantity x unit price, times), the French back-office export in UTF-8 (`;`, decimal
commas, `€`, dd/mm/yyyy) and in cp1252 (handed over by Polars), and the sample as a partitioned
Parquet dataset. The CLI: `rfm` byte for byte, the other commands that reduce transactions equal
as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from refdata import reference
from typer.testing import CliRunner

from fidelcli.clean import CleanOptions, Transactions
from fidelcli.cli.app import app
from fidelcli.engine import Engine, PolarsEngine
from fidelcli.engine.spark_read import strptime_to_spark
from fidelcli.engine.spark_session import local_cores, local_settings
from fidelcli.io.read import scan_table

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
spark = pytest.mark.xdist_group("spark")

Reduction = Callable[[Engine, Transactions], pl.DataFrame | None]


def _reductions(cal: dt.date, horizon: dt.date) -> dict[str, Reduction]:
    """Every reduction of the interface, at a calibration day `cal` and a churn horizon end."""
    anchors = None

    def anchored(e: Engine, t: Transactions) -> pl.DataFrame:
        nonlocal anchors
        if anchors is None:  # a few customers' first purchase days, and one unknown customer
            first = e.customer_summary(t)
            anchors = pl.concat([first.head(50).select("customer_id", anchor=pl.col("first_purchase")),
                                 pl.DataFrame({"customer_id": ["no such customer"], "anchor": [cal]})], how="vertical_relaxed")
        return e.anchored_purchases(t, anchors, window_days=30)

    return {
        "customer_summary": lambda e, t: e.customer_summary(t),
        "activity": lambda e, t: e.activity(t, period="month", anonymous=True),
        "activity_week": lambda e, t: e.activity(t, period="week"),
        "occasions": lambda e, t: e.occasions(t),
        "rf_summary": lambda e, t: e.rf_summary(t, calibration_end=cal, occasion="day").customers,
        "rf_by_day": lambda e, t: e.rf_summary(t, calibration_end=cal, occasion="day").occasions_by_day,
        "rf_orders": lambda e, t: e.rf_summary(t, occasion=None).customers,
        "rf_discrete": lambda e, t: e.rf_summary(t, time_unit="month", discrete=True).customers,
        "purchase_features": lambda e, t: e.purchase_features(t, cutoff=cal).sort("customer_id"),
        "line_features": lambda e, t: _sorted(e.line_features(t, cutoff=cal)),
        "purchase_labels": lambda e, t: e.purchase_labels(t, cutoff=cal, end=horizon),
        "baskets": lambda e, t: e.baskets(t, dates=True) if "product_id" in t.fields else None,
        "item_counts": lambda e, t: e.item_counts(t, category=True) if "product_id" in t.fields else None,
        "category_activity": lambda e, t: e.category_activity(t, period="quarter"),
        "anchored_purchases": anchored,
    }


def _sorted(frame: pl.DataFrame | None) -> pl.DataFrame | None:
    return None if frame is None else frame.sort("customer_id")


def _same(spark_engine: Engine, source: Path, cal: dt.date, horizon: dt.date, **scan: Any) -> None:
    """Every reduction of both engines on `source`: equal columns, dtypes, rows and order."""
    table = scan_table(source, "transactions", **scan)
    polars_tx, spark_tx = PolarsEngine().load(table, CleanOptions()), spark_engine.load(table, CleanOptions())
    assert spark_tx.as_of == polars_tx.as_of and spark_tx.warnings == polars_tx.warnings
    assert spark_engine.has_amounts(spark_tx) == PolarsEngine().has_amounts(polars_tx)
    if "margin" in table.mapping:
        assert_frame_equal(spark_engine.margin_rates(spark_tx, calibration_end=cal).sort("customer_id"),
                           PolarsEngine().margin_rates(polars_tx, calibration_end=cal).sort("customer_id"), check_exact=False, rel_tol=1e-9)
    for name, reduce in _reductions(cal, horizon).items():
        expected, got = reduce(PolarsEngine(), polars_tx), reduce(spark_engine, spark_tx)
        if expected is None:
            assert got is None, name
            continue
        assert got is not None, name
        assert got.schema == expected.schema, name
        if name in BITWISE:
            assert_frame_equal(got, expected, check_exact=True), name
        else:
            assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-9, abs_tol=0.0), name


# The churn features: every float is derived in Polars from integer counts and sums (cents, days),
# so they are equal bit for bit, and so are the churn models trained on them.
BITWISE = {"purchase_features", "line_features", "purchase_labels"}


def test_local_settings_and_cores() -> None:
    assert local_cores("local[2]") == 2 and local_cores("local") == 1 and local_cores("yarn") is None
    assert local_cores("spark://host:7077") is None and (local_cores("local[*]") or 0) >= 1
    # 2 cores: 4 shuffle partitions (2 x cores, at least 4), no UI, no progress bar on the terminal
    settings = local_settings("local[2]")
    assert settings["spark.sql.shuffle.partitions"] == "4" and settings["spark.ui.enabled"] == "false"
    assert settings["spark.ui.showConsoleProgress"] == "false"
    assert local_settings("local[64]")["spark.sql.shuffle.partitions"] == "16"


def test_strptime_formats_become_spark_patterns() -> None:
    assert strptime_to_spark("%Y-%m-%d") == "yyyy-M-d"
    assert strptime_to_spark("%d/%m/%Y") == "d/M/yyyy"
    assert strptime_to_spark("%m/%d/%Y %H:%M") == "M/d/yyyy H:m"
    assert strptime_to_spark("%Y%m%d") == "yyyyMd"
    assert strptime_to_spark("%d %b %Y") == "d MMM yyyy"
    assert strptime_to_spark("%Y-%m-%dT%H:%M:%S") == "yyyy-M-d'T'H:m:s"
    assert strptime_to_spark("%G-W%V") is None  # no equivalent: Polars hands the source over


@pytest.mark.slow
@spark
def test_sample_equals_polars(spark_engine: Engine) -> None:
    _same(spark_engine, SAMPLE / "transactions.csv", dt.date(2025, 6, 30), dt.date(2025, 9, 30))


@pytest.mark.slow
@spark
def test_cdnow_equals_polars(spark_engine: Engine) -> None:
    # Id, Date, CDs, Price: no order id (occasions are customer-days), 1997-01-01 .. 1998-06-30.
    _same(spark_engine, reference("clvtools_cdnow.csv"), dt.date(1997, 9, 30), dt.date(1997, 12, 31))


@pytest.mark.slow
@spark
def test_online_retail_equals_polars(spark_engine: Engine) -> None:
    # Cancellations (C invoices), lines without CustomerID, amount = Quantity x UnitPrice, times.
    source = reference("uci_online_retail_2010-12_head15000.csv")
    _same(spark_engine, source, dt.date(2010, 12, 5), dt.date(2010, 12, 9))


@pytest.mark.slow
@spark
def test_french_export_equals_polars_in_utf8_and_in_cp1252(spark_engine: Engine, tmp_path: Path) -> None:
    # `;`, decimal commas, "20,86 €", dd/mm/yyyy, statuses "Annulée"/"Retournée": read by Spark
    # in UTF-8; the cp1252 original is handed over by Polars (Spark reads UTF-8 only).
    original = SAMPLE / "export_backoffice_fr.csv"
    utf8 = tmp_path / "export_utf8.csv"
    utf8.write_text(original.read_bytes().decode("cp1252"), encoding="utf-8")
    _same(spark_engine, utf8, dt.date(2025, 6, 30), dt.date(2025, 9, 30))
    table = scan_table(original, "transactions")
    got = spark_engine.customer_summary(spark_engine.load(table, CleanOptions()))
    assert_frame_equal(got, PolarsEngine().customer_summary(PolarsEngine().load(table, CleanOptions())))


@pytest.mark.slow
@spark
def test_partitioned_parquet_equals_polars(spark_engine: Engine, tmp_path: Path) -> None:
    # The sample as a Parquet dataset partitioned by channel (hive directories channel=web/...).
    data = pl.read_csv(SAMPLE / "transactions.csv", infer_schema=False).with_columns(pl.col("amount", "margin").cast(pl.Float64),
                                                                                      pl.col("date").str.to_date())
    folder = tmp_path / "dataset"
    data.write_parquet(folder, partition_by="channel")
    table = scan_table(folder, "transactions")
    options = CleanOptions(as_of=dt.date(2025, 7, 1))
    p, s = PolarsEngine().load(table, options), spark_engine.load(table, options)
    assert_frame_equal(spark_engine.customer_summary(s), PolarsEngine().customer_summary(p))
    assert_frame_equal(spark_engine.activity(s, period="month"), PolarsEngine().activity(p, period="month"))


@spark
def test_a_value_that_does_not_parse_is_named_with_its_row(spark_engine: Engine, tmp_path: Path) -> None:
    from fidelcli.errors import InputError

    path = tmp_path / "bad.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-02,10\nB,2024-01-03,abc\n")
    tx = spark_engine.load(scan_table(path, "transactions"), CleanOptions())
    with pytest.raises(InputError) as polars_error:
        PolarsEngine().customer_summary(PolarsEngine().load(scan_table(path, "transactions"), CleanOptions()))
    with pytest.raises(InputError) as spark_error:
        spark_engine.customer_summary(tx)
    assert str(spark_error.value) == str(polars_error.value) and spark_error.value.row == 2  # the second data row


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
@spark
def test_cli_rfm_is_byte_for_byte_and_the_other_commands_equal_as_json(spark_engine: Engine, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from fidelcli.cli import options

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(options.context, "_config", None)
    tx = str(SAMPLE / "transactions.csv")
    assert _cli("--engine", "spark", "rfm", "-t", tx).stdout == _cli("--engine", "polars", "rfm", "-t", tx).stdout
    commands = [
        ["kpi", "-t", tx, "--period", "month"],
        ["cohort", "-t", tx, "--period", "quarter"],
        ["clv", "-t", tx, "--time-unit", "week", "--horizon", "12m"],
        ["recommend", "rules", "-t", tx, "--min-support", "0.01", "--min-confidence", "0.2"],
    ]
    for command in commands:
        out = {}
        for engine in ("polars", "spark"):
            out[engine] = json.loads(_cli("--engine", engine, *command, "--format", "json").stdout)
        _close(out["spark"], out["polars"], " ".join(command[:2]))
    # The churn features are equal bit for bit (BITWISE): the model trained on either engine's
    # features is the same model, and its scores are the same, to the last digit.
    train = {}
    for engine in ("polars", "spark"):
        args = ["churn", "train", "-t", tx, "--cutoff", "2025-06-30", "--horizon", "90d", "--model-out", f"{engine}.json"]
        train[engine] = json.loads(_cli("--engine", engine, *args, "--format", "json").stdout)
    assert train["spark"] == train["polars"]
    assert (tmp_path / "spark.json").read_bytes() == (tmp_path / "polars.json").read_bytes()
    scores = [_cli("--engine", engine, "churn", "score", "-t", tx, "--model", "polars.json", "--format", "json").stdout
              for engine in ("polars", "spark")]
    assert scores[1] == scores[0]


def _close(got: Any, expected: Any, where: str, rel: float = 1e-9) -> None:
    """Equal JSON values: exact but for floats (`rel` relative)."""
    if isinstance(expected, float) and isinstance(got, (int, float)):
        assert got == pytest.approx(expected, rel=rel, abs=rel * 1e-3), where
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), where
        for k in expected:
            _close(got[k], expected[k], f"{where}.{k}", rel)
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _close(g, e, f"{where}[{i}]", rel)
    else:
        assert got == expected, where


def test_without_pyspark_the_spark_engine_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from fidelcli.cli import options

    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` raises ImportError
    monkeypatch.setattr(options.context, "_config", None)
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-02,10\n")
    result = CliRunner().invoke(app, ["--engine", "spark", "rfm", "-t", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert "error: --engine spark needs the pyspark package" in lines
    assert "hint: pip install 'fidelcli[spark]'" in lines
