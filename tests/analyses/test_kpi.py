"""Monthly KPIs pinned on a hand-computed log: the first period, an empty period, a period with only a
return for one customer, single-purchase customers, optional inputs."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from analyses_data import cleaned, tx_frame
from polars.testing import assert_frame_equal

from fidelcli.analyses.kpi import BASE_COLUMNS, kpi, profit_activity
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import InputError

D = dt.date.fromisoformat
AS_OF = D("2024-05-01")
# Jan: A buys twice (10, 20), B once (40). Feb: nothing. Mar: A 30, B returns 15 (only a return),
# C buys once (50, new). Apr: D buys twice (5, 7, new), A 8.
LOG = [
    ("A", "2024-01-05", 10.0, False),
    ("A", "2024-01-20", 20.0, False),
    ("B", "2024-01-10", 40.0, False),
    ("A", "2024-03-03", 30.0, False),
    ("B", "2024-03-15", -15.0, True),
    ("C", "2024-03-20", 50.0, False),
    ("D", "2024-04-02", 5.0, False),
    ("D", "2024-04-03", 7.0, False),
    ("A", "2024-04-10", 8.0, False),
]


def _kpi(rows=LOG, *, period="month", as_of=AS_OF, **kw):
    lf = tx_frame(rows)
    return kpi(DEFAULT_ENGINE.activity(cleaned(lf), period=period), DEFAULT_ENGINE.customer_summary(cleaned(lf)), period=period, as_of=as_of, **kw)


def test_monthly_kpis_by_hand():
    got = _kpi().periods
    expected = pl.DataFrame(
        {
            "period_start": [D("2024-01-01"), D("2024-02-01"), D("2024-03-01"), D("2024-04-01")],
            # As of 2024-05-01 April is complete; without `start` the first period counts as complete.
            "partial": [False, False, False, False],
            "active_customers": [2, 0, 2, 2],  # Mar: A and C (B only returned)
            "new_customers": [2, 0, 1, 1],  # Jan A, B; Mar C; Apr D
            "returning_customers": [0, 0, 1, 1],
            "orders": [3, 0, 2, 3],
            "revenue": [70.0, 0.0, 65.0, 20.0],  # Mar: 30 - 15 + 50
            "customer_revenue": [70.0, 0.0, 65.0, 20.0],  # every line has a customer id
            "aov": [70 / 3, None, 32.5, 20 / 3],
            "purchase_frequency": [1.5, None, 1.0, 1.5],
            "repeat_purchase_rate": [0.5, None, 0.0, 0.5],  # A in Jan, D in Apr bought twice
            # Jan: first period; Feb: 0 of Jan's 2; Mar: no one active in Feb; Apr: A of {A, C}.
            "retention_rate": [None, 0.0, None, 0.5],
            "churn_rate": [None, 1.0, None, 0.5],
            # (E - N) / S, S = customers acquired before the period: Jan S = 0; Feb (0 - 0) / 2 (A, B);
            # Mar (2 - 1) / 2 (A, B); Apr (2 - 1) / 3 (A, B, C).
            "customer_retention_rate": [None, 0.0, 0.5, 1 / 3],
            # returning revenue / revenue: Jan 0 / 70; Feb no revenue; Mar A 30 / 65; Apr A 8 / 20.
            "returning_revenue_share": [0.0, None, 30 / 65, 0.4],
        }
    )
    assert_frame_equal(got, expected)


def test_last_complete_period_against_the_one_before():
    result = _kpi()
    assert (result.previous, result.current) == (D("2024-03-01"), D("2024-04-01"))
    cmp = result.comparison
    assert cmp.get_column("kpi").to_list() == BASE_COLUMNS[2:]  # period_start and partial are not KPIs
    row = cmp.filter(pl.col("kpi") == "revenue").row(0, named=True)
    assert row == {"kpi": "revenue", "previous": 65.0, "current": 20.0, "delta": -45.0}
    # As of 2024-04-15 April is not complete: March against February.
    partial = _kpi(LOG[:-1], as_of=D("2024-04-15"))
    assert (partial.previous, partial.current) == (D("2024-02-01"), D("2024-03-01"))


def test_yearly_retention_retained_over_s_and_clv():
    rows = [
        ("X", "2022-03-01", 100.0, False), ("Y", "2022-05-01", 100.0, False),
        ("X", "2023-03-01", 100.0, False), ("Z", "2023-04-01", 100.0, False),
        ("Y", "2024-02-01", 100.0, False), ("Z", "2024-03-01", 100.0, False), ("W", "2024-06-01", 100.0, False),
    ]
    spend = pl.DataFrame({"period": [D("2023-06-01")], "spend": [300.0]})
    result = _kpi(rows, period="year", as_of=D("2025-01-01"), margin_rate=0.5, spend=spend)
    y = result.yearly
    # 2023: S = 2 (X, Y), E = 2 (X, Z), N = 1 (Z), retained 1 (X) -> 1 / 2 = 0.5; lifetime 1 / (1 - 0.5)
    #   = 2 years; profit per customer 0.5 * 200 / 2 = 50 -> CLV 100; CAC 300 / 1 -> CLV:CAC 1/3.
    # 2024: S = 2 (X, Z), E = 3 (Y, Z, W), N = 1 (W), retained 1 (Z) -> 0.5 (Y came back after a gap: not
    #   retained; (E - N) / S would say 1.0 and no finite lifetime) -> CLV 100; CAC 0 -> no CLV:CAC.
    expected = pl.DataFrame(
        {
            "year": [D("2022-01-01"), D("2023-01-01"), D("2024-01-01")],
            "partial": [False, False, False],
            "customers_start": [None, 2, 2],
            "customers_end": [2, 2, 3],
            "new_customers": [2, 1, 1],
            "retained_customers": [0, 1, 1],
            "retention_rate": [None, 0.5, 0.5],
            "revenue": [200.0, 200.0, 300.0],
            "revenue_per_customer": [100.0, 100.0, 100.0],
            "profit_per_customer": [50.0, 50.0, 50.0],
            "expected_lifetime_years": [None, 2.0, 2.0],
            "clv": [None, 100.0, 100.0],
            "marketing_spend": [0.0, 300.0, 0.0],
            "cac": [0.0, 300.0, 0.0],
            "clv_to_cac": [None, 1 / 3, None],
        }
    )
    assert_frame_equal(y, expected)
    # The period retention of 2024 counts only Z (of X, Z): 0.5, the same as the yearly one.
    assert result.periods.get_column("retention_rate").to_list() == [None, 0.5, 0.5]
    # (E - N) / S with S the base acquired before: 2023 (2 - 1) / 2 (X, Y); 2024 (3 - 1) / 3 (X, Y, Z).
    assert result.periods.get_column("customer_retention_rate").to_list() == [None, 0.5, 2 / 3]


def test_surveys_campaigns_customers():
    surveys = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "date": [D("2024-01-03")] * 4,
            "nps": [10, 9, 7, 3],
            "csat": [5, 4, 2, None],
            "ces": [2, 4, None, None],
        }
    )
    campaigns = pl.DataFrame(
        {
            "campaign_id": ["K"] * 4, "customer_id": ["A", "B", "C", "D"], "variant": ["t"] * 4,
            "sent_at": [D("2024-01-02")] * 4,
            "delivered": [True, True, True, False], "opened": [True, True, False, False],
            "clicked": [True, False, False, False], "converted": [True, False, False, False],
            "cost": [0.5] * 4,
        }
    )
    customers = pl.DataFrame(
        {"customer_id": ["A", "B", "C", "D"], "referred_by": [None, None, "A", None], "loyalty_member": [True, False, None, True]}
    )
    p = _kpi(surveys=surveys, campaigns=campaigns, customers=customers).periods
    jan = p.row(0, named=True)
    # NPS: promoters 2 (10, 9), detractors 1 (3) of 4 -> 100 * (2 - 1) / 4 = 25.
    assert (jan["nps_responses"], jan["nps"]) == (4, 25.0)
    # CSAT: 2 of 3 answers are 4-5; mean (5 + 4 + 2) / 3. CES mean (2 + 4) / 2.
    assert (jan["csat_responses"], jan["csat"], jan["csat_mean"], jan["ces"]) == (3, 2 / 3, 11 / 3, 3.0)
    # Campaign: 3 delivered, 2 opened, 1 clicked, 1 converted, cost 4 x 0.5.
    assert (jan["campaign_sent"], jan["open_rate"], jan["click_rate"], jan["conversion_rate"], jan["cost_per_lead"]) == (4, 2 / 3, 1 / 3, 1 / 3, 2.0)
    # Referrals: Jan new A, B not referred; Mar new C referred by A -> 1.0.
    assert p.get_column("referral_rate").to_list() == [0.0, None, 1.0, 0.0]
    mar = p.row(2, named=True)
    assert (mar["referred_revenue_per_customer"], mar["other_revenue_per_customer"]) == (50.0, 30.0)
    # Members: Jan A of {A, B} -> 0.5, A spent 30, B 40; Apr A and D both members.
    assert (jan["member_share"], jan["member_revenue_per_customer"], jan["non_member_revenue_per_customer"]) == (0.5, 30.0, 40.0)
    apr = p.row(3, named=True)
    assert (apr["member_share"], apr["member_revenue_per_customer"], apr["non_member_revenue_per_customer"]) == (1.0, 10.0, None)
    feb = p.row(1, named=True)
    assert (feb["nps_responses"], feb["nps"], feb["campaign_sent"], feb["open_rate"]) == (0, None, 0, None)


def test_long_surveys_equal_wide():
    wide = pl.DataFrame({"customer_id": ["A", "B"], "date": [D("2024-01-03")] * 2, "nps": [10, 0]})
    long = pl.DataFrame({"customer_id": ["A", "B"], "date": [D("2024-01-03")] * 2, "type": ["NPS", "nps"], "score": [10.0, 0.0]})
    assert_frame_equal(_kpi(surveys=wide).periods, _kpi(surveys=long).periods)
    assert _kpi(surveys=wide).periods.get_column("nps")[0] == 0.0  # one promoter, one detractor


def test_grouped_kpis_retention_within_group():
    groups = pl.DataFrame({"customer_id": ["A", "B", "C", "D"], "member": [True, False, None, True]})
    result = _kpi(groups=groups)
    p = result.periods
    assert p.columns[:2] == ["period_start", "member"]
    # 4 months x 3 groups (True, False, null), empty cells included.
    assert p.height == 12
    members = p.filter(pl.col("member") == True)  # noqa: E712
    # Members A (Jan, Mar, Apr) and D (Apr): Apr retention = A of {A} = 1.0; Mar: nobody in Feb.
    assert members.get_column("active_customers").to_list() == [1, 0, 1, 2]
    assert members.get_column("retention_rate").to_list() == [None, 0.0, None, 1.0]
    assert result.comparison.columns == ["member", "kpi", "previous", "current", "delta"]
    assert result.yearly is None


def test_profit_from_margin_column_and_rate():
    rows = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "date": [D("2024-01-05"), D("2024-01-06"), D("2024-01-07")],
            "amount": [10.0, -4.0, 20.0],
            "is_return": [False, True, False],
            "occasion": ["1", "2", "3"],
            "margin": [4.0, 1.0, 5.0],
        }
    ).lazy()
    activity = DEFAULT_ENGINE.activity(cleaned(rows), period="month")
    assert activity["profit_cents"].to_list() == [300, 500]
    profit = profit_activity(activity)
    # A: 4 - 1 (the returned line's margin is lost) = 3; B: 5 -> 8 for 2 active customers.
    r = kpi(DEFAULT_ENGINE.activity(cleaned(rows), period="month"), DEFAULT_ENGINE.customer_summary(cleaned(rows)), period="month",
            as_of=D("2024-02-01"), profit=profit)
    assert r.periods.select("profit", "profit_per_customer").row(0) == (8.0, 4.0)
    r = kpi(DEFAULT_ENGINE.activity(cleaned(rows), period="month"), DEFAULT_ENGINE.customer_summary(cleaned(rows)), period="month",
            as_of=D("2024-02-01"), margin_rate=0.25)
    # 0.25 x (10 - 4 + 20) = 6.5
    assert r.periods.select("profit", "profit_per_customer").row(0) == (6.5, 3.25)
    assert profit_activity(DEFAULT_ENGINE.activity(cleaned(rows.drop("margin")), period="month")) is None


def test_weekly_periods_start_on_monday_and_include_empty_weeks():
    rows = [("A", "2024-01-03", 1.0, False), ("A", "2024-01-17", 1.0, False)]
    p = _kpi(rows, period="week", as_of=D("2024-01-18")).periods
    assert p.get_column("period_start").to_list() == [D("2024-01-01"), D("2024-01-08"), D("2024-01-15")]
    assert p.get_column("active_customers").to_list() == [1, 0, 1]


def test_no_activity_is_an_error():
    empty = tx_frame([("A", "2024-01-03", 1.0, False)]).filter(pl.lit(False))
    with pytest.raises(InputError, match="^no transaction in the analysis window$"):
        kpi(DEFAULT_ENGINE.activity(cleaned(empty), period="month"), DEFAULT_ENGINE.customer_summary(cleaned(empty)), period="month", as_of=AS_OF)


def test_activity_in_any_row_order_gives_the_same_kpis():
    # kpi() trusts the engine's (customer, period) order only after checking it: shuffled rows,
    # or rows sorted the other way round, are sorted first and give the same periods and years.
    lf = tx_frame(LOG)
    activity = DEFAULT_ENGINE.activity(cleaned(lf), period="month")
    summary = DEFAULT_ENGINE.customer_summary(cleaned(lf))
    expected = kpi(activity, summary, period="month", as_of=AS_OF)
    for other in (activity.sample(fraction=1.0, shuffle=True, seed=3), activity.sort("customer_id", "period_start", descending=[False, True])):
        got = kpi(other, summary, period="month", as_of=AS_OF)
        assert_frame_equal(got.periods, expected.periods)
        assert_frame_equal(got.yearly, expected.yearly)


def test_customer_retention_rate_never_above_one():
    # Issue 11 item 5. Jan: A, B, C buy (new). Feb: only A. Mar: A, B and C buy again.
    rows = [
        ("A", "2024-01-02", 1.0, False), ("B", "2024-01-03", 1.0, False), ("C", "2024-01-04", 1.0, False),
        ("A", "2024-02-02", 1.0, False),
        ("A", "2024-03-02", 1.0, False), ("B", "2024-03-03", 1.0, False), ("C", "2024-03-04", 1.0, False),
    ]
    p = _kpi(rows, as_of=D("2024-04-01")).periods
    # The old (E - N) / S with S = customers active in P-1 gave Mar (3 - 0) / 1 = 3.0: B and C came
    # back after a gap. With S = the customer base acquired before P (A, B, C), Mar is 3 / 3 = 1.0 and
    # Feb (1 - 0) / 3; Jan has no base.
    assert p.get_column("customer_retention_rate").to_list() == [None, 1 / 3, 1.0]
    # retention_rate keeps its meaning: of the customers active in P-1, the share active in P.
    assert p.get_column("retention_rate").to_list() == [None, 1 / 3, 1.0]
    assert p.get_column("returning_customers").to_list() == [0, 1, 3]


def test_partial_last_period_flagged():
    # Issue 11 item 4. LOG up to 2024-03-20 (C's purchase), data covered from 2024-01-05 to 2024-03-20:
    # January starts before the data (partial), February is complete, March ends after as_of (partial).
    rows = LOG[:6]
    result = _kpi(rows, as_of=D("2024-03-21"), start=D("2024-01-05"))
    assert result.periods.get_column("partial").to_list() == [True, False, True]
    # Only one complete period: nothing to compare (Feb against the partial January would read as a
    # collapse, and March against February as a jump).
    assert (result.current, result.previous) == (None, None)
    assert result.comparison.height == 0
    # As of 2024-04-01 March is complete: March against February, never January.
    done = _kpi(rows, as_of=D("2024-04-01"), start=D("2024-01-05"))
    assert done.periods.get_column("partial").to_list() == [True, False, False]
    assert (done.previous, done.current) == (D("2024-02-01"), D("2024-03-01"))
    # The yearly table flags its years too: 2024 is covered from Jan 5 to Mar 31 only.
    assert done.yearly.select("year", "partial").rows() == [(D("2024-01-01"), True)]


def test_no_money_column_gives_null_revenue_not_zero():
    # Issue 11 item 1: the LOG without its amount column (an event log like BTYDplus groceryElog).
    lf = tx_frame(LOG).drop("amount")
    activity = DEFAULT_ENGINE.activity(cleaned(lf), period="month")
    assert activity.get_column("revenue_cents").null_count() == activity.height
    result = kpi(activity, DEFAULT_ENGINE.customer_summary(cleaned(lf)), period="month", as_of=AS_OF, margin_rate=0.3)
    p = result.periods
    assert not result.has_money
    # Counts are known (as in test_monthly_kpis_by_hand); every money figure is null, never 0.
    assert p.get_column("active_customers").to_list() == [2, 0, 2, 2]
    assert p.get_column("orders").to_list() == [3, 0, 2, 3]
    for column in ("revenue", "customer_revenue", "aov", "returning_revenue_share", "profit", "profit_per_customer"):
        assert p.get_column(column).null_count() == p.height, column
    row = result.comparison.filter(pl.col("kpi") == "revenue").row(0, named=True)
    assert (row["previous"], row["current"], row["delta"]) == (None, None, None)
    y = result.yearly
    assert y.select("revenue", "revenue_per_customer", "profit_per_customer", "clv").null_count().row(0) == (1, 1, 1, 1)


def _csv_transactions(tmp_path, text):
    from fidelcli.clean import clean_transactions
    from fidelcli.io.read import scan_table

    path = tmp_path / "sales.csv"
    path.write_text(text)
    return clean_transactions(scan_table(path, "transactions"))


def test_revenue_counts_lines_without_customer_id(tmp_path):
    # Issue 11 item 3. Jan: A 10, B 40 and an anonymous 5; Feb: A 20, anonymous 7.50 and an anonymous
    # return of 2.50; an anonymous line on 2024-02-25 is after the analysis date (the day after the
    # latest identified line, 2024-02-21) and is ignored like any later line.
    tx = _csv_transactions(
        tmp_path,
        "customer_id,date,amount\nA,2024-01-05,10\n,2024-01-06,5\nB,2024-01-10,40\n,2024-02-03,7.50\n"
        ",2024-02-04,-2.50\nA,2024-02-20,20\n,2024-02-25,1000\n",
    )
    activity = DEFAULT_ENGINE.activity(tx, period="month", anonymous=True)
    assert tx.as_of == D("2024-02-21")
    result = kpi(activity, period="month", as_of=tx.as_of, start=tx.first_date)
    p = result.periods
    # revenue: Jan 10 + 40 + 5 = 55, Feb 20 + 7.50 - 2.50 = 25; customer_revenue: 50 and 20.
    assert p.select("revenue", "customer_revenue", "aov").rows() == [(55.0, 50.0, 25.0), (25.0, 20.0, 20.0)]
    # Anonymous: 5 + 7.50 - 2.50 = 10 of 80.
    assert result.anonymous_revenue_share == 0.125
    assert result.warnings == [
        "12.5% of the revenue (10.00 of 80.00) is on lines without a customer id: revenue counts them; "
        "customer_revenue and every per-customer figure do not"
    ]
    # Customer figures are those of the activity without the anonymous lines.
    plain = kpi(DEFAULT_ENGINE.activity(tx, period="month"), period="month", as_of=tx.as_of, start=tx.first_date)
    assert_frame_equal(p.drop("revenue"), plain.periods.drop("revenue"))
    assert plain.warnings == [] and plain.anonymous_revenue_share is None
