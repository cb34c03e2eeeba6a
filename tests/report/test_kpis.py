"""--fail-on thresholds, --compare-to deltas and the segment migration matrix, by hand."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.errors import ConfigError
from fidelcli.report.kpis import changes, migration_matrix, parse_threshold, resolve_key, tripped

FIGURES = {"rfm.customers": 200, "kpi.revenue": 1000.0, "kpi.revenue.delta_pct": -12.5, "kpi.churn_rate": 0.35,
           "validation.error": 0, "kpi.nps": None, "kpi.period": "month"}


def test_parse_threshold_forms() -> None:
    assert parse_threshold("kpi.churn_rate>0.3").op == ">"
    th = parse_threshold(" revenue.delta_pct <= -10 ")
    assert (th.key, th.op, th.value) == ("revenue.delta_pct", "<=", -10.0)
    with pytest.raises(ConfigError, match="is not KEY OP NUMBER"):
        parse_threshold("churn_rate > high")


def test_tripped_by_hand() -> None:
    ths = [parse_threshold(t) for t in ("churn_rate>0.3", "validation.error>0", "revenue.delta_pct<-10", "rfm.customers>=201", "nps<20")]
    hits, unknown = tripped(ths, FIGURES)
    # 0.35 > 0.3 trips; 0 > 0 does not; -12.5 < -10 trips; 200 >= 201 does not; nps is unknown (null).
    assert hits == ["churn_rate>0.3: kpi.churn_rate = 0.35", "revenue.delta_pct<-10: kpi.revenue.delta_pct = -12.5"]
    assert unknown == ["nps<20: kpi.nps is unknown in this run"]


def test_unknown_key_names_the_closest() -> None:
    with pytest.raises(ConfigError, match="unknown figure 'rfm.custmers'") as exc:
        resolve_key("rfm.custmers", FIGURES)
    assert exc.value.hint is not None and "'rfm.customers'" in exc.value.hint
    # A suffix naming several figures is refused, not guessed.
    with pytest.raises(ConfigError, match="names several figures"):
        resolve_key("revenue", {"kpi.revenue": 1.0, "clv.revenue": 2.0})


def test_changes_by_hand() -> None:
    previous = {"rfm.customers": 180, "kpi.revenue": 1250.0, "kpi.churn_rate": 0.35, "kpi.nps": 30.0, "kpi.period": "month"}
    got = changes({"rfm.customers": 200, "kpi.revenue": 1000.0, "kpi.churn_rate": 0.35, "kpi.nps": None, "kpi.period": "month"}, previous)
    assert got == {
        "rfm.customers.change": 20.0, "rfm.customers.change_pct": pytest.approx(20 / 180 * 100),  # 11.11 %
        "kpi.revenue.change": -250.0, "kpi.revenue.change_pct": -20.0,  # -250 / 1250
        "kpi.churn_rate.change": 0.0, "kpi.churn_rate.change_pct": 0.0,
        "kpi.nps.change": None, "kpi.nps.change_pct": None,  # unknown now: no delta, never 0
    }


def test_migration_matrix_by_hand() -> None:
    previous = pl.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["Champions", "Champions", "At Risk", "At Risk"]})
    current = pl.DataFrame({"customer_id": ["a", "b", "c", "e"], "segment": ["Champions", "At Risk", "At Risk", "Champions"]})
    got = migration_matrix(previous, current, order=["Champions", "At Risk"])
    # a stays, b moves down, c stays, d is gone, e is new.
    expected = pl.DataFrame({"previous_segment": ["Champions", "At Risk", "(new)"], "Champions": [1, 0, 1], "At Risk": [1, 1, 0],
                             "(gone)": [0, 1, 0]})
    assert_frame_equal(got, expected)
