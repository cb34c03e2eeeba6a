"""Each `target` scenario on a handful of customers, every expected row worked out by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal
from target_data import D, customers, inputs, summary

from fidelcli.analyses.target.scenarios import ScenarioInputs, ScenarioName
from fidelcli.analyses.target.scenarios import eligible as eligible_rows
from fidelcli.config import (
    TargetAbandonedCart,
    TargetAnniversary,
    TargetAtRisk,
    TargetBirthday,
    TargetCrossSell,
    TargetReactivation,
    TargetScenario,
    TargetSecondPurchase,
    TargetVip,
    TargetWelcome,
)


def eligible(name: ScenarioName, inputs: ScenarioInputs, cfg: TargetScenario) -> pl.DataFrame:
    """The eligible rows, sorted by customer_id (the library returns them in no particular order)."""
    return eligible_rows(name, inputs, cfg).sort("customer_id")


def expected(rows: list[tuple[str, str]], offer: str) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": [r[0] for r in rows], "reason": [r[1] for r in rows], "offer": [offer] * len(rows)},
                        schema={"customer_id": pl.String, "reason": pl.String, "offer": pl.String})


def test_welcome_first_purchase_in_the_last_days():
    # As of 2024-03-01 (exclusive), days = 14: 1 <= days since the first purchase <= 14.
    history = summary([
        ("A", D(2024, 2, 20), D(2024, 2, 20), 1, 10.0),   # 10 days: in
        ("B", D(2024, 2, 15), D(2024, 2, 28), 2, 10.0),   # 15 days: out
        ("C", D(2024, 2, 16), D(2024, 2, 16), 1, 10.0),   # 14 days: in (the bound)
        ("D", D(2024, 2, 29), D(2024, 2, 29), 1, 10.0),   # 1 day: in
    ])
    got = eligible("welcome", inputs(history, customers("ABCD"), D(2024, 3, 1)), TargetWelcome())
    assert_frame_equal(got, expected([
        ("A", "first purchase on 2024-02-20, 10 days ago"), ("C", "first purchase on 2024-02-16, 14 days ago"),
        ("D", "first purchase on 2024-02-29, 1 day ago")], TargetWelcome().offer))


def test_second_purchase_one_purchase_in_the_window():
    # days = 30, window_days = 7: one occasion, 30 to 36 days before 2024-05-01.
    history = summary([
        ("A", D(2024, 4, 1), D(2024, 4, 1), 1, 5.0),      # 30 days: in
        ("B", D(2024, 3, 25), D(2024, 3, 25), 1, 5.0),    # 37 days: out
        ("C", D(2024, 3, 1), D(2024, 3, 31), 2, 5.0),     # two occasions: out
        ("D", D(2024, 3, 26), D(2024, 3, 26), 1, 5.0),    # 36 days: in
        ("E", D(2024, 4, 2), D(2024, 4, 2), 1, 5.0),      # 29 days: out
    ])
    got = eligible("second_purchase", inputs(history, customers("ABCDE"), D(2024, 5, 1)), TargetSecondPurchase())
    assert_frame_equal(got, expected([("A", "one purchase only, on 2024-04-01, 30 days ago"),
                                      ("D", "one purchase only, on 2024-03-26, 36 days ago")], TargetSecondPurchase().offer))


def test_reactivation_is_relative_to_the_customers_rhythm():
    # ratio 2, 30 <= recency <= 730; mean gap = (last - first) / (occasions - 1), at least 1 day.
    as_of = D(2023, 5, 1)
    history = summary([
        ("A", D(2023, 1, 1), D(2023, 3, 2), 3, 1.0),      # gap 60/2 = 30, recency 60 = 2.0 x 30: in
        ("B", D(2023, 1, 2), D(2023, 3, 3), 3, 1.0),      # gap 30, recency 59 < 60: out
        ("C", D(2023, 1, 1), D(2023, 1, 1), 1, 1.0),      # no rhythm: out
        ("D", D(2023, 3, 22), D(2023, 3, 22), 2, 1.0),    # gap 0 -> 1 day, recency 40: in (40.0 times)
        ("E", D(2023, 3, 27), D(2023, 4, 11), 4, 1.0),    # gap 5, recency 20 < 30 days: out
        ("F", D(2020, 1, 1), D(2021, 2, 19), 2, 1.0),     # recency 801 > 730: out
        ("G", D(2022, 1, 1), D(2022, 12, 31), 3, 1.0),    # gap 182, recency 121 < 364: out
    ])
    got = eligible("reactivation", inputs(history, customers("ABCDEFG"), as_of), TargetReactivation())
    assert_frame_equal(got, expected([
        ("A", "no purchase for 60 days, 2.0 times their usual 30 days between purchases"),
        ("D", "no purchase for 40 days, 40.0 times their usual 1 day between purchases")], TargetReactivation().offer))


def _ten_buyers():
    # Net spend 100, 90, ..., 10 for C0..C9 (C0 highest).
    return summary([(f"C{i}", D(2024, 1, 1), D(2024, 1, 1), 1, 100.0 - 10 * i) for i in range(10)])


def test_at_risk_with_a_churn_model_top_value_and_high_risk():
    # Top 20 % of 10 buyers: ceil(0.2 x 10) = 2 customers, C0 and C1. Churn >= 0.6: C0 (0.7), not C1 (0.5); C2 (0.9) is not top.
    churn = pl.DataFrame({"customer_id": ["C0", "C1", "C2"], "churn_probability": [0.7, 0.5, 0.9]})
    got = eligible("at_risk", inputs(_ten_buyers(), customers([f"C{i}" for i in range(10)]), D(2024, 6, 1), churn=churn), TargetAtRisk())
    assert_frame_equal(got, expected([("C0", "top 20% by net spend (100.0) and churn risk 70%")], TargetAtRisk().offer))


def test_at_risk_ties_at_the_border_share_their_fate():
    # C1 and C2 both spend 90: rank 2 each, both within the top 2.
    history = _ten_buyers().with_columns(revenue=pl.when(pl.col("customer_id") == "C2").then(90.0).otherwise(pl.col("revenue")))
    churn = pl.DataFrame({"customer_id": ["C1", "C2", "C3"], "churn_probability": [0.8, 0.8, 0.8]})
    got = eligible("at_risk", inputs(history, customers([f"C{i}" for i in range(10)]), D(2024, 6, 1), churn=churn), TargetAtRisk())
    assert got["customer_id"].to_list() == ["C1", "C2"]


def test_at_risk_with_a_clv_model_uses_clv_and_p_alive():
    # CLV ranks C9 first (500) and C8 second (400): the top 2. P(alive) <= 0.5: C9 (0.3); C8 has 0.6.
    clv = pl.DataFrame({"customer_id": ["C9", "C8", "C0"], "p_alive": [0.3, 0.6, 0.1], "clv": [500.0, 400.0, 10.0]})
    got = eligible("at_risk", inputs(_ten_buyers(), customers([f"C{i}" for i in range(10)]), D(2024, 6, 1), clv=clv), TargetAtRisk())
    assert_frame_equal(got, expected([("C9", "top 20% by CLV (500.0) and P(alive) 30%")], TargetAtRisk().offer))


def test_vip_champions_or_top_clv_decile():
    segments = pl.DataFrame({"customer_id": [f"C{i}" for i in range(10)], "segment": ["Champions", "Loyal Customers"] * 5})
    clv = pl.DataFrame({"customer_id": [f"C{i}" for i in range(10)], "p_alive": [0.9] * 10, "clv": [float(i) for i in range(10)]})
    # Top 10 % by CLV: ceil(0.1 x 10) = 1 customer, C9 (clv 9); Champions: C0, C2, C4, C6, C8.
    got = eligible("vip", inputs(_ten_buyers(), customers([f"C{i}" for i in range(10)]), D(2024, 6, 1), segments=segments, clv=clv), TargetVip())
    assert got["customer_id"].to_list() == ["C0", "C2", "C4", "C6", "C8", "C9"]
    assert got["reason"].to_list() == ["RFM segment Champions"] * 5 + ["top 10% by CLV"]


def _birthdays(as_of: dt.date, births: dict[str, dt.date]):
    table = customers(list(births), birth_date=list(births.values()))
    return eligible("birthday", inputs(summary([]), table, as_of), TargetBirthday())


def test_birthday_in_the_next_days_29_february_on_28_in_non_leap_years():
    # As of 2025-02-26, days 7: birthdays from 2025-02-26 to 2025-03-04 (2025 is not a leap year).
    got = _birthdays(D(2025, 2, 26), {
        "A": D(1990, 2, 26),   # today
        "B": D(1992, 2, 29),   # 29 February -> 2025-02-28, in 2 days
        "C": D(1985, 3, 4),    # in 6 days (the last day of the window)
        "D": D(1985, 3, 5),    # in 7 days: out
        "E": D(1980, 2, 25),   # yesterday: next one in 2026, out
        "F": D(2025, 2, 27),   # born this year: not a birthday yet, out
    })
    assert_frame_equal(got, expected([
        ("A", "birthday on 2025-02-26, today"), ("B", "birthday on 2025-02-28, in 2 days (born on 29 February)"),
        ("C", "birthday on 2025-03-04, in 6 days")], TargetBirthday().offer))


def test_birthday_29_february_in_a_leap_year_and_across_the_new_year():
    got = _birthdays(D(2028, 2, 27), {"B": D(1992, 2, 29)})
    assert got["reason"].to_list() == ["birthday on 2028-02-29, in 2 days"]
    # As of 1 March 2025, the next 29 February birthday is 28 February 2026: out of a 7-day window.
    assert _birthdays(D(2025, 3, 1), {"B": D(1992, 2, 29)}).height == 0
    assert _birthdays(D(2025, 12, 30), {"N": D(2000, 1, 2)})["reason"].to_list() == ["birthday on 2026-01-02, in 3 days"]


def test_anniversary_of_membership():
    # As of 2025-03-01, days 7: anniversaries from 2025-03-01 to 2025-03-07.
    table = customers(["A", "B", "C", "D", "E"],
                      enrollment_date=[D(2024, 3, 3), D(2021, 3, 1), D(2025, 3, 1), D(2024, 3, 3), D(2020, 2, 29)],
                      loyalty_member=[True, None, True, False, True])
    got = eligible("anniversary", inputs(summary([]), table, D(2025, 3, 1)), TargetAnniversary())
    # A: 1 year in 2 days; B: 4 years today (membership unknown counts as a member); C: enrolled today (0 years): out;
    # D: no longer a member: out; E: 29 February 2020 -> 28 February 2025, yesterday: out.
    assert_frame_equal(got, expected([("A", "1 year of membership on 2025-03-03, in 2 days"),
                                      ("B", "4 years of membership on 2025-03-01, today")], TargetAnniversary().offer))


def test_abandoned_cart():
    # As of 2025-01-10 00:00, hours 24, lookback 7 days: carts from 2025-01-03 00:00 to 2025-01-09 00:00.
    T = dt.datetime
    tp = pl.DataFrame({
        "customer_id": ["A", "B", "C", "D", "E", "F", "G", "H"],
        "timestamp": [T(2025, 1, 8, 20), T(2025, 1, 9, 12), T(2025, 1, 2, 23), T(2025, 1, 5, 9), T(2025, 1, 5, 9), T(2025, 1, 6, 8, 30),
                      T(2025, 1, 7, 10), T(2025, 1, 7, 10)],
        "stage": ["checkout", "cart", "cart", "cart", "cart", "Add-To_Cart", "consideration", "purchase"],
        "channel": ["web"] * 8,
        "outcome": [None, None, None, None, None, None, "Added to cart", None],
    })
    history = summary([("D", D(2024, 1, 1), D(2025, 1, 5), 3, 1.0), ("E", D(2024, 1, 1), D(2025, 1, 4), 3, 1.0)])
    got = eligible("abandoned_cart", inputs(history, customers("ABCDEFGH"), D(2025, 1, 10), touchpoints=tp), TargetAbandonedCart())
    # A in; B too recent; C before the lookback; D bought on the cart's day; E last bought the day before: in;
    # F stage normalised to "add to cart": in; G a cart outcome: in; H not a cart.
    assert_frame_equal(got, expected([
        ("A", "cart on 2025-01-08 20:00 (stage checkout), no purchase since"),
        ("E", "cart on 2025-01-05 09:00 (stage cart), no purchase since"),
        ("F", "cart on 2025-01-06 08:30 (stage Add-To_Cart), no purchase since"),
        ("G", "cart on 2025-01-07 10:00 (stage consideration), no purchase since")], TargetAbandonedCart().offer))


def test_cross_sell_quotes_the_best_recommendation():
    recs = pl.DataFrame({"customer_id": ["A", "A", "B"], "item": ["P2", "P1", "P3"], "score": [0.5, 0.9, 0.2]})
    got = eligible("cross_sell", inputs(summary([]), customers("AB"), D(2025, 1, 1), recommendations=recs), TargetCrossSell())
    assert got.rows() == [("A", "recommended P1, which customers with a similar history buy", "recommended for you: P1"),
                          ("B", "recommended P3, which customers with a similar history buy", "recommended for you: P3")]
