"""RFM scores, segments and summary pinned on the hand-computed TINY log (see analyses_data.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from analyses_data import TINY_AS_OF
from polars.testing import assert_frame_equal

from fidelcli.analyses.rfm import rfm, rfm_summary
from fidelcli.analyses.segments import DEFAULT_SEGMENTS, segment_grid, validate_segments
from fidelcli.config import RfmThresholds, Segment
from fidelcli.errors import ConfigError, InputError
from fidelcli.summary import DEFAULT_ENGINE

D = dt.date.fromisoformat


def _summary(lf: pl.LazyFrame) -> pl.DataFrame:
    return DEFAULT_ENGINE.customer_summary(lf)


def test_rfm_tiny_quantile_scores(tiny):
    result = rfm(_summary(tiny), as_of=TINY_AS_OF)
    # n = 4 scored customers (E has only a return). score = 1 + floor(5 * (rank_min - 1) / 4).
    # recency (days to 2024-01-11): A 1, B 1, C 8, D 5; better = fewer days, ranks on -recency:
    #   C rank 1 -> 1; D rank 2 -> 1 + floor(5/4) = 2; A, B tie at rank 3 -> 1 + floor(10/4) = 3.
    # frequency: A 3, B 2, C 1, D 1: C, D rank 1 -> 1; B rank 3 -> 3; A rank 4 -> 1 + floor(15/4) = 4.
    # monetary (cents): A 6000, B 6000, C 10000 - 2500 = 7500, D 500:
    #   D rank 1 -> 1; A, B rank 2 -> 2; C rank 4 -> 4.
    # tenure: A 11 - 1 = 10, B 9, C 8, D 5.
    # segments: A R3 F4 Loyal Customers; B R3 F3 Need Attention; C R1 F1, D R2 F1 Hibernating.
    segs = {s.name: s.action for s in DEFAULT_SEGMENTS}
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "recency": [1, 1, 8, 5],
            "frequency": [3, 2, 1, 1],
            "monetary": [60.0, 60.0, 75.0, 5.0],
            "first_purchase": [D("2024-01-01"), D("2024-01-02"), D("2024-01-03"), D("2024-01-06")],
            "last_purchase": [D("2024-01-10"), D("2024-01-10"), D("2024-01-03"), D("2024-01-06")],
            "tenure": [10, 9, 8, 5],
            "r_score": [3, 3, 1, 2],
            "f_score": [4, 3, 1, 1],
            "m_score": [2, 2, 4, 1],
            "rfm_score": ["342", "332", "114", "211"],
            "segment": ["Loyal Customers", "Need Attention", "Hibernating", "Hibernating"],
            "action": [segs["Loyal Customers"], segs["Need Attention"], segs["Hibernating"], segs["Hibernating"]],
        },
        schema_overrides={"r_score": pl.Int8, "f_score": pl.Int8, "m_score": pl.Int8},
    )
    assert_frame_equal(result.customers, expected)
    assert result.warnings == ["1 customers with only returns (no purchase) are left out of the RFM"]


def test_rfm_thresholds_report_quantile_ranges(tiny):
    result = rfm(_summary(tiny), as_of=TINY_AS_OF)
    rec = result.thresholds.filter(pl.col("metric") == "recency")
    # recency scores: 1 <- C (8 days), 2 <- D (5), 3 <- A, B (1), 4 and 5 empty.
    expected = pl.DataFrame(
        {
            "metric": ["recency"] * 5,
            "method": ["quantile"] * 5,
            "score": [1, 2, 3, 4, 5],
            "customers": [1, 1, 2, 0, 0],
            "min": [8.0, 5.0, 1.0, None, None],
            "max": [8.0, 5.0, 1.0, None, None],
            "lower": [8.0, 5.0, 1.0, None, None],
            "upper": [8.0, 5.0, 1.0, None, None],
        },
        schema_overrides={"score": pl.Int8},
    )
    assert_frame_equal(rec, expected)


def test_rfm_average_monetary(tiny):
    result = rfm(_summary(tiny), as_of=TINY_AS_OF, monetary="average")
    # average per occasion: A 60/3 = 20, B 60/2 = 30, C 75/1, D 5/1 -> ranks D1 A2 B3 C4
    # m = 1 + floor(5 * (rank - 1) / 4): D 1, A 2, B 3, C 4.
    got = result.customers.select("customer_id", "monetary", "m_score")
    expected = pl.DataFrame(
        {"customer_id": ["A", "B", "C", "D"], "monetary": [20.0, 30.0, 75.0, 5.0], "m_score": [2, 3, 4, 1]},
        schema_overrides={"m_score": pl.Int8},
    )
    assert_frame_equal(got, expected)


def test_rfm_fixed_thresholds_and_custom_map(tiny):
    thresholds = RfmThresholds(recency=[3, 7], frequency=[2, 3], monetary=[50, 70])
    grid3 = [
        Segment(name="Top", r=[3], f=[2, 3], action="thank"),
        Segment(name="Rest", label_fr="Autres", r=[1, 2], f=[1, 2, 3], action="wait", action_fr="attendre"),
        Segment(name="Fresh", r=[3], f=[1], action="welcome"),
    ]
    result = rfm(_summary(tiny), as_of=TINY_AS_OF, bins=3, thresholds=thresholds, segments=grid3, lang="fr")
    # recency <= 3 -> 3, 3 < r <= 7 -> 2, > 7 -> 1: A 1 -> 3, B 1 -> 3, C 8 -> 1, D 5 -> 2
    # frequency >= 3 -> 3, >= 2 -> 2, else 1: A 3, B 2, C 1, D 1
    # monetary >= 70 -> 3, >= 50 -> 2, else 1: A 60 -> 2, B 60 -> 2, C 75 -> 3, D 5 -> 1
    got = result.customers.select("customer_id", "r_score", "f_score", "m_score", "rfm_score", "segment", "action")
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "r_score": [3, 3, 1, 2], "f_score": [3, 2, 1, 1], "m_score": [2, 2, 3, 1],
            "rfm_score": ["332", "322", "113", "211"],
            "segment": ["Top", "Top", "Autres", "Autres"],
            "action": ["thank", "thank", "attendre", "attendre"],
        },
        schema_overrides={"r_score": pl.Int8, "f_score": pl.Int8, "m_score": pl.Int8},
    )
    assert_frame_equal(got, expected)
    rec = result.thresholds.filter(pl.col("metric") == "recency").select("method", "score", "customers", "lower", "upper")
    # score 1: (7, inf), score 2: (3, 7], score 3: (-inf, 3]
    assert rec.rows() == [("fixed", 1, 1, 7.0, None), ("fixed", 2, 1, 3.0, 7.0), ("fixed", 3, 2, None, 3.0)]
    assert result.segment_names == ["Top", "Autres", "Fresh"]


def test_rfm_other_bins_without_map_has_no_segment(tiny):
    result = rfm(_summary(tiny), as_of=TINY_AS_OF, bins=3)
    assert result.customers.get_column("segment").null_count() == 4
    assert result.warnings[0].startswith("segments are defined on a 5 x 5 grid: with --bins 3")


def test_rfm_summary_tiny(tiny):
    summary = rfm_summary(rfm(_summary(tiny), as_of=TINY_AS_OF))
    # total revenue 60 + 60 + 75 + 5 = 200. Loyal: A (60 -> 0.3); Need Attention: B (60 -> 0.3);
    # Hibernating: C, D (80 -> 0.4), mean recency (8 + 5) / 2 = 6.5, mean monetary (75 + 5) / 2 = 40.
    names = [s.name for s in DEFAULT_SEGMENTS]
    assert summary.get_column("segment").to_list() == names
    got = summary.filter(pl.col("customers") > 0)
    expected = pl.DataFrame(
        {
            "segment": ["Loyal Customers", "Need Attention", "Hibernating"],
            "customers": [1, 1, 2],
            "share": [0.25, 0.25, 0.5],
            "revenue": [60.0, 60.0, 80.0],
            "revenue_share": [0.3, 0.3, 0.4],
            "recency": [1.0, 1.0, 6.5],
            "frequency": [3.0, 2.0, 1.0],
            "monetary": [60.0, 60.0, 40.0],
        }
    )
    assert_frame_equal(got, expected)
    empty = summary.filter(pl.col("customers") == 0)
    assert empty.height == 7
    assert empty.get_column("revenue").to_list() == [0.0] * 7


def test_default_map_is_a_partition_of_the_5x5_grid():
    grid = segment_grid(DEFAULT_SEGMENTS, 5)
    assert grid.height == 25
    assert grid.select("r_score", "f_score").unique().height == 25
    # Spot checks from the map.
    cell = {(r, f): s for r, f, s in grid.select("r_score", "f_score", "segment").iter_rows()}
    assert cell[(5, 5)] == "Champions" and cell[(5, 1)] == "New Customers" and cell[(4, 1)] == "Promising"
    assert cell[(1, 5)] == "Can't Lose Them" and cell[(2, 4)] == "At Risk" and cell[(3, 3)] == "Need Attention"
    assert cell[(3, 2)] == "About to Sleep" and cell[(4, 3)] == "Potential Loyalists" and cell[(3, 5)] == "Loyal Customers"
    fr = segment_grid(DEFAULT_SEGMENTS, 5, lang="fr")
    assert fr.filter((pl.col("r_score") == 5) & (pl.col("f_score") == 1)).get_column("segment").item() == "Nouveaux clients"


def test_incomplete_map_is_an_error():
    partial = [Segment(name="Top", r=[5], f=[1, 2, 3, 4, 5]), Segment(name="Low", r=[1, 2, 3], f=[1, 2, 3, 4, 5])]
    with pytest.raises(ConfigError) as err:
        validate_segments(partial, 5)
    assert str(err.value) == "the segment map does not cover 5 of the 25 (R, F) cells: R4F1, R4F2, R4F3, R4F4, R4F5"


def test_overlapping_map_is_an_error():
    overlap = [Segment(name="X", r=[1, 2], f=[1, 2]), Segment(name="Y", r=[2], f=[2])]
    with pytest.raises(ConfigError, match=r"^the segment map covers 1 cell\(s\) twice: R2F2 \('X' and 'Y'\)$"):
        validate_segments(overlap, 2)


def test_out_of_range_score_in_map_is_an_error():
    with pytest.raises(ConfigError, match=r"^segment 'X' uses score 6, outside 1..5$"):
        validate_segments([Segment(name="X", r=[6], f=[1])], 5)


def test_bad_thresholds_are_errors(tiny):
    with pytest.raises(ConfigError, match=r"^\[rfm.thresholds\] recency has 2 cut points; 5 scores need 4$"):
        rfm(_summary(tiny), as_of=TINY_AS_OF, thresholds=RfmThresholds(recency=[1, 2]))
    with pytest.raises(ConfigError, match="not strictly ascending"):
        rfm(_summary(tiny), as_of=TINY_AS_OF, thresholds=RfmThresholds(frequency=[1, 3, 2, 4]))


def test_only_returns_is_an_error():
    from analyses_data import tx_frame

    lf = tx_frame([("E", "2024-01-07", -10.0, True)])
    with pytest.raises(InputError, match="^no customer with a purchase to score$"):
        rfm(_summary(lf), as_of=TINY_AS_OF)


def test_scores_reach_5_with_5_distinct_customers():
    from analyses_data import tx_frame

    # 5 customers with 1..5 purchases: frequency ranks 1..5 -> 1 + floor(5 * (rank - 1) / 5) = rank.
    rows = [(c, f"2024-01-0{d}", 10.0, False) for i, c in enumerate("PQRST") for d in range(1, i + 2)]
    result = rfm(_summary(tx_frame(rows)), as_of=TINY_AS_OF)
    assert result.customers.get_column("f_score").to_list() == [1, 2, 3, 4, 5]
