"""The touchpoints table checked, the order of the journey's stages, and the stages x channels matrix.

Every function takes the touchpoints as a lazy frame of canonical columns (customer_id, timestamp,
stage, channel, optional satisfaction and outcome) and collects only small results.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from fidelcli.analyses.satisfaction import CSAT_RANGE
from fidelcli.errors import InputError

MATRIX_COLUMNS = ("stage", "channel", "touchpoints", "customers", "rated", "satisfaction", "irritants", "irritant_share")


def prepare(touchpoints: pl.LazyFrame | pl.DataFrame, *, file: str | None = None) -> pl.LazyFrame:
    """The touchpoints with a customer, a timestamp and a stage (rows missing one are dropped:
    `dropped_rows` counts them), channel null as "(none)", satisfaction as Float64 (null without
    the column).

    Raises
    ------
    InputError
        A satisfaction outside 1-5 (`CSAT_RANGE`), with its 1-based data row.
    """
    lf = touchpoints.lazy()
    names = lf.collect_schema().names()
    lo, hi = CSAT_RANGE
    if "satisfaction" in names:
        bad = (lf.with_row_index("row", offset=1)
               .filter(pl.col("satisfaction").is_not_null() & ~pl.col("satisfaction").is_between(lo, hi))
               .select("row", "satisfaction").head(1).collect())
        if bad.height:
            raise InputError(f"satisfaction {bad['satisfaction'][0]} is outside the {lo}-{hi} scale", file=file, column="satisfaction",
                             row=int(bad["row"][0]), hint=f"rescale the satisfaction to {lo}-{hi}, or map another column with --map satisfaction=COLUMN")
    satisfaction = pl.col("satisfaction").cast(pl.Float64) if "satisfaction" in names else pl.lit(None, pl.Float64)
    return lf.select(
        pl.col("customer_id").cast(pl.String), pl.col("timestamp").cast(pl.Datetime("us")),
        pl.col("stage").cast(pl.String).str.strip_chars(),
        pl.col("channel").cast(pl.String).str.strip_chars().fill_null("(none)"),
        satisfaction=satisfaction,
    ).filter(pl.col("customer_id").is_not_null(), pl.col("timestamp").is_not_null(),
             pl.col("stage").is_not_null() & (pl.col("stage") != ""))


def dropped_rows(touchpoints: pl.LazyFrame | pl.DataFrame) -> int:
    """Rows without a customer, a timestamp or a stage (left out of every figure)."""
    missing = pl.any_horizontal(pl.col("customer_id").is_null(), pl.col("timestamp").is_null(),
                                pl.col("stage").cast(pl.String).str.strip_chars().fill_null("") == "")
    return int(touchpoints.lazy().select(missing.sum()).collect().item())


def stage_order(tp: pl.LazyFrame, stages: Sequence[str] | None = None) -> list[str]:
    """The stages in journey order: `stages` as given, else inferred from the data.

    Inferred order: each customer's stages are numbered 1, 2, ... in the order of their first
    touchpoint (equal first timestamps share the lower number); a stage's position is the mean of
    its numbers over the customers who reached it; stages are sorted by position, then by name.
    """
    if stages:
        return list(dict.fromkeys(stages))
    firsts = tp.group_by("customer_id", "stage").agg(first=pl.col("timestamp").min())
    ranked = firsts.with_columns(position=pl.col("first").rank("min").over("customer_id"))
    order = ranked.group_by("stage").agg(pl.col("position").mean()).sort("position", "stage").collect()
    return order.get_column("stage").to_list()


def stage_rank(order: Sequence[str]) -> pl.Expr:
    """The position of `stage` in `order` (0-based; stages not in it come last)."""
    return pl.col("stage").replace_strict(list(order), list(range(len(order))), default=len(order), return_dtype=pl.Int64)


def touchpoint_matrix(tp: pl.LazyFrame, order: Sequence[str], *, negative_max: float) -> pl.DataFrame:
    """The stages x channels matrix: one row per (stage, channel) with touchpoints.

    Columns: stage, channel, touchpoints (rows), customers (distinct), rated (touchpoints with a
    satisfaction), satisfaction (their mean, 1-5), irritants (rated touchpoints with a satisfaction
    <= `negative_max`: negative experiences), irritant_share (irritants / rated; null when none is
    rated). Sorted by stage in `order`, then channel.

    Example: two rated call-center services, 2 and 4, with negative_max 2: satisfaction 3.0, irritants 1,
    irritant_share 0.5.
    """
    sat = pl.col("satisfaction")
    rated = sat.count().cast(pl.Int64)
    irritants = (sat <= negative_max).sum().cast(pl.Int64)
    return (
        tp.group_by("stage", "channel")
        .agg(touchpoints=pl.len().cast(pl.Int64), customers=pl.col("customer_id").n_unique().cast(pl.Int64),
             rated=rated, satisfaction=sat.mean(), irritants=irritants)
        .with_columns(irritant_share=pl.when(pl.col("rated") > 0).then(pl.col("irritants") / pl.col("rated")))
        .with_columns(_rank=stage_rank(order))
        .sort("_rank", "channel").select(*MATRIX_COLUMNS)
        .collect()
    )
