"""Drivers in plain words and risk bands."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from churn_data import CDNOW, load
from polars.testing import assert_frame_equal

from fidelcli.churn import check_bands, churn_drivers, score_churn, train_churn
from fidelcli.churn.score import _band_expr, high_risk
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import ConfigError


def test_drivers_by_hand() -> None:
    features = pl.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "frequency": [5, 1, 3, 4, 6],
        "recency_days": [90, 120, 10, 100, 10],
        "recency_ratio": [3.0, None, 0.5, 1.0, 0.3],
        "orders_90d": [0, 1, 2, 1, 1],
        "orders_prev_90d": [2, 0, 1, 1, 3],
        "spend_90d": [0.0, 50.0, 40.0, 20.0, 100.0],
        "spend_prev_90d": [200.0, 0.0, 30.0, 50.0, 100.0],
        "p_alive": [0.2, 1.0, 0.9, 0.6, 0.9],
        "last_nps": [9.0, None, 2.0, None, None],
    })
    got = churn_drivers(features).collect()
    # a: ratio 3.0 / 1.5 = 2.0; spend drop 100 % / 40 % = 2.5; orders (2 - 0) / 2 / 0.5 = 2.0;
    #    P(alive) (1 - 0.2) / 0.5 = 1.6 -> spend 2.5, then recency ratio and orders tie at 2.0 (rule order)
    # b: one purchase 120 days ago -> 120 / 60 = 2.0; nothing else applies
    # c: NPS 2 -> (7 - 2) / 2 = 2.5; spend and orders went up
    # d: 100 days, ratio 1.0 < 1.5 -> 100 / 120 = 0.83; spend drop 60 % / 40 % = 1.5
    # e: orders (3 - 1) / 3 / 0.5 = 1.33, spend flat
    expected = pl.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "driver_1": ["spend down 100% vs previous 90 days", "only one purchase, 120 days ago",
                     "detractor: latest NPS answer 2", "spend down 60% vs previous 90 days",
                     "1 order in the last 90 days vs 3 in the 90 before"],
        "driver_2": ["no purchase for 3.0× their usual interval", None, None, "no purchase for 100 days", None],
        "driver_3": ["0 orders in the last 90 days vs 2 in the 90 before", None, None, None, None],
    })
    assert_frame_equal(got, expected)


def test_high_risk_customers_without_a_sign_get_their_purchase_rhythm() -> None:
    features = pl.DataFrame({
        "customer_id": ["new", "slow", "slow-low-risk", "lapsed", "no-interval"],
        "frequency": [1, 2, 2, 1, 3],
        "recency_days": [12, 27, 27, 120, 5],
        "tenure_days": [12, 326, 326, 120, 40],
        "ipt_mean_days": [None, 299.0, 299.0, None, None],
        "recency_ratio": [None, 27 / 299, 27 / 299, None, None],
    })
    got = churn_drivers(features, required=pl.Series([True, True, False, True, True])).collect()
    expected = pl.DataFrame({
        "customer_id": ["new", "slow", "slow-low-risk", "lapsed", "no-interval"],
        # no sign applies: one purchase < 30 days ago, several purchases within their usual interval
        "driver_1": ["only one purchase so far, 12 days ago",
                     "2 purchases in 326 days (one every 299 days on average), the last 27 days ago",
                     None,  # not at high risk: no driver rather than a description
                     "only one purchase, 120 days ago",  # a sign applies: the rhythm is not added
                     "3 purchases in 40 days, the last 5 days ago"],
        "driver_2": [None] * 5,
        "driver_3": [None] * 5,
    }, schema_overrides={"driver_2": pl.String, "driver_3": pl.String})
    assert_frame_equal(got, expected)


@pytest.mark.parametrize(("bands", "lowest"), [
    ([0.3, 0.6], 0.6), ([0.2, 0.5, 0.8], 0.5), ({"calm": 0.0, "alert": 0.8}, 0.8), ([0.5], 0.5),
])
def test_high_risk_is_the_high_band_and_above(bands: object, lowest: float) -> None:
    assert high_risk(check_bands(bands)) == lowest  # type: ignore[arg-type]


@pytest.mark.slow
def test_every_high_band_customer_has_a_driver() -> None:
    """CDNOW: 84 % churn within 90 days, so steady customers who rarely buy are at high risk without any warning sign."""
    if CDNOW is None:
        pytest.skip("CDNOW data not available")
    tx = load(CDNOW)
    model = train_churn(tx, engine=DEFAULT_ENGINE, data_end=tx.as_of - dt.timedelta(days=1), cutoff=dt.date(1997, 12, 31), seed=0).model
    scored = score_churn(load(CDNOW, as_of=dt.date(1998, 1, 1)), model, engine=DEFAULT_ENGINE, cutoff=dt.date(1997, 12, 31)).frame
    high = scored.filter(pl.col("risk_band") == "high")
    assert high.height > 1000 and high["driver_1"].null_count() == 0
    # not vacuous: some of them have no warning sign, and get their purchase rhythm
    rhythm = high.filter(pl.col("driver_1").str.contains(r"^\d+ purchases in \d+ days|^only one purchase so far"))
    assert rhythm.height > 50 and rhythm["driver_2"].null_count() == rhythm.height
    # below the high band a customer with no sign keeps no driver
    assert scored.filter(pl.col("risk_band") != "high")["driver_1"].null_count() > 0


def test_drivers_without_any_sign_column() -> None:
    got = churn_drivers(pl.DataFrame({"customer_id": ["a"], "tenure_days": [3]})).collect()
    assert got.to_dicts() == [{"customer_id": "a", "driver_1": None, "driver_2": None, "driver_3": None}]


@pytest.mark.parametrize(("spec", "expected"), [
    ([0.3, 0.6], {"low": 0.0, "medium": 0.3, "high": 0.6}),
    ([0.5], {"low": 0.0, "high": 0.5}),
    ({"watch": 0.2, "ok": 0, "act": 0.7}, {"ok": 0.0, "watch": 0.2, "act": 0.7}),
])
def test_bands(spec: object, expected: dict[str, float]) -> None:
    assert check_bands(spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", [[0.6, 0.6], [1.2], {"low": 0.1, "high": 0.5}, [0.1, 0.2, 0.3, 0.4]])
def test_bad_bands(spec: object) -> None:
    with pytest.raises(ConfigError):
        check_bands(spec)  # type: ignore[arg-type]


def test_band_edges_are_left_closed() -> None:
    bands = check_bands([0.3, 0.6])
    got = pl.DataFrame({"p": [0.0, 0.2999, 0.3, 0.6, 1.0]}).select(_band_expr(pl.col("p"), bands).alias("band"))
    assert got["band"].to_list() == ["low", "low", "medium", "high", "high"]
