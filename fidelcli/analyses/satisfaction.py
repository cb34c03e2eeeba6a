"""Satisfaction surveys: NPS, CSAT and CES, read once for every command that uses them (`kpi`,
`churn`'s features, `journey`'s touchpoint satisfaction).

A survey table has customer_id, date and either one column per score (`nps`, `csat`, `ces`: wide)
or a `type` column naming the score and a `score` column (long); both forms may be present. The
rules (docs/metrics.md, the KPI table):

- NPS, 0-10: 100 x (promoters, 9-10, - detractors, 0-6) / responses, in points from -100 to 100;
- CSAT, 1-5: the share of answers 4-5 (0..1), and the mean;
- CES, 1-7: the mean;
- a 1-5 satisfaction (CSAT, a touchpoint's rating) of 1-2 is a negative experience (bottom two box).
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

import polars as pl

SCORE_TYPES = ("nps", "csat", "ces")
PROMOTER_MIN, DETRACTOR_MAX = 9, 6  # NPS: promoters answer 9-10, detractors 0-6
CSAT_SATISFIED_MIN = 4  # CSAT: answers 4-5 count as satisfied
CSAT_RANGE = (1, 5)  # CSAT and touchpoint satisfaction: whole or decimal scores from 1 to 5
CSAT_DISSATISFIED_MAX = 2  # 1-5 scale: answers 1-2 are a negative experience (bottom two box; journey irritants)

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def survey_scores(surveys: Frame) -> Frame | None:
    """The answers in long form: customer_id, date, metric (nps, csat or ces), score (Float64), one
    row per answer with a score and a date; wide columns and long type/score alike (a `type` is
    lower-cased and stripped; other types are left out). None when the table has no score.
    """
    cols = set(surveys.collect_schema().names())
    parts = [surveys.select("customer_id", "date", metric=pl.lit(m), score=pl.col(m).cast(pl.Float64))
             for m in SCORE_TYPES if m in cols]
    if {"type", "score"} <= cols:
        parts.append(surveys.select("customer_id", "date", metric=pl.col("type").str.to_lowercase().str.strip_chars(),
                                    score=pl.col("score").cast(pl.Float64)))
    if not parts:
        return None
    return pl.concat(parts).filter(pl.col("score").is_not_null(), pl.col("date").is_not_null(),
                                   pl.col("metric").is_in(SCORE_TYPES))


def score_metrics(surveys: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """The scores a survey table can hold: its wide score columns, or all three with type/score."""
    cols = set(surveys.collect_schema().names())
    wide = [m for m in SCORE_TYPES if m in cols]
    return list(SCORE_TYPES) if {"type", "score"} <= cols else wide


def satisfaction_aggregates() -> dict[str, pl.Expr]:
    """Aggregations of `survey_scores` rows (per group): nps_responses, nps, csat_responses, csat,
    csat_mean, ces_responses, ces (the rules of the module docstring; null without responses)."""
    score, metric = pl.col("score"), pl.col("metric")
    nps, csat, ces = (score.filter(metric == m) for m in SCORE_TYPES)

    def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
        return pl.when(den != 0).then(num / den).otherwise(None)  # null without responses: never NaN

    return {
        "nps_responses": nps.count().cast(pl.Int64),
        "nps": ratio(100 * ((nps >= PROMOTER_MIN).sum().cast(pl.Float64) - (nps <= DETRACTOR_MAX).sum().cast(pl.Float64)),
                     nps.count()),
        "csat_responses": csat.count().cast(pl.Int64),
        "csat": ratio((csat >= CSAT_SATISFIED_MIN).sum().cast(pl.Float64), csat.count()),
        "csat_mean": csat.mean(),
        "ces_responses": ces.count().cast(pl.Int64),
        "ces": ces.mean(),
    }


def latest_scores(surveys: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame | None:
    """Each customer's latest answer to each score on or before `cutoff` (the higher score on a tie
    of dates, so row order never matters).

    Returns
    -------
    LazyFrame: customer_id, last_nps, last_csat, last_ces (the scores the table can hold,
    `score_metrics`); None when it has no score.
    """
    scores = survey_scores(surveys)
    if scores is None:
        return None
    # Sorted by date then score before grouping: each group keeps that order, so the last is the latest.
    scores = scores.filter(pl.col("date") <= pl.lit(cutoff, dtype=pl.Date)).sort("date", "score")
    return scores.group_by("customer_id").agg(
        pl.col("score").filter(pl.col("metric") == m).last().alias(f"last_{m}") for m in score_metrics(surveys))
