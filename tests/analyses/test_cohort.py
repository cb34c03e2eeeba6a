"""Cohort cells pinned by hand on the monthly KPI log (test_kpi.LOG)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from analyses_data import cleaned, tx_frame
from polars.testing import assert_frame_equal

from fidelcli.analyses.cohort import cohort_matrix, cohorts
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import InputError

D = dt.date.fromisoformat
AS_OF = D("2024-05-01")
# Jan: A 10 + 20, B 40. Feb: nothing. Mar: A 30, B returns 15, C 50 (first). Apr: D 5 + 7 (first), A 8.
LOG = [
    ("A", "2024-01-05", 10.0, False), ("A", "2024-01-20", 20.0, False), ("B", "2024-01-10", 40.0, False),
    ("A", "2024-03-03", 30.0, False), ("B", "2024-03-15", -15.0, True), ("C", "2024-03-20", 50.0, False),
    ("D", "2024-04-02", 5.0, False), ("D", "2024-04-03", 7.0, False), ("A", "2024-04-10", 8.0, False),
]


def _cohorts(period="month", **kw):
    lf = tx_frame(LOG)
    return cohorts(DEFAULT_ENGINE.activity(cleaned(lf), period=period), DEFAULT_ENGINE.customer_summary(cleaned(lf)), period=period, as_of=AS_OF, **kw)


def test_monthly_cohorts_by_hand():
    expected = pl.DataFrame(
        {
            "cohort": [D("2024-01-01")] * 4 + [D("2024-03-01")] * 2 + [D("2024-04-01")],
            "period_index": [0, 1, 2, 3, 0, 1, 0],
            # As of 2024-05-01 April is complete; without `start` the first period counts as complete.
            "partial": [False] * 7,
            "customers": [2, 2, 2, 2, 1, 1, 1],
            # Jan cohort {A, B}: Feb empty; Mar only A buys (B only returns).
            "retained": [2, 0, 1, 1, 1, 0, 1],
            "retention": [1.0, 0.0, 0.5, 0.5, 1.0, 0.0, 1.0],
            # Mar: A 30 - B's return 15 = 15.
            "revenue": [70.0, 0.0, 15.0, 8.0, 50.0, 0.0, 12.0],
            # cumulative / cohort size: 70/2, 70/2, 85/2, 93/2; 50; 50; 12.
            "cumulative_revenue_per_customer": [35.0, 35.0, 42.5, 46.5, 50.0, 50.0, 12.0],
        },
        schema_overrides={"period_index": pl.Int32},
    )
    assert_frame_equal(_cohorts(), expected)


def test_quarterly_cohorts():
    got = _cohorts("quarter")
    # Q1 {A, B, C}: 70 + 15 + 50 = 135 in Q1; Q2 only A (8). Q2 {D}: 12.
    assert got.select("cohort", "period_index", "customers", "retained", "revenue").rows() == [
        (D("2024-01-01"), 0, 3, 3, 135.0), (D("2024-01-01"), 1, 3, 1, 8.0), (D("2024-04-01"), 0, 1, 1, 12.0),
    ]
    assert got.get_column("cumulative_revenue_per_customer").to_list() == [45.0, 143 / 3, 12.0]


def test_signup_cohorts():
    signup = pl.DataFrame(
        {"customer_id": ["A", "B", "E", "C"], "signup_date": [D("2023-12-15"), D("2024-02-10"), D("2024-03-01"), None]}
    )
    got = _cohorts(signup=signup)
    # A (Dec): buys Jan 30, Mar 30, Apr 8. B (Feb): its Jan purchase is before signup; Mar only a return.
    # E (Mar) never buys. C has no signup date and D no row: left out.
    expected = pl.DataFrame(
        {
            "cohort": [D("2023-12-01")] * 5 + [D("2024-02-01")] * 3 + [D("2024-03-01")] * 2,
            "period_index": [0, 1, 2, 3, 4, 0, 1, 2, 0, 1],
            # December 2023 is before the first period with activity (January): not covered.
            "partial": [True] + [False] * 9,
            "customers": [1] * 10,
            "retained": [0, 1, 0, 1, 1, 0, 0, 0, 0, 0],
            "retention": [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "revenue": [0.0, 30.0, 0.0, 30.0, 8.0, 0.0, -15.0, 0.0, 0.0, 0.0],
            "cumulative_revenue_per_customer": [0.0, 30.0, 30.0, 60.0, 68.0, 0.0, -15.0, -15.0, 0.0, 0.0],
        },
        schema_overrides={"period_index": pl.Int32},
    )
    assert_frame_equal(got, expected)


def test_cohorts_by_group_and_matrix():
    by = pl.DataFrame({"customer_id": ["A", "B", "C"], "channel": ["web", "shop", "web"]})
    got = _cohorts(by=by)
    assert got.columns[:3] == ["cohort", "channel", "period_index"]
    jan_web = got.filter(pl.col("cohort") == D("2024-01-01"), pl.col("channel") == "web")
    assert jan_web.get_column("retention").to_list() == [1.0, 0.0, 1.0, 1.0]  # A alone
    apr = got.filter(pl.col("cohort") == D("2024-04-01"))
    assert apr.select("channel", "customers").rows() == [(None, 1)]  # D has no channel
    matrix = cohort_matrix(_cohorts())
    assert matrix.columns == ["cohort", "customers", "complete_from", "complete_to", "0", "1", "2", "3"]
    assert matrix.row(1) == (D("2024-03-01"), 1, 0, 1, 1.0, 0.0, None, None)


def test_no_cohort_member_is_an_error():
    signup = pl.DataFrame({"customer_id": ["A"], "signup_date": [None]}, schema={"customer_id": pl.String, "signup_date": pl.Date})
    with pytest.raises(InputError, match="^no customer to put in a cohort$"):
        _cohorts(signup=signup)


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_first_purchase_from_activity_equals_the_summary(period):
    # B's March row is only a return: its cohort stays January either way.
    lf = tx_frame(LOG + [("E", "2024-02-10", -5.0, True), ("E", "2024-03-01", 9.0, False)])
    activity = DEFAULT_ENGINE.activity(cleaned(lf), period=period)
    with_summary = cohorts(activity, DEFAULT_ENGINE.customer_summary(cleaned(lf)), period=period, as_of=AS_OF)
    assert_frame_equal(cohorts(activity, period=period, as_of=AS_OF), with_summary)


def test_partial_cohort_periods_flagged():
    # Issue 11 item 4: data covered from 2024-01-05 to 2024-04-14 (as of 2024-04-15): January and April
    # are partial months, in every cohort; the matrix gives the complete indexes of each row.
    lf = tx_frame(LOG)
    got = cohorts(DEFAULT_ENGINE.activity(cleaned(lf), period="month"), period="month", as_of=D("2024-04-15"), start=D("2024-01-05"))
    # Jan cohort: Jan (0) partial, Feb (1), Mar (2) complete, Apr (3) partial; Mar cohort: Mar, Apr; Apr: Apr.
    assert got.select("cohort", "period_index", "partial").rows() == [
        (D("2024-01-01"), 0, True), (D("2024-01-01"), 1, False), (D("2024-01-01"), 2, False), (D("2024-01-01"), 3, True),
        (D("2024-03-01"), 0, False), (D("2024-03-01"), 1, True), (D("2024-04-01"), 0, True),
    ]
    matrix = cohort_matrix(got)
    assert matrix.select("cohort", "complete_from", "complete_to").rows() == [
        (D("2024-01-01"), 1, 2), (D("2024-03-01"), 0, 0), (D("2024-04-01"), None, None),
    ]


def test_no_money_column_gives_null_cohort_revenue():
    # Issue 11 item 1: without amounts, retention is known and revenue unknown (null, never 0).
    lf = tx_frame(LOG).drop("amount")
    got = cohorts(DEFAULT_ENGINE.activity(cleaned(lf), period="month"), DEFAULT_ENGINE.customer_summary(cleaned(lf)), period="month", as_of=AS_OF)
    assert got.get_column("retention").to_list() == [1.0, 0.0, 0.5, 0.5, 1.0, 0.0, 1.0]  # as test_monthly_cohorts_by_hand
    assert got.select("revenue", "cumulative_revenue_per_customer").null_count().row(0) == (7, 7)
