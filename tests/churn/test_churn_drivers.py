"""Drivers in plain words and risk bands."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.churn import check_bands, churn_drivers
from fidelcli.churn.score import _band_expr
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
