"""kpis.json, `--fail-on` thresholds and `--compare-to` deltas.

kpis.json is the results' headline figures, flattened with the section as prefix: `rfm.customers`,
`kpi.revenue`, `kpi.revenue.delta_pct`, `validation.error`; the keys are stable from run to run (a
figure that cannot be computed is null, never left out).

A threshold is `KEY OP NUMBER` with OP one of `< <= > >= == !=`. KEY is a key of kpis.json, or its
end after a dot when only one key ends so (`churn_rate` for `kpi.churn_rate`), or a delta of
`--compare-to`: `KEY.change` (current - previous run) and `KEY.change_pct`.

Example
-------
>>> parse_threshold("kpi.churn_rate>0.3")
Threshold(key='kpi.churn_rate', op='>', value=0.3, text='kpi.churn_rate>0.3')
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from fidelcli.errors import ConfigError
from fidelcli.result import Figure, Result, figure

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
}
_THRESHOLD = re.compile(r"^\s*(?P<key>[A-Za-z_][\w.]*)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")


def flatten(results: Mapping[str, Result], keys: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, Figure]:
    """Every headline figure of `results` as `{section.name: value}`, in section order; the names of
    `keys[section]` a result lacks are there too, null."""
    out: dict[str, Figure] = {}
    for key, result in results.items():
        head = result.headline()
        out |= {f"{key}.{name}": figure(value) for name, value in head.items()}
        out |= {f"{key}.{name}": None for name in (keys or {}).get(key, ()) if name not in head}
    return out


@dataclass(frozen=True)
class Threshold:
    key: str
    op: str
    value: float
    text: str


def parse_threshold(text: str) -> Threshold:
    """`kpi.churn_rate>0.3` as a Threshold.

    Raises ConfigError (exit 2) when the text is not `KEY OP NUMBER`.
    """
    match = _THRESHOLD.match(text)
    if match is None:
        raise ConfigError(f"--fail-on {text!r} is not KEY OP NUMBER", hint="e.g. --fail-on 'kpi.churn_rate>0.3' (OP: < <= > >= == !=)")
    return Threshold(match["key"], match["op"], float(match["value"]), text.strip())


def resolve_key(key: str, figures: Mapping[str, object]) -> str:
    """The key of `figures` that `key` names: itself, or the only key ending in `.key`.

    Raises ConfigError (exit 2) naming the closest valid key.
    """
    if key in figures:
        return key
    ends = [k for k in figures if k.endswith(f".{key}")]
    if len(ends) == 1:
        return ends[0]
    if len(ends) > 1:
        raise ConfigError(f"--fail-on: {key!r} names several figures: {', '.join(ends)}", hint=f"write the full key, e.g. {ends[0]!r}")
    close = difflib.get_close_matches(key, list(figures), n=1, cutoff=0.0) if figures else []
    hint = f"did you mean {close[0]!r}? (the keys are those of kpis.json)" if close else "see kpis.json for the keys"
    raise ConfigError(f"--fail-on: unknown figure {key!r}", hint=hint)


def tripped(thresholds: list[Threshold], figures: Mapping[str, Figure]) -> tuple[list[str], list[str]]:
    """(thresholds that tripped, as sentences; thresholds whose figure is unknown, as sentences).

    An unknown (null) figure trips nothing: it is reported apart. Raises ConfigError for a key that
    names no figure (`resolve_key`).
    """
    out: list[str] = []
    unknown: list[str] = []
    for th in thresholds:
        key = resolve_key(th.key, figures)
        value = figures[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            if value is None:
                unknown.append(f"{th.text}: {key} is unknown in this run")
                continue
            raise ConfigError(f"--fail-on {th.text!r}: {key} is not a number ({value!r})", hint="compare a numeric figure of kpis.json")
        if OPS[th.op](float(value), th.value):
            out.append(f"{th.text}: {key} = {value:g}")
    return out, unknown


def changes(current: Mapping[str, Figure], previous: Mapping[str, Figure]) -> dict[str, Figure]:
    """The deltas against a previous run: for every numeric figure in both, `KEY.change` (current -
    previous) and `KEY.change_pct` (change / |previous| x 100; null when previous is 0); null when
    either is unknown. Figures that are not numbers (dates, names) have none."""
    out: dict[str, Figure] = {}
    for key, now in current.items():
        if key.endswith((".change", ".change_pct")) or isinstance(now, (bool, str)):
            continue
        before = previous.get(key)
        if isinstance(before, (bool, str)) or (now is None and before is None and key not in previous):
            continue
        if now is None or before is None:
            out[f"{key}.change"] = None
            out[f"{key}.change_pct"] = None
            continue
        delta = float(now) - float(before)
        out[f"{key}.change"] = delta
        out[f"{key}.change_pct"] = delta / abs(float(before)) * 100 if before else None
    return out


def migration_matrix(previous: pl.DataFrame, current: pl.DataFrame, *, order: list[str]) -> pl.DataFrame:
    """How many customers moved from each RFM segment to each other since the previous run.

    `previous`, `current`: customer_id and segment. Customers only in the previous run count under
    the current segment `(gone)`, those only in the current one under the previous segment `(new)`.
    Rows: previous_segment; columns: the current segments in `order`, then `(gone)`; counts (0 for none).
    """
    joined = previous.select("customer_id", previous_segment="segment").join(
        current.select("customer_id", "segment"), on="customer_id", how="full", coalesce=True)
    joined = joined.with_columns(pl.col("previous_segment").fill_null("(new)"), pl.col("segment").fill_null("(gone)"))
    counts = joined.group_by("previous_segment", "segment").len()
    rows = [*order, "(new)"]
    cols = [*order, "(gone)"]
    seen_rows = set(counts["previous_segment"].to_list())
    seen_cols = set(counts["segment"].to_list())
    rows += sorted(seen_rows - set(rows))
    cols += sorted(seen_cols - set(cols))
    wide = counts.pivot(on="segment", index="previous_segment", values="len")
    frame = pl.DataFrame({"previous_segment": rows}).join(wide, on="previous_segment", how="left")
    for c in cols:
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(0, pl.UInt32).alias(c))
    return frame.select("previous_segment", *[pl.col(c).fill_null(0).cast(pl.Int64) for c in cols])
