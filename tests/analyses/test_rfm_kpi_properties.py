"""Hypothesis properties of rfm, kpi and cohorts: row order never matters, ties share scores,
segments partition the customers."""

from __future__ import annotations

import datetime as dt

import polars as pl
from analyses_data import cleaned, tx_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from fidelcli.analyses.rfm import rfm, rfm_summary
from fidelcli.engine import DEFAULT_ENGINE

AS_OF = dt.date(2024, 4, 1)

# A row: customer among 8, a day in Jan-Mar 2024, an amount in cents (returns are negative).
row = st.tuples(
    st.sampled_from("abcdefgh"),
    st.integers(min_value=0, max_value=90),
    st.integers(min_value=1, max_value=5000),
    st.booleans(),
)
logs = st.lists(row, min_size=1, max_size=40)
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rows(raw: list[tuple[str, int, int, bool]]) -> list[tuple[str, str, float, bool]]:
    start = dt.date(2024, 1, 1)
    return [
        (c, (start + dt.timedelta(days=d)).isoformat(), (-cents if ret else cents) / 100, ret) for c, d, cents, ret in raw
    ]


def _has_purchase(raw: list[tuple[str, int, int, bool]]) -> bool:
    return any(not ret for *_, ret in raw)


@PROPS
@given(raw=logs, seed=st.integers(min_value=0, max_value=2**32 - 1), bins=st.sampled_from([3, 5]))
def test_rfm_never_depends_on_row_order(raw, seed, bins):
    if not _has_purchase(raw):
        return
    lf = tx_frame(_rows(raw))
    shuffled = lf.collect().sample(fraction=1.0, shuffle=True, seed=seed).lazy()
    a = rfm(DEFAULT_ENGINE.customer_summary(cleaned(lf)), as_of=AS_OF, bins=bins)
    b = rfm(DEFAULT_ENGINE.customer_summary(cleaned(shuffled)), as_of=AS_OF, bins=bins)
    assert_frame_equal(a.customers, b.customers)
    assert_frame_equal(a.thresholds, b.thresholds)
    if bins == 5:
        assert_frame_equal(rfm_summary(a), rfm_summary(b))


@PROPS
@given(raw=logs, monetary=st.sampled_from(["total", "average"]))
def test_equal_values_get_equal_scores_and_segments_partition(raw, monetary):
    if not _has_purchase(raw):
        return
    result = rfm(DEFAULT_ENGINE.customer_summary(cleaned(tx_frame(_rows(raw)))), as_of=AS_OF, monetary=monetary)
    df = result.customers
    for value, score in (("recency", "r_score"), ("frequency", "f_score"), ("monetary", "m_score")):
        assert df.group_by(value).agg(pl.col(score).n_unique()).get_column(score).max() == 1
        # Better values never get lower scores (recency: fewer days is better).
        ordered = df.sort(value, descending=value == "recency").get_column(score)
        assert ordered.is_sorted()
    assert df.get_column("segment").null_count() == 0
    summary = rfm_summary(result)
    assert summary.get_column("customers").sum() == df.height
    assert summary.get_column("segment").is_unique().all()


@PROPS
@given(raw=logs, seed=st.integers(min_value=0, max_value=2**32 - 1), period=st.sampled_from(["week", "month", "quarter"]))
def test_kpis_and_cohorts_never_depend_on_row_order(raw, seed, period):
    from fidelcli.analyses.cohort import cohorts
    from fidelcli.analyses.kpi import kpi

    if not _has_purchase(raw):
        return
    lf = tx_frame(_rows(raw))
    shuffled = lf.collect().sample(fraction=1.0, shuffle=True, seed=seed).lazy()
    groups = pl.DataFrame({"customer_id": list("abcdefgh"), "tier": ["x", "y", None, "x", "y", "x", None, "y"]})

    def run(frame: pl.LazyFrame) -> tuple[pl.DataFrame, ...]:
        act = DEFAULT_ENGINE.activity(cleaned(frame), period=period)
        summary = DEFAULT_ENGINE.customer_summary(cleaned(frame))
        plain = kpi(act, summary, period=period, as_of=AS_OF)
        # Without the summary, first purchase periods come from the activity: the same result.
        alone = kpi(act, period=period, as_of=AS_OF)
        assert_frame_equal(plain.periods, alone.periods)
        if plain.yearly is not None:
            assert_frame_equal(plain.yearly, alone.yearly)
        grouped = kpi(act, summary, period=period, as_of=AS_OF, groups=groups)
        out = (plain.periods, plain.comparison, grouped.periods, grouped.comparison)
        if period != "week":
            out += (cohorts(act, summary, period=period, as_of=AS_OF, by=groups),)
        return out

    for a, b in zip(run(lf), run(shuffled), strict=True):
        assert_frame_equal(a, b)


@PROPS
@given(raw=logs)
def test_kpi_counts_add_up(raw):
    from fidelcli.analyses.kpi import kpi

    if not _has_purchase(raw):
        return
    lf = tx_frame(_rows(raw))
    summary = DEFAULT_ENGINE.customer_summary(cleaned(lf))
    p = kpi(DEFAULT_ENGINE.activity(cleaned(lf), period="month"), summary, period="month", as_of=AS_OF).periods
    # Every buyer is new exactly once; revenue adds up to the customers' net revenue.
    assert p.get_column("new_customers").sum() == summary.filter(pl.col("frequency") > 0).height
    assert round(p.get_column("revenue").sum() * 100) == summary.get_column("revenue_cents").sum()
    assert (p.get_column("returning_customers") >= 0).all()


@PROPS
@given(raw=logs, period=st.sampled_from(["week", "month", "quarter"]))
def test_rates_are_bounded_and_never_nan(raw, period):
    # Issue 11 items 1 and 5: every rate is in [0, 1] (customer_retention_rate included, whatever the
    # comebacks), and no figure is NaN or infinite (an empty base gives null).
    from fidelcli.analyses.kpi import kpi

    if not _has_purchase(raw):
        return
    lf = tx_frame(_rows(raw))
    result = kpi(DEFAULT_ENGINE.activity(cleaned(lf), period=period), DEFAULT_ENGINE.customer_summary(cleaned(lf)), period=period, as_of=AS_OF)
    p = result.periods
    for rate in ("retention_rate", "churn_rate", "customer_retention_rate", "repeat_purchase_rate"):
        values = p.get_column(rate).drop_nulls()
        assert ((values >= 0) & (values <= 1)).all(), rate
    frames = [p, result.comparison, *([result.yearly] if result.yearly is not None else [])]
    for frame in frames:
        floats = frame.select(pl.col(pl.Float64))
        assert not floats.select(pl.any_horizontal(pl.all().is_nan() | pl.all().is_infinite()).any()).item()
