"""Per-customer facts the scenarios and the consent rule read: purchase history (from the engine),
RFM segment, model scores, and the customers table's dates and consents.

One row per customer of the transactions or of the customers table. Consent per channel is True
only when the customers table says so: an unknown consent (an empty cell, a customer missing from
the table, a table without the column) is no consent. A customer listed twice consents only when
every row of theirs does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from fidelcli.config import TargetChannel

CHANNELS: tuple[TargetChannel, ...] = ("email", "sms")
# The consent column and the contact column of each channel, in the customers table.
CONSENT = {"email": "email_opt_in", "sms": "sms_opt_in"}
CONTACT = {"email": "email", "sms": "phone"}

FACT_COLUMNS = [
    "customer_id", "first_purchase", "last_purchase", "frequency", "revenue", "segment", "churn_probability", "p_alive", "clv",
    "birth_date", "enrollment_date", "member", "email_ok", "sms_ok",
]


@dataclass
class Facts:
    """The facts frame (`FACT_COLUMNS`, one row per customer, in no particular order), what it knows,
    and the warnings of building it."""

    frame: pl.DataFrame
    as_of: dt.date
    has_churn: bool = False
    has_clv: bool = False
    customer_fields: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)


def consent_columns(customers: pl.DataFrame) -> tuple[list[pl.Expr], list[str]]:
    """`email_ok`, `sms_ok` of each row of the customers table: the opt-in is True and, when the
    table has the channel's contact column, the contact is not empty; and the warnings of a missing
    consent column."""
    exprs, warnings = [], []
    for channel in CHANNELS:
        consent, contact = CONSENT[channel], CONTACT[channel]
        if consent not in customers.columns:
            warnings.append(f"the customers table has no {consent} column: nobody is contacted by {channel} "
                            "(an unknown consent is no consent)")
            exprs.append(pl.lit(False).alias(f"{channel}_ok"))
            continue
        ok = pl.col(consent).fill_null(False)
        if contact in customers.columns:
            ok = ok & pl.col(contact).str.strip_chars().str.len_chars().fill_null(0).gt(0)
        exprs.append(ok.alias(f"{channel}_ok"))
    return exprs, warnings


def customer_table_facts(customers: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """One row per customer id of the customers table: birth_date, enrollment_date, member (the
    loyalty_member flag, null when unknown), email_ok, sms_ok. A customer listed more than once
    consents only when all their rows do; their earliest dates are kept."""
    ok, warnings = consent_columns(customers)

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in customers.columns else pl.lit(None, dtype).alias(name)

    rows = customers.filter(pl.col("customer_id").is_not_null()).select(
        "customer_id", col("birth_date", pl.Date()), col("enrollment_date", pl.Date()), col("loyalty_member", pl.Boolean()).alias("member"),
        *ok,
    )
    if rows.get_column("customer_id").is_unique().all():
        return rows, warnings  # the usual case: no grouping needed
    out = rows.group_by("customer_id").agg(
        pl.col("birth_date").min(), pl.col("enrollment_date").min(),
        # A membership is known to have ended only when no row says it runs.
        member=pl.when(pl.col("member").is_null().all()).then(None).otherwise(pl.col("member").any()),
        email_ok=pl.col("email_ok").all(), sms_ok=pl.col("sms_ok").all(),
    )
    repeated = rows.height - out.height
    if repeated:
        warnings.append(f"{repeated:,} rows of the customers table repeat a customer id: such a customer is "
                        "contacted on a channel only when every one of their rows consents to it")
    return out, warnings


def customer_facts(
    summary: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    as_of: dt.date,
    segments: pl.DataFrame | None = None,
    churn: pl.DataFrame | None = None,
    clv: pl.DataFrame | None = None,
) -> Facts:
    """The facts frame of every customer of `summary` (`Engine.customer_summary`) or `customers`.

    Parameters
    ----------
    summary: customer_id, first_purchase, last_purchase, frequency, revenue (the engine's summary).
    customers: the customers table (canonical columns; customer_id required).
    segments: customer_id, segment (the RFM segments).
    churn: customer_id, churn_probability (a churn model's scores).
    clv: customer_id, p_alive, clv (a CLV model's predictions; clv may be null).
    """
    table, warnings = customer_table_facts(customers)
    history = summary.select("customer_id", "first_purchase", "last_purchase", "frequency", "revenue")
    frame = history.join(table, on="customer_id", how="full", coalesce=True)
    extra: list[tuple[pl.DataFrame | None, list[str]]] = [
        (segments, ["segment"]), (churn, ["churn_probability"]), (clv, ["p_alive", "clv"])]
    for scores, names in extra:
        if scores is not None:
            frame = frame.join(scores.select("customer_id", *names).unique("customer_id"), on="customer_id", how="left")
        else:
            frame = frame.with_columns(pl.lit(None, pl.String if n == "segment" else pl.Float64).alias(n) for n in names)
    frame = frame.with_columns(pl.col("email_ok", "sms_ok").fill_null(False), pl.col("frequency").fill_null(0)).select(FACT_COLUMNS)
    return Facts(frame=frame, as_of=as_of, has_churn=churn is not None, has_clv=clv is not None,
                 customer_fields=frozenset(customers.columns), warnings=warnings)
