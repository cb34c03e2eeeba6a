"""Churn features and labels: hand-computed values, and no leakage from after the cutoff."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from churn_data import load
from polars.testing import assert_frame_equal

from fidelcli.churn import ChurnInputs, churn_features, parse_horizon, shift, subscription_labels
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import ConfigError

C = dt.date(2024, 5, 31)


def features_at(path: Path, cutoff: dt.date, inputs: ChurnInputs | None = None, **kw: object) -> pl.DataFrame:
    tx = load(path, **kw)
    return churn_features(tx, cutoff, engine=DEFAULT_ENGINE, inputs=inputs, p_alive=False).frame


def test_purchase_features_by_hand(tiny: Path) -> None:
    got = features_at(tiny, C)
    # A: occasions 2024-01-01 (100), 01-31 (80), 03-01 (60; order 4 is a return only, not an occasion).
    #    recency = Mar 1 -> May 31 = 91 days; tenure = Jan 1 -> May 31 = 151 (leap year);
    #    gaps 30, 30 -> mean 30, spread 0; ratio 91 / 30; days ago 151, 121, 91: none in the last 90,
    #    all three in the 90 before -> trends (0 - 3) / 3 = -1; returns 30 / 240 bought = 0.125;
    #    categories food, home; channels web, store.
    # B: one purchase on May 20 (50): recency = tenure = 11; trend (1 - 0) / 1 = 1.
    # C: May 1 (20, 30 days ago: outside the 30-day window) and May 11 (40): ratio 20 / 10 = 2.
    expected = pl.DataFrame({
        "customer_id": ["A", "B", "C"],
        "recency_days": [91, 11, 20],
        "tenure_days": [151, 11, 30],
        "frequency": [3, 1, 2],
        "monetary": [240.0, 50.0, 60.0],
        "avg_order_value": [80.0, 50.0, 30.0],
        "orders_30d": [0, 1, 1],
        "spend_30d": [0.0, 50.0, 40.0],
        "orders_90d": [0, 1, 2],
        "spend_90d": [0.0, 50.0, 60.0],
        "orders_180d": [3, 1, 2],
        "orders_prev_90d": [3, 0, 0],
        "spend_prev_90d": [240.0, 0.0, 0.0],
        "ipt_mean_days": [30.0, None, 10.0],
        "ipt_std_days": [0.0, None, None],
        "recency_ratio": [91 / 30, None, 2.0],
        "orders_trend": [-1.0, 1.0, 1.0],
        "spend_trend": [-1.0, 1.0, 1.0],
        "returns_share": [0.125, 0.0, 0.0],
        "n_categories": [2, 1, 2],
        "n_channels": [2, 1, 1],
    })
    assert_frame_equal(got.select(expected.columns), expected, check_dtypes=False)


def test_labels_by_hand(tiny: Path) -> None:
    end = shift(C, "90d")  # 2024-08-29
    got = DEFAULT_ENGINE.purchase_labels(load(tiny), cutoff=C, end=end)
    # A buys again on Jun 15 (inside); B only on Sep 15 (after Aug 29); C never again.
    expected = pl.DataFrame({"customer_id": ["A", "B", "C"], "churned": [0, 1, 1]}, schema_overrides={"churned": pl.Int8})
    assert end == dt.date(2024, 8, 29)
    assert_frame_equal(got, expected)


def test_subscription_labels_by_hand() -> None:
    subs = pl.LazyFrame({
        "customer_id": ["a", "b", "c", "d", "d"],
        "start_date": [dt.date(2024, 1, 1)] * 4 + [dt.date(2024, 7, 1)],
        "end_date": [None, dt.date(2024, 7, 1), dt.date(2024, 5, 1), dt.date(2024, 6, 30), None],
    })
    got = subscription_labels(subs, C, shift(C, "3m")).sort("customer_id").collect()
    # horizon end Aug 31. a: open -> 0; b: ends Jul 1 -> 1; c: already ended at the cutoff -> out of scope;
    # d: ends Jun 30 but a new subscription from Jul 1 is active on Aug 31 -> 0.
    expected = pl.DataFrame({"customer_id": ["a", "b", "d"], "churned": [0, 1, 0]}, schema_overrides={"churned": pl.Int8})
    assert_frame_equal(got, expected)


@pytest.mark.parametrize(("spec", "start", "end"), [
    ("90d", dt.date(2024, 5, 31), dt.date(2024, 8, 29)),
    ("12w", dt.date(2024, 5, 31), dt.date(2024, 8, 23)),
    ("3m", dt.date(2024, 11, 30), dt.date(2025, 2, 28)),  # the 30th becomes February's last day
    ("1M", dt.date(2024, 1, 31), dt.date(2024, 2, 29)),
    # Years are 12 calendar months, as for clv (one `parse_horizon` for every --horizon).
    ("1y", dt.date(2024, 5, 31), dt.date(2025, 5, 31)),
    ("1y", dt.date(2024, 2, 29), dt.date(2025, 2, 28)),  # no 29 February in 2025
    ("2Y", dt.date(2023, 12, 31), dt.date(2025, 12, 31)),
])
def test_horizon_shift(spec: str, start: dt.date, end: dt.date) -> None:
    assert shift(start, spec) == end


def test_one_year_horizon_back_and_forth_is_twelve_months() -> None:
    assert shift(dt.date(2025, 3, 31), "1y", sign=-1) == dt.date(2024, 3, 31) == shift(dt.date(2025, 3, 31), "12m", sign=-1)
    assert parse_horizon("1y").length("month") == 12


@pytest.mark.parametrize("spec", ["90", "0d", "3x", "d90", "1.5m", ""])
def test_bad_horizon(spec: str) -> None:
    with pytest.raises(ConfigError, match="is not a whole number of days, weeks, months or years"):
        parse_horizon(spec)


def test_no_leakage_from_after_the_cutoff(sim_files: tuple[Path, pl.DataFrame]) -> None:
    """Features at a cutoff from all the data equal those from the data up to the cutoff only."""
    cutoff = dt.date(2024, 3, 31)
    tx_all = load(sim_files[0])
    tx_cut = load(sim_files[0], as_of=cutoff + dt.timedelta(days=1))
    assert tx_all.lf.select(pl.col("date").max()).collect().item() > cutoff  # there is data after it
    got = [churn_features(t, cutoff, engine=DEFAULT_ENGINE).frame for t in (tx_all, tx_cut)]
    assert "p_alive" in got[0].columns
    assert_frame_equal(got[0], got[1])


def side_inputs(after: bool) -> ChurnInputs:
    """Surveys, campaigns and customers for A, B and C; with `after`, more rows dated after the cutoff."""
    later = dt.date(2024, 6, 10)
    surveys = pl.DataFrame({"customer_id": ["A", "A", "B"], "date": [dt.date(2024, 2, 1), dt.date(2024, 4, 1), dt.date(2024, 5, 25)],
                            "nps": [9.0, 3.0, None], "csat": [5.0, None, 2.0]})
    campaigns = pl.DataFrame({"campaign_id": ["c1", "c2", "c1"], "customer_id": ["A", "A", "C"], "variant": ["x"] * 3,
                              "sent_at": [dt.date(2024, 3, 1), dt.date(2024, 4, 1), dt.date(2024, 3, 1)],
                              "opened": [True, False, True], "clicked": [False, False, True]})
    customers = pl.DataFrame({"customer_id": ["A", "B", "C"], "loyalty_member": [True, True, False],
                              "enrollment_date": [dt.date(2024, 1, 5), dt.date(2024, 7, 1), None], "tier": ["gold", "silver", None]})
    if after:
        surveys = pl.concat([surveys, pl.DataFrame({"customer_id": ["A"], "date": [later], "nps": [10.0], "csat": [1.0]})])
        campaigns = pl.concat([campaigns, pl.DataFrame({"campaign_id": ["c3"], "customer_id": ["B"], "variant": ["x"], "sent_at": [later],
                                                        "opened": [True], "clicked": [True]})])
    return ChurnInputs(customers=customers.lazy(), surveys=surveys.lazy(), campaigns=campaigns.lazy())


def test_side_features_by_hand_and_without_leakage(tiny: Path) -> None:
    before = features_at(tiny, C, side_inputs(after=False))
    after = features_at(tiny, C, side_inputs(after=True))
    assert_frame_equal(before, after)
    # A: latest NPS is 3 (Apr 1), latest CSAT 5 (Feb 1; the Apr answer has none); 2 campaigns, 1 opened.
    # B: enrolled on Jul 1, after the cutoff: not yet a member, and its tier does not count.
    expected = pl.DataFrame({
        "customer_id": ["A", "B", "C"],
        "last_nps": [3.0, None, None], "last_csat": [5.0, 2.0, None],
        "campaigns_received": [2, 0, 1], "campaigns_opened": [1, 0, 1], "campaigns_clicked": [0, 0, 1],
        "open_rate": [0.5, None, 1.0],
        "loyalty_member": [1, 0, 0], "tier_gold": [1, 0, 0], "tier_silver": [0, 0, 0],
    })
    assert_frame_equal(before.select(expected.columns), expected, check_dtypes=False)


def test_long_survey_format() -> None:
    surveys = pl.LazyFrame({"customer_id": ["A", "A"], "date": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)],
                            "type": ["NPS", "ces"], "score": [8.0, 6.0]})
    from fidelcli.churn.features import survey_features

    got = survey_features(surveys, C).collect()  # type: ignore[union-attr]
    expected = pl.DataFrame({"customer_id": ["A"], "last_nps": [8.0], "last_csat": [None], "last_ces": [6.0]},
                            schema_overrides={"last_csat": pl.Float64})
    assert_frame_equal(got, expected)


def test_subscription_features_by_hand(tiny: Path) -> None:
    subs = pl.DataFrame({
        "customer_id": ["A", "A", "B", "C"],
        "start_date": [dt.date(2024, 1, 1), dt.date(2024, 4, 1), dt.date(2024, 2, 1), dt.date(2024, 6, 15)],
        "end_date": [dt.date(2024, 3, 1), None, dt.date(2024, 7, 1), None],
        "price": [9.9, 19.9, 9.9, 5.0],
    })
    got = features_at(tiny, C, ChurnInputs(subscriptions=subs.lazy()))
    # A: one ended on Mar 1, one active since Apr 1 (60 days before May 31) at 19.9.
    # B: ends on Jul 1, after the cutoff, so it is still active at the cutoff (since Feb 1: 120 days).
    # C: starts after the cutoff: unknown yet -> not subscribed.
    expected = pl.DataFrame({
        "customer_id": ["A", "B", "C"], "subscribed": [1, 1, 0], "subscription_days": [60, 120, None],
        "subscriptions_ended": [1, 0, 0], "subscription_price": [19.9, 9.9, None],
    })
    assert_frame_equal(got.select(expected.columns), expected, check_dtypes=False)


def test_spread_and_money_come_from_exact_integer_sums() -> None:
    from fidelcli.engine.polars_churn import purchase_features

    # D: occasions on Jan 1, Jan 11, Jan 31 and Mar 31 2024 (gaps 10, 20, 60 days: leap February) of 0.10, 0.20,
    # 0.10 and 0.20: gaps n = 3, S1 = 90, S2 = 100 + 400 + 3600 = 4100 -> variance
    # (3 x 4100 - 90^2) / (3 x 2) = 4200 / 6 = 700 (= ((-20)^2 + (-10)^2 + 30^2) / 2), spread sqrt(700).
    # Money is summed in cents: 60 cents -> 0.6 exactly (the float sum 0.1 + 0.2 + 0.1 + 0.2 is
    # 0.6000000000000001); average order 0.6 / 4 = 0.15.
    days = [dt.date(2024, 1, 1), dt.date(2024, 1, 11), dt.date(2024, 1, 31), dt.date(2024, 3, 31)]
    occ = pl.LazyFrame({"customer_id": ["D"] * 4, "date": days, "value_cents": [10, 20, 10, 20]})
    got = purchase_features(occ, C).collect().row(0, named=True)
    assert got["ipt_std_days"] == 700 ** 0.5 and got["ipt_mean_days"] == 30.0
    assert got["monetary"] == 0.6 and got["avg_order_value"] == 0.15 and 0.1 + 0.2 + 0.1 + 0.2 != 0.6
    assert got["spend_90d"] == 0.2 and got["spend_prev_90d"] == 0.4  # Mar 31 is 61 days before May 31; Jan 1..31 are 151..121
