"""The customer journey: the stages x channels matrix, conversion and time between stages, the most
common paths, and the moments of truth (docs/journey.md).

`journey()` is the one call: touchpoints (a side table, scanned lazily) and, for the moments of
truth, the cleaned transactions reduced by the engine (`Engine.anchored_purchases`).

Example
-------
>>> result = journey(scan_table("touchpoints.csv", "touchpoints").lf, tx, engine=get_engine("polars"))  # doctest: +SKIP
>>> result.moments.head(1)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from fidelcli.analyses.journey.matrix import dropped_rows, prepare, stage_order, touchpoint_matrix
from fidelcli.analyses.journey.moments import MomentSettings, Outcome, anchors, moments_of_truth, observed, sentence
from fidelcli.analyses.journey.paths import conversions, top_paths
from fidelcli.analyses.satisfaction import CSAT_DISSATISFIED_MAX
from fidelcli.errors import InputError
from fidelcli.result import Figure, JsonResult

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine

__all__ = ["JourneyResult", "MomentSettings", "Outcome", "journey"]

TOP_SENTENCES = 3  # moments of truth put in words


@dataclass
class JourneyResult(JsonResult):
    """What `journey()` returns: `matrix`, `conversion`, `paths`, `moments` (None without
    transactions) and `summary` (the top moments of truth in plain words), with the settings used."""

    stages: list[str]
    matrix: pl.DataFrame
    conversion: pl.DataFrame
    paths: pl.DataFrame
    moments: pl.DataFrame | None
    summary: pl.DataFrame
    settings: MomentSettings
    touchpoints: int
    customers: int
    as_of: str | None = None
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        out = {"matrix": self.matrix, "conversion": self.conversion, "paths": self.paths}
        if self.moments is not None:
            out["moments"] = self.moments
        out["summary"] = self.summary
        return out

    def headline(self) -> dict[str, Figure]:
        top = self.moments.filter(pl.col("rank") == 1) if self.moments is not None else None
        return {
            "touchpoints": self.touchpoints, "customers": self.customers, "stages": " > ".join(self.stages),
            "negative_max": self.settings.negative_max, "outcome": self.settings.outcome, "window_days": self.settings.window_days,
            "as_of": self.as_of,
            "top_moment": f"{top['stage'][0]} via {top['channel'][0]}" if top is not None and top.height else None,
        }


def journey(
    touchpoints: pl.LazyFrame | pl.DataFrame,
    transactions: Transactions | None = None,
    *,
    engine: Engine | None = None,
    stages: Sequence[str] | None = None,
    negative_max: float = CSAT_DISSATISFIED_MAX,
    outcome: Outcome = "retention",
    window_days: int = 180,
    top: int = 10,
    file: str | None = None,
) -> JourneyResult:
    """The customer journey from a touchpoints table, and its moments of truth with transactions.

    Parameters
    ----------
    touchpoints: canonical columns customer_id, timestamp, stage, channel, optional satisfaction (1-5).
    transactions: cleaned transactions; without them, no moments of truth (`moments` is None).
    engine: the engine reducing the transactions (required with them).
    stages: the journey's stages in order; default inferred (`matrix.stage_order`). Touchpoints at
        other stages are left out, with a warning.
    negative_max: a satisfaction at or below it is a negative experience (an irritant); default 2.
    outcome, window_days: see `moments` (retention: a purchase more than `window_days` after the
        touchpoint; repurchase: a purchase within them).
    top: the number of most common paths.
    file: the touchpoints' source, for messages.

    Returns
    -------
    JourneyResult.

    Raises
    ------
    InputError: no touchpoint with a customer, a timestamp and a stage; a satisfaction off the scale.
    """
    if window_days < 1 or top < 1:
        raise InputError("the window and the number of paths must be at least 1", hint="e.g. --window 180d --top 10")
    warnings: list[str] = []
    raw = touchpoints.lazy()
    tp = prepare(raw, file=file)
    counts = tp.select(rows=pl.len(), customers=pl.col("customer_id").n_unique()).collect()
    if counts["rows"][0] == 0:
        raise InputError("no touchpoint with a customer, a timestamp and a stage", file=file, hint="check the column mapping (--map)")
    if (missing := dropped_rows(raw)) > 0:
        warnings.append(f"{missing} touchpoint rows without a customer, a timestamp or a stage are left out")
    order = stage_order(tp, stages)
    if stages:
        others = tp.filter(~pl.col("stage").is_in(order)).select(pl.len(), pl.col("stage").unique().sort().str.join(", ")).collect()
        if others.item(0, 0):
            warnings.append(f"{others.item(0, 0)} touchpoints at stages not in --stages are left out: {others.item(0, 1)}")
            tp = tp.filter(pl.col("stage").is_in(order))
    settings = MomentSettings(negative_max=negative_max, outcome=outcome, window_days=window_days)
    matrix = touchpoint_matrix(tp, order, negative_max=negative_max)
    moments, as_of = None, None
    if transactions is not None:
        if engine is None:
            raise ValueError("journey: transactions need an engine")
        moments = _moments(tp, transactions, engine, order, settings, warnings)
        as_of = transactions.as_of.isoformat()
    summary = _summary(moments, settings)
    n_rows, n_customers = (int(v) for v in counts.row(0))
    return JourneyResult(
        stages=order, matrix=matrix, conversion=conversions(tp, order), paths=top_paths(tp, order, top=top), moments=moments,
        summary=summary, settings=settings, touchpoints=n_rows, customers=n_customers, as_of=as_of, warnings=warnings,
    )


def _moments(tp: pl.LazyFrame, tx: Transactions, engine: Engine, order: list[str], settings: MomentSettings,
             warnings: list[str]) -> pl.DataFrame:
    rated = anchors(tp, negative_max=settings.negative_max)
    end = tx.end_date
    kept = observed(rated, settings=settings, end=end)
    if rated.height == 0:
        warnings.append("no touchpoint has a satisfaction: no moment of truth")
    elif kept.height < rated.height:
        need = "twice the window" if settings.outcome == "retention" else "the window"
        warnings.append(f"{rated.height - kept.height} of {rated.height} rated touchpoints are left out of the moments of truth: "
                        f"the data after them (to {end - dt.timedelta(days=1)}) is shorter than {need}")
    purchases = engine.anchored_purchases(tx, kept.select("customer_id", "anchor"), window_days=settings.window_days)
    rows = kept.join(purchases, on=["customer_id", "anchor"], how="left")
    if rows.height:
        buyers = rows.filter(pl.col("prior_occasions") + pl.col("occasions_within") + pl.col("occasions_after") > 0)
        share = 1 - buyers["customer_id"].n_unique() / rows["customer_id"].n_unique()
        if share > 0.5:
            warnings.append(f"{share:.0%} of the rated customers have no transaction: are the customer ids of the two files the same?")
    return moments_of_truth(rows, order, settings=settings, end=end)


def _summary(moments: pl.DataFrame | None, settings: MomentSettings) -> pl.DataFrame:
    schema = {"rank": pl.Int64, "moment_of_truth": pl.String}
    if moments is None:
        return pl.DataFrame(schema=schema)
    top = moments.filter(pl.col("rank").is_not_null(), (pl.col("effect_low") > 0) | (pl.col("effect_high") < 0)).head(TOP_SENTENCES)
    if top.height == 0:
        goal = "retention" if settings.outcome == "retention" else "repurchase"
        text = f"no touchpoint's negative experiences are linked to {goal} beyond chance (95 % intervals all cover 0)"
        return pl.DataFrame({"rank": [None], "moment_of_truth": [text]}, schema=schema)
    return pl.DataFrame({"rank": top["rank"], "moment_of_truth": [sentence(r, settings=settings) for r in top.iter_rows(named=True)]},
                        schema=schema)

