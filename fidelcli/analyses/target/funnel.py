"""The count funnel of a target run: per scenario, how many customers each rule kept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

# The stages in order; `outranked` (under the cap, then won by a higher-priority scenario) sits
# between under_cap and after_arbitration.
STAGES = ("eligible", "consented", "not_suppressed", "under_cap", "after_arbitration", "targeted", "control")
FUNNEL_COLUMNS = ["scenario", "priority", "eligible", "consented", "not_suppressed", "under_cap", "outranked",
                  "after_arbitration", "targeted", "control"]
TOTAL = "all"


def funnel(stages: Mapping[str, pl.DataFrame], scenarios: Sequence[str], priorities: Mapping[str, int]) -> pl.DataFrame:
    """One row per scenario (in `scenarios` order) with the rows left after each stage, then a row
    `all` counting distinct customers (a customer eligible for two scenarios counts once there).

    `stages` maps each name of `STAGES` to its rows (customer_id, scenario). In every row,
    eligible >= consented >= not_suppressed >= under_cap = outranked + after_arbitration and
    after_arbitration = targeted + control.
    """
    base = pl.DataFrame({"scenario": list(scenarios), "priority": [priorities[s] for s in scenarios]},
                        schema={"scenario": pl.String, "priority": pl.Int64})
    for stage in STAGES:
        counts = stages[stage].group_by("scenario").agg(pl.len().cast(pl.Int64).alias(stage))
        base = base.join(counts, on="scenario", how="left", maintain_order="left")
    base = base.with_columns(pl.col(list(STAGES)).fill_null(0))
    total = pl.DataFrame(
        {"scenario": [TOTAL], "priority": [None], **{s: [stages[s].get_column("customer_id").n_unique()] for s in STAGES}},
        schema={"scenario": pl.String, "priority": pl.Int64, **{s: pl.Int64 for s in STAGES}},
    )
    out = pl.concat([base, total]).with_columns(outranked=pl.col("under_cap") - pl.col("after_arbitration"))
    return out.select(FUNNEL_COLUMNS)
