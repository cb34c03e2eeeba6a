"""Small hand-made inputs of the `target` tests: a per-customer summary and a customers table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from fidelcli.analyses.target import Facts, ScenarioInputs, customer_facts

D = dt.date


def summary(rows: Sequence[tuple[str, dt.date | None, dt.date | None, int, float | None]]) -> pl.DataFrame:
    """`Engine.customer_summary`-like frame from (customer_id, first_purchase, last_purchase, frequency, revenue)."""
    return pl.DataFrame(
        rows, schema={"customer_id": pl.String, "first_purchase": pl.Date, "last_purchase": pl.Date, "frequency": pl.Int64,
                      "revenue": pl.Float64}, orient="row")


def customers(ids: Sequence[str], **columns: Sequence[object]) -> pl.DataFrame:
    """A customers table; every customer consents to email and SMS unless the columns say otherwise."""
    data: dict[str, Sequence[object]] = {"customer_id": list(ids), "email_opt_in": [True] * len(ids), "sms_opt_in": [True] * len(ids)}
    data.update(columns)
    schema = {"customer_id": pl.String, "email_opt_in": pl.Boolean, "sms_opt_in": pl.Boolean, "birth_date": pl.Date,
              "enrollment_date": pl.Date, "loyalty_member": pl.Boolean, "email": pl.String, "phone": pl.String, "name": pl.String}
    return pl.DataFrame(data, schema={k: schema[k] for k in data})


def facts(history: pl.DataFrame, table: pl.DataFrame, as_of: dt.date, **scores: pl.DataFrame) -> Facts:
    return customer_facts(history, table, as_of=as_of, **scores)  # type: ignore[arg-type]


def inputs(history: pl.DataFrame, table: pl.DataFrame, as_of: dt.date, *, touchpoints: pl.DataFrame | None = None,
           recommendations: pl.DataFrame | None = None, **scores: pl.DataFrame) -> ScenarioInputs:
    return ScenarioInputs(facts=facts(history, table, as_of, **scores), touchpoints=touchpoints.lazy() if touchpoints is not None else None,
                          recommendations=recommendations)
