"""RFM: recency, frequency and monetary value per customer, scored and segmented.

Scores go from 1 to `bins` (5 is best; for recency fewer days is better). By default they are
quantile scores computed from ranks, so that customers with equal values always get equal scores and
the result never depends on the order of the rows:

    score = 1 + floor(bins * (rank_min - 1) / n)

where `rank_min` is the rank of the customer's value among the n customers (ascending, "better" last;
tied values share the lowest rank of their group). Monetary values are ranked on exact integer cents.
Alternatively, fixed business thresholds (ascending cut points, `bins - 1` per metric) score a metric:
frequency and monetary scores count the cut points the value reaches (`value >= cut`), recency scores
count the cut points the value exceeds (`recency > cut`) and are then reversed, so "recency <= 30
days" is the best band when the first cut is 30.

Without money (no amount column) the monetary value is unknown: `monetary` is null, there is no
M score, `rfm_score` is made of R and F, and the segments (which only use R and F) are unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import polars as pl

from fidelcli.analyses.segments import default_segment_grid, scale_score, segment_grid
from fidelcli.config import RfmThresholds, Segment
from fidelcli.engine.periods import days_between
from fidelcli.errors import ConfigError, InputError
from fidelcli.result import Figure, JsonResult

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine

Monetary = Literal["total", "average"]
METRICS = ("recency", "frequency", "monetary")
COLUMNS = [
    "customer_id", "recency", "frequency", "monetary", "first_purchase", "last_purchase", "tenure",
    "r_score", "f_score", "m_score", "rfm_score", "segment", "action",
]
# Without money: no M score.
COLUMNS_NO_MONEY = [c for c in COLUMNS if c != "m_score"]


@dataclass
class RfmResult(JsonResult):
    """The result of `rfm()`.

    customers: one row per customer (columns `COLUMNS`; `COLUMNS_NO_MONEY` without money: monetary
        null, no m_score), sorted by customer_id.
    thresholds: per metric and score, how the score was given: metric, method ("quantile" or
        "fixed"), score, customers, min and max (the range of the customers' values with that score),
        lower and upper (fixed thresholds: the band's cut points, null at an open end; for quantile
        scores the same as min and max).
    warnings: messages for the analyst (customers left out, money unknown).
    revenue_cents: net revenue of each customer in exact cents, aligned with `customers`
        (used for revenue shares; null without money).
    segment_names: the segments of the map, in its order.
    has_money: False when the transactions had no amounts (monetary unknown, no M score).
    notes: how the segments were assigned when it is not the plain map (the scaled default map).
    """

    customers: pl.DataFrame
    thresholds: pl.DataFrame
    as_of: dt.date
    bins: int
    monetary: Monetary
    warnings: list[str] = field(default_factory=list)
    revenue_cents: pl.Series = field(default_factory=lambda: pl.Series("revenue_cents", [], dtype=pl.Int64))
    segment_names: list[str] = field(default_factory=list)
    has_money: bool = True
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        """customers (one row each), segments (`rfm_summary`), thresholds."""
        return {"customers": self.customers, "segments": rfm_summary(self), "thresholds": self.thresholds}

    def headline(self) -> dict[str, Figure]:
        return {"as_of": self.as_of.isoformat(), "customers": self.customers.height, "bins": self.bins, "monetary": self.monetary}


def _quantile_score(key: pl.Expr, bins: int) -> pl.Expr:
    """1 + floor(bins * (rank_min - 1) / n): ties share a score; larger key = better score."""
    rank = key.rank("min").cast(pl.Int64)
    return (1 + (bins * (rank - 1)) // pl.len()).cast(pl.Int8)


def _fixed_score(value: pl.Expr, cuts: list[float], *, reverse: bool) -> pl.Expr:
    """Score from ascending cut points: 1 + number of cuts reached (reversed for recency)."""
    if reverse:
        reached = pl.sum_horizontal([(value > c).cast(pl.Int8) for c in cuts])
        return (len(cuts) + 1 - reached).cast(pl.Int8)
    reached = pl.sum_horizontal([(value >= c).cast(pl.Int8) for c in cuts])
    return (1 + reached).cast(pl.Int8)


def _check_cuts(metric: str, cuts: list[float], bins: int) -> None:
    if len(cuts) != bins - 1:
        raise ConfigError(
            f"[rfm.thresholds] {metric} has {len(cuts)} cut points; {bins} scores need {bins - 1}",
            hint=f"give {bins - 1} ascending cut points or set bins = {len(cuts) + 1}",
        )
    if any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
        raise ConfigError(f"[rfm.thresholds] {metric} cut points are not strictly ascending: {cuts}", hint="sort the cut points")


def rfm(
    summary: pl.DataFrame,
    *,
    as_of: dt.date,
    bins: int = 5,
    monetary: Monetary = "total",
    thresholds: RfmThresholds | None = None,
    segments: list[Segment] | None = None,
    lang: Literal["en", "fr"] = "en",
) -> RfmResult:
    """Recency, frequency, monetary value, tenure, R/F/M scores, segment and action per customer.

    - recency: whole days from the last purchase to `as_of` (the analysis date, exclusive: a purchase
      the day before `as_of` has recency 1);
    - frequency: purchase occasions (returns are not occasions);
    - monetary: net spend (purchases minus returns), the total or the average per occasion;
    - tenure: whole days from the first purchase to `as_of`.
    Customers whose only rows are returns (frequency 0) are left out and counted in a warning.
    Segments come from the (R, F) scores through the segment map (default: `DEFAULT_SEGMENTS`, a 5 x 5
    grid, scaled to the `bins` x `bins` grid for another `bins`: see `segments.scale_score`).
    Without money (the summary's revenue_cents all null: no amount column), monetary is null, there
    is no m_score column, rfm_score is R and F, and a warning says so.

    Parameters
    ----------
    summary: `Engine.customer_summary()` frame (customer_id, first_purchase, last_purchase,
        frequency, revenue_cents, ...).
    as_of: analysis date.
    bins: number of scores per metric (2..10).
    monetary: "total" net spend or "average" net spend per purchase occasion.
    thresholds: fixed cut points per metric (an empty list scores that metric by quantiles).
    segments: segment map covering the bins x bins (R, F) grid; the default map (scaled to `bins`)
        when None.
    lang: language of the segment and action labels ("en" or "fr").

    Returns
    -------
    RfmResult with `.customers` (customer_id, recency, frequency, monetary, first_purchase,
    last_purchase, tenure, r_score, f_score, m_score, rfm_score, segment, action), `.thresholds`,
    `.warnings`.

    Raises
    ------
    ConfigError: bad thresholds or a segment map that is not a full partition of the grid.
    InputError: no customer with a purchase.

    Example
    -------
    >>> result = rfm(engine.customer_summary(tx), as_of=tx.as_of)
    """
    if not 2 <= bins <= 10:
        raise ConfigError(f"bins must be between 2 and 10, got {bins}", hint="use --bins 5 (quintiles) or another value in 2..10")
    if monetary not in ("total", "average"):
        raise ConfigError(f"monetary must be 'total' or 'average', got {monetary!r}")
    cuts = {m: list(getattr(thresholds, m)) if thresholds else [] for m in METRICS}
    for m, c in cuts.items():
        if c:
            _check_cuts(m, c, bins)
    warnings: list[str] = []
    notes: list[str] = []
    if segments is not None:
        grid = segment_grid(segments, bins, lang=lang)
    else:
        grid = default_segment_grid(bins, lang=lang)
        if bins != 5:
            scaled = ", ".join(f"{s} -> {scale_score(s, bins)}" for s in range(1, bins + 1))
            notes.append(f"segments: the default 5 x 5 map, with the {bins} scores read as 5-bin scores ({scaled})")

    only_returns = summary.filter(pl.col("frequency") == 0).height
    if only_returns:
        warnings.append(f"{only_returns:,} customers with only returns (no purchase) are left out of the RFM")
    base = summary.filter(pl.col("frequency") > 0)
    if base.height == 0:
        raise InputError("no customer with a purchase to score", hint="check --start/--end/--as-of and the returns policy")
    money = "revenue_cents" in base.columns and base.get_column("revenue_cents").null_count() < base.height
    if not money:
        base = base.with_columns(revenue_cents=pl.lit(None, pl.Int64))
        warnings.append(
            "no amount column: monetary value is unknown (empty), so there is no M score; rfm_score is made of "
            "R and F, and the segments come from R and F as always"
        )

    # Ranking keys are exact: integer days, integer occasions, integer cents (or an exactly rounded
    # ratio of integers for the average), so ties are exact and row order cannot matter.
    money_key = (
        pl.col("revenue_cents") if monetary == "total" else pl.col("revenue_cents") / pl.col("frequency")
    )
    df = base.select(
        "customer_id",
        recency=days_between(pl.col("last_purchase"), as_of).cast(pl.Int64),
        frequency=pl.col("frequency").cast(pl.Int64),
        monetary=money_key / 100,
        first_purchase="first_purchase",
        last_purchase="last_purchase",
        tenure=days_between(pl.col("first_purchase"), as_of).cast(pl.Int64),
        _money_key=money_key,
        _revenue_cents=pl.col("revenue_cents"),
    )
    def score(metric: str, key: pl.Expr, *, reverse: bool) -> pl.Expr:
        if cuts[metric]:
            return _fixed_score(pl.col(metric), cuts[metric], reverse=reverse)
        return _quantile_score(-key if reverse else key, bins)

    df = df.with_columns(
        r_score=score("recency", pl.col("recency"), reverse=True),
        f_score=score("frequency", pl.col("frequency"), reverse=False),
        **({"m_score": score("monetary", pl.col("_money_key"), reverse=False)} if money else {}),
    )
    scores = [pl.col("r_score"), pl.col("f_score"), *([pl.col("m_score")] if money else [])]
    # "545" (or "54" without money): one digit per score (bins <= 9) as one integer cast, else the
    # scores side by side.
    if bins <= 9:
        number = scores[0].cast(pl.Int32)
        for sc in scores[1:]:
            number = number * 10 + sc.cast(pl.Int32)
        rfm_score = number.cast(pl.String)
    else:
        rfm_score = pl.concat_str(scores)
    df = df.with_columns(rfm_score=rfm_score)
    df = df.join(grid.drop("order"), on=["r_score", "f_score"], how="left", maintain_order="left")
    if not df.get_column("customer_id").is_sorted():  # the engine's summary already is
        df = df.sort("customer_id")
    return RfmResult(
        customers=df.select(COLUMNS if money else COLUMNS_NO_MONEY),
        thresholds=_thresholds(df, cuts, bins, metrics=METRICS if money else METRICS[:2]),
        as_of=as_of,
        bins=bins,
        monetary=monetary,
        warnings=warnings,
        revenue_cents=df.get_column("_revenue_cents").rename("revenue_cents"),
        segment_names=grid.sort("order").get_column("segment").unique(maintain_order=True).to_list(),
        has_money=money,
        notes=notes,
    )


def _thresholds(df: pl.DataFrame, cuts: dict[str, list[float]], bins: int, *, metrics: tuple[str, ...] = METRICS) -> pl.DataFrame:
    """Per metric and score: the method, how many customers, the range of their values and the band."""
    frames = []
    scores = pl.DataFrame({"score": pl.Series(range(1, bins + 1), dtype=pl.Int8)})
    for metric, col in zip(metrics, ("r_score", "f_score", "m_score"), strict=False):
        observed = df.group_by(pl.col(col).alias("score")).agg(
            customers=pl.len().cast(pl.Int64),
            min=pl.col(metric).cast(pl.Float64).min(),
            max=pl.col(metric).cast(pl.Float64).max(),
        )
        frame = scores.join(observed, on="score", how="left").with_columns(pl.col("customers").fill_null(0))
        c = cuts[metric]
        if c:
            # Band of score s: F/M [cut_{s-1}, cut_s), recency (cut_{bins-s}, cut_{bins-s+1}].
            edges = [None, *c, None]
            if metric == "recency":
                lower = [edges[bins - s] for s in range(1, bins + 1)]
                upper = [edges[bins - s + 1] for s in range(1, bins + 1)]
            else:
                lower = [edges[s - 1] for s in range(1, bins + 1)]
                upper = [edges[s] for s in range(1, bins + 1)]
            frame = frame.with_columns(
                method=pl.lit("fixed"),
                lower=pl.Series(lower, dtype=pl.Float64),
                upper=pl.Series(upper, dtype=pl.Float64),
            )
        else:
            frame = frame.with_columns(method=pl.lit("quantile"), lower=pl.col("min"), upper=pl.col("max"))
        frames.append(frame.with_columns(metric=pl.lit(metric)))
    return pl.concat(frames).select("metric", "method", "score", "customers", "min", "max", "lower", "upper")


def rfm_summary(result: RfmResult) -> pl.DataFrame:
    """Per segment: how many customers, their share, their share of revenue and their mean R, F, M.

    Every segment of the map appears (in the map's order), with 0 customers when empty.

    Returns
    -------
    Columns: segment, customers, share (of customers), revenue (net), revenue_share (of the total net
    revenue; null when it is 0), recency, frequency, monetary (means over the segment's customers).
    Without money, revenue, revenue_share and monetary are null.
    """
    df = result.customers.with_columns(result.revenue_cents)
    total_customers = df.height
    total_cents = int(df.get_column("revenue_cents").sum()) if result.has_money else 0
    per = df.group_by("segment").agg(
        customers=pl.len().cast(pl.Int64),
        revenue_cents=pl.col("revenue_cents").sum(),
        recency=pl.col("recency").mean(),
        frequency=pl.col("frequency").mean(),
        # Total spend: mean from exact cents, so the figure never depends on summation order.
        monetary=(pl.col("revenue_cents").sum() / pl.len() / 100) if result.monetary == "total" else pl.col("monetary").mean(),
    )
    # Keep the map's order and list empty segments too.
    names: list[str | None] = list(result.segment_names) or [None]
    order = pl.DataFrame({"segment": names}, schema={"segment": pl.String})
    out = order.join(per, on="segment", how="left", nulls_equal=True).with_columns(
        pl.col("customers").fill_null(0), pl.col("revenue_cents").fill_null(0)
    )
    unknown = pl.lit(None, pl.Float64)
    return out.select(
        "segment",
        "customers",
        share=pl.col("customers") / total_customers,
        revenue=pl.col("revenue_cents") / 100 if result.has_money else unknown,
        revenue_share=(pl.col("revenue_cents") / total_cents) if total_cents != 0 else unknown,
        recency="recency",
        frequency="frequency",
        monetary=pl.col("monetary").cast(pl.Float64) if result.has_money else unknown,
    )


def rfm_analysis(
    tx: Transactions,
    *,
    engine: Engine,
    bins: int = 5,
    monetary: Monetary = "total",
    thresholds: RfmThresholds | None = None,
    segments: list[Segment] | None = None,
    lang: Literal["en", "fr"] = "en",
) -> RfmResult:
    """RFM of cleaned transactions as of their analysis date: the engine's per-customer summary,
    then `rfm()` (see it for the parameters). The one library call behind `fidelcli rfm`."""
    return rfm(engine.customer_summary(tx), as_of=tx.as_of, bins=bins, monetary=monetary, thresholds=thresholds,
               segments=segments, lang=lang)
