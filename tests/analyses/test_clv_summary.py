"""Recency/frequency summaries (Fader, Hardie & Lee 2005) from transactions and from summary tables."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from refdata import reference

from fidelcli.analyses.clv import discrete_summary_from_occasions, read_summary, summary_from_occasions, summary_from_transactions
from fidelcli.clean import clean_transactions
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import InputError
from fidelcli.io.read import scan_table

D = dt.date


def occasions(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "occasion": [r[1] for r in rows],
            "date": [D.fromisoformat(r[1]) for r in rows],
            "value": [r[2] for r in rows],
        }
    )


def test_cdnow_summary_equals_btyd_cbs_and_holdout() -> None:
    # BTYD's cdnowSummary ($cbs + $m.x): calibration 1997-01-01..1997-09-30 in weeks, holdout to
    # 1998-06-30; a customer first seen 1997-01-01 has T = 272 / 7 = 38.857 weeks.
    tx = clean_transactions(scan_table(reference("clvtools_cdnow.csv"), "transactions"))
    assert tx.as_of == D(1998, 7, 1)
    s = summary_from_transactions(tx, calibration_end=D(1997, 9, 30), time_unit="week", engine=DEFAULT_ENGINE)
    assert s.holdout_length == 39.0  # 273 days, 1997-10-01..1998-06-30
    ref = pl.read_csv(reference("btyd_cdnow_cbs_holdout.csv")).select(
        customer_id=pl.col("cust").cast(pl.String),
        frequency="x", recency="t.x", T="T.cal", monetary_value="m.x", holdout_frequency="x.star",
    ).sort("customer_id")
    mine = s.frame.select(ref.columns)
    assert_frame_equal(mine, ref, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
    assert s.frame.filter(pl.col("customer_id") == "1")["T"].item() == pytest.approx(272 / 7, abs=1e-12)


def test_summary_by_hand_in_days_weeks_months() -> None:
    occ = occasions([
        ("a", "2024-01-01", 10.0), ("a", "2024-01-15", 20.0), ("a", "2024-03-01", 40.0), ("a", "2024-04-02", 99.0),
        ("b", "2024-02-01", 5.0),
        ("c", "2024-04-10", 7.0),  # first seen after the calibration end: not in the cohort
    ])
    s = summary_from_occasions(occ, as_of=D(2024, 5, 1), calibration_end=D(2024, 3, 31), time_unit="day", engine=DEFAULT_ENGINE)
    expected = pl.DataFrame({
        "customer_id": ["a", "b"],
        "frequency": [2.0, 0.0],               # a: 3 occasions in calibration -> 2 repeats
        "recency": [60.0, 0.0],                # 2024-01-01 -> 2024-03-01 = 31 + 29 days
        "T": [90.0, 59.0],                     # to 2024-03-31: 31+29+30; b: 29 + 30
        "monetary_value": [30.0, 0.0],         # (20 + 40) / 2, first purchase excluded
        "weight": [1.0, 1.0],
        "first_purchase": [D(2024, 1, 1), D(2024, 2, 1)],
        "last_purchase": [D(2024, 3, 1), D(2024, 2, 1)],  # the last of the calibration
        "revenue": [70.0, 5.0],
        "holdout_frequency": [1.0, 0.0],       # a bought on 2024-04-02
        "holdout_value": [99.0, 0.0],
    })
    assert_frame_equal(s.frame, expected)
    assert s.holdout_length == 30.0  # 2024-04-01..2024-04-30
    weeks = summary_from_occasions(occ, as_of=D(2024, 5, 1), calibration_end=D(2024, 3, 31), time_unit="week", engine=DEFAULT_ENGINE)
    assert weeks.frame["T"].to_list() == pytest.approx([90 / 7, 59 / 7], rel=1e-15)
    months = summary_from_occasions(occ, as_of=D(2024, 5, 1), calibration_end=D(2024, 3, 31), time_unit="month", engine=DEFAULT_ENGINE)
    assert months.frame["recency"].to_list() == pytest.approx([60 / (365.25 / 12), 0.0], rel=1e-15)  # never 30-day months


def test_without_calibration_end_T_runs_to_the_day_before_as_of() -> None:
    occ = occasions([("a", "2024-01-01", 10.0), ("a", "2024-01-08", 10.0)])
    s = summary_from_occasions(occ, as_of=D(2024, 1, 15), time_unit="week", engine=DEFAULT_ENGINE)
    assert s.frame.select("frequency", "recency", "T").row(0) == pytest.approx((1.0, 1.0, 13 / 7), rel=1e-15)  # 2024-01-14 is the last day
    assert not s.has_holdout and s.holdout_length is None


def test_calibration_end_before_the_data_is_a_clear_error() -> None:
    occ = occasions([("a", "2024-01-01", 10.0)])
    with pytest.raises(InputError, match=r"calibration end 2023-06-30 is before the first purchase \(2024-01-01\)"):
        summary_from_occasions(occ, as_of=D(2024, 2, 1), calibration_end=D(2023, 6, 30), engine=DEFAULT_ENGINE)


def test_calibration_end_after_the_data_is_a_clear_error() -> None:
    occ = occasions([("a", "2024-01-01", 10.0)])
    with pytest.raises(InputError, match=r"calibration end 2024-02-01 is not before the analysis date 2024-02-01"):
        summary_from_occasions(occ, as_of=D(2024, 2, 1), calibration_end=D(2024, 2, 1), engine=DEFAULT_ENGINE)


def test_read_summary_accepts_literature_names_and_checks_values() -> None:
    raw = pl.DataFrame({"cust": ["1", "2"], "x": ["2", "0"], "t.x": ["30.4", "0"], "T.cal": ["38.9", "38.9"], "m.x": ["22.3", "0"]})
    s = read_summary(raw)
    assert_frame_equal(s.frame, pl.DataFrame({
        "customer_id": ["1", "2"], "frequency": [2.0, 0.0], "recency": [30.4, 0.0], "T": [38.9, 38.9],
        "monetary_value": [22.3, 0.0], "weight": [1.0, 1.0],
    }))
    with pytest.raises(InputError, match=r"misses column\(s\) periods"):
        read_summary(raw, discrete=True)
    bad = raw.with_columns(x=pl.Series(["2", "-1"]))
    with pytest.raises(InputError, match="frequency must be a number >= 0, found '-1'") as err:
        read_summary(bad, file="s.csv")
    assert err.value.row == 2 and err.value.column == "x"


def test_discrete_summary_with_weights() -> None:
    raw = pl.DataFrame({"frequency": [6, 0], "recency": [6, 0], "periods": [6, 6], "weight": [1203, 3464]})
    s = read_summary(raw, discrete=True)
    assert s.age == "periods" and s.frame["weight"].to_list() == [1203.0, 3464.0]
    assert not s.has_monetary


def test_discrete_bgbb_summary_by_hand() -> None:
    # Yearly opportunities after the year of the first purchase, up to the calibration end 2022-12-31.
    occ = occasions([
        ("a", "2019-03-01", 10.0), ("a", "2020-05-01", 20.0), ("a", "2020-06-01", 30.0), ("a", "2022-01-05", 40.0),
        ("a", "2024-02-01", 5.0),   # in 2024, not a complete year before as_of: outside the holdout
        ("b", "2020-12-31", 10.0), ("b", "2023-07-01", 9.0),
        ("c", "2023-02-01", 1.0),   # first seen after calibration: not in the cohort
    ])
    s = discrete_summary_from_occasions(occ, as_of=D(2024, 6, 1), calibration_end=D(2022, 12, 31), time_unit="year", engine=DEFAULT_ENGINE)
    expected = pl.DataFrame({
        "customer_id": ["a", "b"],
        "frequency": [2.0, 0.0],        # a bought in 2020 (twice: one opportunity) and 2022
        "recency": [3.0, 0.0],          # 2022 is a's 3rd opportunity after 2019
        "periods": [3.0, 2.0],          # a: 2020-2022; b: 2021-2022
        "monetary_value": [30.0, 0.0],  # (20 + 30 + 40) / 3 repeat occasions
        "weight": [1.0, 1.0],
        "first_purchase": [D(2019, 3, 1), D(2020, 12, 31)],
        "last_purchase": [D(2022, 1, 5), D(2020, 12, 31)],  # the last of the calibration periods
        "revenue": [100.0, 10.0],
        "holdout_frequency": [0.0, 1.0],  # holdout = 2023, the one complete year before as_of
        "holdout_value": [0.0, 9.0],
    })
    assert_frame_equal(s.frame, expected)
    assert s.discrete and s.age == "periods" and s.holdout_length == 1.0
    # A calibration end in the middle of a year counts only the years that have ended.
    mid = discrete_summary_from_occasions(occ, as_of=D(2024, 6, 1), calibration_end=D(2022, 6, 30), time_unit="year", engine=DEFAULT_ENGINE)
    assert mid.frame["periods"].to_list() == [2.0, 1.0]
