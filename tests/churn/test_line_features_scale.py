"""The churn line features at scale (`engine.polars_churn.line_features`): one streaming group-by with
one flag per category, and the distinct-pairs count beyond `MAX_FLAGGED_LEVELS` categories, give the
same counts as counting by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from fidelcli.engine import polars_churn

LINES = pl.DataFrame({
    "customer_id": ["a", "a", "a", "a", "b", "b", "c"],
    "date": [dt.date(2024, 1, d) for d in (1, 2, 3, 9)] + [dt.date(2024, 1, 1)] * 2 + [dt.date(2024, 1, 2)],
    "amount": [10.0, 20.0, -5.0, 7.0, 8.0, 4.0, -3.0],
    "is_return": [False, False, True, False, False, False, True],
    "category": ["x", "y", "z", "w", "x", None, "x"],
    "channel": ["web", "web", "store", "app", None, None, "web"],
})


@pytest.mark.parametrize("levels", [256, 1])  # flags, then the distinct-pairs fallback
def test_counts_and_returns_share_by_hand(levels: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polars_churn, "MAX_FLAGGED_LEVELS", levels)
    plan = polars_churn.line_features(LINES.lazy(), dt.date(2024, 1, 5))
    assert plan is not None
    out = plan.collect(engine="streaming").sort("customer_id")
    # Up to 5 January (a's line of the 9th is out):
    # a: bought 10 + 20 = 30, returned 5 -> 5/30; purchase categories {x, y} (z is a return), channels {web}
    # b: bought 12, no return -> 0; categories {x} (a null is no category), channels none
    # c: only a return: no purchase amount -> null share, 0 categories, 0 channels
    assert out["customer_id"].to_list() == ["a", "b", "c"]
    shares = out["returns_share"].to_list()
    assert shares[0] == pytest.approx(5 / 30) and shares[1] == 0.0 and shares[2] is None
    assert out["n_categories"].to_list() == [2, 1, 0]
    assert out["n_channels"].to_list() == [1, 0, 0]
