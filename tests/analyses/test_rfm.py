"""RFM scores, segments and summary pinned on the hand-computed TINY log (see analyses_data.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from analyses_data import TINY_AS_OF, cleaned
from polars.testing import assert_frame_equal

from fidelcli.analyses.rfm import rfm, rfm_summary
from fidelcli.analyses.segments import DEFAULT_SEGMENTS, default_segment_grid, scale_score, segment_grid, validate_segments
from fidelcli.config import RfmThresholds, Segment
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import ConfigError, InputError

D = dt.date.fromisoformat


def _summary(lf: pl.LazyFrame) -> pl.DataFrame:
    return DEFAULT_ENGINE.customer_summary(cleaned(lf))


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


def test_rfm_bins_4_fills_segments(tiny):
    # Issue 11 item 7 (with --bins 4 every segment was empty). n = 4: score = 1 + floor(4 (rank - 1) / 4)
    # = rank_min. R: C 1, D 2, A and B 3; F: C and D 1, B 3, A 4. 4-bin scores read as 5-bin ones:
    # 1 -> 1, 2 -> 2, 3 -> 4, 4 -> 5 (the 5-bin band holding the middle of the band: 1 + floor(5 (s - 1/2) / 4)).
    # A (R4, F5) and B (R4, F4): Loyal Customers; C (R1, F1) and D (R2, F1): Hibernating.
    result = rfm(_summary(tiny), as_of=TINY_AS_OF, bins=4)
    got = result.customers.select("customer_id", "r_score", "f_score", "segment")
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"], "r_score": [3, 3, 1, 2], "f_score": [4, 3, 1, 1],
            "segment": ["Loyal Customers", "Loyal Customers", "Hibernating", "Hibernating"],
        },
        schema_overrides={"r_score": pl.Int8, "f_score": pl.Int8},
    )
    assert_frame_equal(got, expected)
    assert result.notes == ["segments: the default 5 x 5 map, with the 4 scores read as 5-bin scores (1 -> 1, 2 -> 2, 3 -> 4, 4 -> 5)"]
    assert result.warnings == ["1 customers with only returns (no purchase) are left out of the RFM"]


@pytest.mark.parametrize("bins", range(2, 11))
def test_every_customer_gets_a_segment_for_bins_2_to_10(bins):
    from analyses_data import tx_frame

    # 60 customers with 1..12 purchases ending on different days: every score of every bin count is used.
    rows = [(f"c{i:02d}", (D("2024-01-01") + dt.timedelta(days=i + k)).isoformat(), 10.0 + i, False)
            for i in range(60) for k in range(1 + i % 12)]
    result = rfm(_summary(tx_frame(rows)), as_of=D("2024-04-01"), bins=bins)
    df = result.customers
    assert df.get_column("segment").null_count() == 0 and df.get_column("action").null_count() == 0
    assert set(df.get_column("segment")) <= {s.name for s in DEFAULT_SEGMENTS}
    grid = default_segment_grid(bins)
    assert grid.height == bins * bins and grid.get_column("segment").null_count() == 0


def test_bins_5_gives_exactly_the_default_map():
    # The scaled map at 5 bins is the map itself (score s -> s), cell by cell.
    assert [scale_score(s, 5) for s in range(1, 6)] == [1, 2, 3, 4, 5]
    cells = ["r_score", "f_score"]
    assert_frame_equal(default_segment_grid(5).sort(cells), segment_grid(DEFAULT_SEGMENTS, 5).sort(cells))
    assert_frame_equal(default_segment_grid(5, lang="fr").sort(cells), segment_grid(DEFAULT_SEGMENTS, 5, lang="fr").sort(cells))
    # From 3 bins on, the worst and best scores are the 5-bin 1 and 5; 2 bins are the 5-bin 2 and 4.
    assert {b: (scale_score(1, b), scale_score(b, b)) for b in range(2, 11)} == {2: (2, 4), **{b: (1, 5) for b in range(3, 11)}}
    assert [scale_score(s, 10) for s in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_no_money_column_gives_null_monetary_and_no_m_score(tiny):
    # Issue 11 item 1: the TINY log without amounts. Recency and frequency scores as in
    # test_rfm_tiny_quantile_scores; monetary is unknown (null, not 0), there is no M score, rfm_score
    # is R and F, and the segments (from R and F) are the same.
    result = rfm(_summary(tiny.drop("amount")), as_of=TINY_AS_OF)
    df = result.customers
    assert "m_score" not in df.columns
    assert df.select("customer_id", "monetary", "rfm_score", "segment").rows() == [
        ("A", None, "34", "Loyal Customers"), ("B", None, "33", "Need Attention"),
        ("C", None, "11", "Hibernating"), ("D", None, "21", "Hibernating"),
    ]
    assert not result.has_money
    assert result.warnings[-1].startswith("no amount column: monetary value is unknown (empty), so there is no M score")
    assert result.thresholds.get_column("metric").unique(maintain_order=True).to_list() == ["recency", "frequency"]
    summary = rfm_summary(result)
    hib = summary.filter(pl.col("segment") == "Hibernating").row(0, named=True)
    assert hib == {"segment": "Hibernating", "customers": 2, "share": 0.5, "revenue": None, "revenue_share": None,
                   "recency": 6.5, "frequency": 1.0, "monetary": None}
    assert summary.select("revenue", "revenue_share", "monetary").null_count().row(0) == (10, 10, 10)


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
