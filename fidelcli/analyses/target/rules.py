"""The rules a target list obeys: consent per channel, suppression lists, frequency capping,
arbitration to one message per customer, and the seeded control group (docs/target.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

from fidelcli.config import TargetChannel

# Phones are compared on their last digits: `+33 6 12 34 56 78` and `06 12 34 56 78` are one number.
# Two numbers that differ only before them are both suppressed: over-suppressing is the safe side.
PHONE_DIGITS = 9


def with_channel(rows: pl.DataFrame, consents: pl.DataFrame, channels: Mapping[str, Sequence[TargetChannel]]) -> pl.DataFrame:
    """`rows` (customer_id, scenario, ...) with `channel`: the first of the scenario's channels the
    customer consented to (`consents`: customer_id, email_ok, sms_ok), null when none."""
    choice: pl.Expr = pl.lit(None, pl.String)
    for scenario, order in channels.items():
        first = pl.coalesce([pl.when(pl.col(f"{c}_ok")).then(pl.lit(c)) for c in order] + [pl.lit(None, pl.String)])
        choice = pl.when(pl.col("scenario") == scenario).then(first).otherwise(choice)
    return (
        rows.join(consents.select("customer_id", "email_ok", "sms_ok"), on="customer_id", how="left", maintain_order="left")
        .with_columns(pl.col("email_ok", "sms_ok").fill_null(False))
        .with_columns(channel=choice).drop("email_ok", "sms_ok")
    )


def normal_email(email: pl.Expr) -> pl.Expr:
    return email.str.strip_chars().str.to_lowercase()


def normal_phone(phone: pl.Expr) -> pl.Expr:
    """The last `PHONE_DIGITS` digits of a phone number (null with fewer digits)."""
    digits = phone.str.replace_all(r"\D", "")
    return pl.when(digits.str.len_chars() >= PHONE_DIGITS).then(digits.str.slice(-PHONE_DIGITS))


def suppressed_ids(lists: Sequence[pl.DataFrame], customers: pl.DataFrame) -> pl.Series:
    """The customer ids a suppression list names, by customer_id, by email (trimmed, case-insensitive)
    or by phone number (`normal_phone`), through the contact columns of `customers`. Each list has
    one or more of customer_id, email, phone. Sorted, unique."""
    ids: list[pl.Series] = []
    for frame in lists:
        if "customer_id" in frame.columns:
            ids.append(frame.get_column("customer_id").cast(pl.String).str.strip_chars().drop_nulls())
        for column, norm in (("email", normal_email), ("phone", normal_phone)):
            if column in frame.columns and column in customers.columns:
                keys = frame.select(norm(pl.col(column)).alias("_key")).drop_nulls().unique()
                matched = customers.select("customer_id", _key=norm(pl.col(column))).join(keys, on="_key", how="semi")
                ids.append(matched.get_column("customer_id"))
    if not ids:
        return pl.Series("customer_id", [], dtype=pl.String)
    return pl.concat(ids).drop_nulls().unique().sort().alias("customer_id")


def capped_customers(history: pl.LazyFrame, *, as_of: dt.date, max_messages: int, cap_days: int,
                     control_variant: str) -> tuple[pl.DataFrame, list[str]]:
    """Customers who already had `max_messages` messages or more in the `cap_days` days ending on
    `as_of` (sent_at in (as_of - cap_days, as_of]): one more would break the cap. Rows of the
    `control_variant` (held out, sent nothing) do not count; rows without a sent_at date cannot be
    placed in time and are left out, with a warning.

    Returns (customer_id, messages: the count in the window), sorted; and the warnings.
    """
    names = history.collect_schema().names()
    if "sent_at" not in names:
        return pl.DataFrame(schema={"customer_id": pl.String, "messages": pl.Int64}), [
            "the campaigns table has no sent_at column: frequency capping is not applied"]
    sent = history.filter(pl.col("customer_id").is_not_null())
    if "variant" in names:
        sent = sent.filter(pl.col("variant").fill_null("") != control_variant)
    start = as_of - dt.timedelta(days=cap_days - 1)
    warnings = []
    undated = int(sent.select(pl.col("sent_at").is_null().sum()).collect().item())
    if undated:
        warnings.append(f"{undated:,} campaign rows have no sent_at date: left out of the frequency cap")
    capped = (
        sent.filter(pl.col("sent_at").is_between(pl.lit(start), pl.lit(as_of)))
        .group_by("customer_id").agg(messages=pl.len().cast(pl.Int64))
        .filter(pl.col("messages") >= max_messages).sort("customer_id").collect()
    )
    return capped, warnings


def arbitrate(rows: pl.DataFrame, order: Sequence[str]) -> pl.DataFrame:
    """One row per customer: the highest priority wins; equal priorities go to the scenario first in
    `order`. Sorted by customer_id."""
    rank = pl.col("scenario").replace_strict(list(order), list(range(len(order))), return_dtype=pl.Int64)
    return (
        rows.with_columns(_rank=rank).sort(["customer_id", "priority", "_rank"], descending=[False, True, False])
        .unique("customer_id", keep="first", maintain_order=True).drop("_rank")
    )


# FNV-1a, 64 bits (Fowler, Noll & Vo; draft-eastlake-fnv), then the 64-bit finaliser of
# MurmurHash3 (Appleby), so that every bit of the result depends on every byte of the key.
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
FMIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def _utf8(keys: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, offsets): the UTF-8 bytes of every value of `keys` (no null) end to end, and where
    each value starts (one more offset than values: the last one is the end)."""
    arrow = keys.cast(pl.Binary).to_arrow()
    chunk = (arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow).cast(pa.large_binary())
    _, offsets, data = chunk.buffers()
    starts = np.frombuffer(offsets, dtype=np.int64)[chunk.offset:chunk.offset + len(chunk) + 1] if offsets is not None else np.zeros(1, np.int64)
    return (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)), starts


def fnv1a(keys: pl.Series) -> np.ndarray:
    """FNV-1a, 64 bits, of each text of `keys` (its UTF-8 bytes), modulo 2^64: vectorised over the
    values, the loop is over byte positions."""
    data, offsets = _utf8(keys)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h = np.full(lengths.size, FNV_OFFSET, dtype=np.uint64)
    shortest, longest = (int(lengths.min()), int(lengths.max())) if lengths.size else (0, 0)
    for j in range(shortest):  # every key has a byte here
        h = (h ^ data[starts + j]) * FNV_PRIME
    for j in range(shortest, longest):
        live = np.flatnonzero(lengths > j)
        h[live] = (h[live] ^ data[starts[live] + j]) * FNV_PRIME
    return h


def fmix64(h: np.ndarray) -> np.ndarray:
    """The MurmurHash3 finaliser of 64-bit values: x ^= x >> 33; x *= 0xff51afd7ed558ccd;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53; x ^= x >> 33 (modulo 2^64)."""
    h = h.copy()
    for mult in FMIX:
        h ^= h >> np.uint64(33)
        h *= mult
    h ^= h >> np.uint64(33)
    return h


def control_draw(customer_ids: Sequence[str] | pl.Series, scenarios: Sequence[str] | pl.Series, seed: int) -> pl.Series:
    """A uniform number in [0, 1) per (customer, scenario), fixed by the seed: the top 53 bits of
    `fnv1a_mix("<seed>\\x1f<scenario>\\x1f<customer_id>")` over 2^53. It depends on nothing else (not
    the other customers, not the row order, not the machine or the Polars version: the hash is
    written here, on the key's UTF-8 bytes), so a customer's control status is stable across runs
    and files for a seed."""
    frame = pl.DataFrame({"c": pl.Series(customer_ids, dtype=pl.String), "s": pl.Series(scenarios, dtype=pl.String)})
    keys = frame.select(pl.concat_str([pl.lit(f"{seed}\x1f"), pl.col("s"), pl.lit("\x1f"), pl.col("c")])).to_series()
    draws = (fmix64(fnv1a(keys)) >> np.uint64(11)).astype(np.float64) / 2.0**53
    return pl.Series("draw", draws, dtype=pl.Float64)


def control_flags(rows: pl.DataFrame, shares: Mapping[str, float], seed: int) -> pl.Series:
    """True for the rows (customer_id, scenario) held out in their scenario's control group: their
    `control_draw` is below the scenario's control share."""
    draw = control_draw(rows.get_column("customer_id"), rows.get_column("scenario"), seed)
    share = rows.get_column("scenario").replace_strict(dict(shares), return_dtype=pl.Float64)
    return (draw < share).alias("control")
