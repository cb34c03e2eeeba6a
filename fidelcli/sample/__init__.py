"""Seeded sample data of every input kind, generated from known processes (`truth.json` beside it).

The customer base is generated in chunks of `CHUNK` customers, each written out before the next one
is drawn, so a million customers (about ten million order lines) stream to disk in bounded memory.
Each chunk draws from its own child of the seed, so the output depends only on (seed, customers,
window), not on anything else.

Example
-------
>>> from pathlib import Path
>>> truth = generate(Path("demo"), customers=2000, seed=42)  # doctest: +SKIP
>>> truth.spend.mean_order_value()  # doctest: +SKIP
80.0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import numpy as np
import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from scipy import stats

from fidelcli.errors import InputError
from fidelcli.io.write import write_json
from fidelcli.sample.backoffice import french_export
from fidelcli.sample.engagement import campaign_chunk, spend_table, subscriptions_chunk, surveys_chunk, touchpoints_chunk
from fidelcli.sample.people import acquisition, customers_chunk
from fidelcli.sample.purchases import catalogue, draw_spend_rates, transactions_chunk
from fidelcli.sample.truth import CampaignTruth, Truth

__all__ = ["CHUNK", "FR_EXPORT", "KIND_FILES", "Format", "Truth", "generate"]

Format = Literal["csv", "parquet"]
CHUNK = 50_000
FR_EXPORT = "export_backoffice_fr.csv"
KIND_FILES = ("transactions", "customers", "surveys", "campaigns", "subscriptions", "touchpoints", "spend")


class _Sink:
    """Appends chunks of one table to `<kind>.csv` and/or `<kind>.parquet` (one file each)."""

    def __init__(self, out_dir: Path, kind: str, formats: Iterable[Format]) -> None:
        self.paths = {fmt: out_dir / f"{kind}.{fmt}" for fmt in formats}
        self.csv: IO[bytes] | None = None
        self.parquet: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, df: pl.DataFrame) -> None:
        if "csv" in self.paths:
            if self.csv is None:
                self.csv = open(self.paths["csv"], "wb")  # noqa: SIM115  (closed in close())
                df.write_csv(self.csv, datetime_format="%Y-%m-%d %H:%M:%S")
            else:
                df.write_csv(self.csv, include_header=False, datetime_format="%Y-%m-%d %H:%M:%S")
        if "parquet" in self.paths:
            table = df.to_arrow(compat_level=pl.CompatLevel.oldest())
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.paths["parquet"], table.schema, compression="zstd")
            self.parquet.write_table(table)
        self.rows += df.height

    def close(self) -> None:
        if self.csv is not None:
            self.csv.close()
        if self.parquet is not None:
            self.parquet.close()

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def generate(
    out_dir: Path,
    *,
    customers: int = 5000,
    seed: int = 42,
    formats: Iterable[Format] = ("csv", "parquet"),
    start: dt.date = dt.date(2023, 1, 1),
    end: dt.date = dt.date(2025, 12, 31),
    fr_export: bool = False,
) -> Truth:
    """Write a realistic sample dataset of every input kind into `out_dir` and return its truth.

    Files: `<kind>.csv` and/or `<kind>.parquet` for transactions, customers, surveys, campaigns,
    subscriptions, touchpoints and spend; `truth.json` (the generating parameters, files and row
    counts); with `fr_export`, `export_backoffice_fr.csv` (the transactions as a French back-office
    exports them). Defaults give about 10 order lines per customer over three years.

    Parameters
    ----------
    out_dir: directory to write into (created if missing; existing files of the same names are replaced).
    customers: number of customers (ids C000001, C000002, ... in order of acquisition).
    seed: the seed; the same seed and options give byte-identical files.
    formats: "csv", "parquet" or both.
    start, end: the window of acquisition dates and of every dated record (inclusive).
    fr_export: also write the French back-office export of the transactions.

    Returns
    -------
    The `Truth` written to `truth.json`.

    Raises
    ------
    InputError: fewer than one customer, an empty window, or an unknown format.
    """
    formats = tuple(dict.fromkeys(formats))
    if customers < 1:
        raise InputError(f"need at least one customer, got {customers}", hint="use --customers 1000")
    if end <= start + dt.timedelta(days=60):
        raise InputError(f"the window {start} to {end} is too short", hint="give at least a few months")
    unknown = [f for f in formats if f not in ("csv", "parquet")]
    if unknown or not formats:
        raise InputError(f"unknown format {unknown[0] if unknown else '(none)'!r}", hint="use csv, parquet or both")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    days_total = (end - start).days + 1
    truth = Truth(
        seed=seed, customers=customers, start=start, end=end, chunk_size=CHUNK,
        campaign=CampaignTruth(sent_at=start + dt.timedelta(days=int(days_total * 0.8))),
    )
    truth.basket.pair_lift = truth.basket.implied_lift()
    width = max(6, len(str(customers)))
    n_chunks = -(-customers // CHUNK)
    root = np.random.SeedSequence(seed)
    base_seq, catalogue_seq, spend_seq, *chunk_seqs = root.spawn(3 + n_chunks)
    base = acquisition(truth, np.random.default_rng(base_seq))
    cat = catalogue(truth, np.random.default_rng(catalogue_seq))
    pu, lo_ = truth.purchases, truth.loyalty
    tiers = np.cumsum(list(lo_.tiers.values()))
    # Tiers by purchase rate: the thresholds are quantiles of lambda's Gamma(r, alpha) law.
    cuts = stats.gamma.ppf(tiers[:-1], pu.r, scale=1.0 / pu.alpha)

    sinks = {kind: _Sink(out_dir, kind, formats) for kind in KIND_FILES}
    fr = open(out_dir / FR_EXPORT, "wb") if fr_export else None  # noqa: SIM115  (closed below)
    orders = 0
    try:
        for k, seq in enumerate(chunk_seqs):
            lo, hi = k * CHUNK, min((k + 1) * CHUNK, customers)
            n = hi - lo
            r_people, r_tx, r_survey, r_campaign, r_subs, r_touch = (np.random.default_rng(s) for s in seq.spawn(6))
            lam0 = r_people.gamma(pu.r, 1.0 / pu.alpha, n)
            lam = lam0 * np.where(base.referrer[lo:hi] >= 0, pu.referred_rate_multiplier, 1.0)
            # nu is drawn first from the transactions' stream (as transactions_chunk would): members
            # are chosen on it (`LoyaltyTruth.member_probability`: big baskets join more often).
            spend_rates = draw_spend_rates(truth, n, r_tx)
            member = r_people.random(n) < lo_.member_probability(spend_rates[1], truth.spend)
            later = r_people.random(n) >= lo_.enrolled_at_first_purchase
            enroll_day = np.minimum(
                base.day[lo:hi] + np.where(later, r_people.integers(0, lo_.enroll_within_days + 1, n), 0), days_total - 1
            )
            tier = np.searchsorted(cuts, lam0)
            people = customers_chunk(truth, base, lo, hi, member=member, enroll_day=enroll_day, tier=tier, rng=r_people, width=width)
            chunk = transactions_chunk(truth, base, cat, lo, hi, lam=lam, member=member, enroll_day=enroll_day,
                                       order_offset=orders, rng=r_tx, width=width, spend_rates=spend_rates)
            orders += chunk.orders
            sinks["customers"].write(people)
            sinks["transactions"].write(chunk.transactions)
            if fr is not None:
                fr.write(french_export(chunk.transactions, header=k == 0))
            sinks["surveys"].write(surveys_chunk(truth, lo, chunk.last_day, chunk.dropped, r_survey, width))
            sinks["campaigns"].write(campaign_chunk(truth, base, lo, hi, r_campaign, width))
            sinks["subscriptions"].write(subscriptions_chunk(truth, base, lo, hi, r_subs, width))
            sinks["touchpoints"].write(touchpoints_chunk(
                truth, base, lo, hi, member=member, enroll_day=enroll_day, dropped=chunk.dropped,
                first_channel=chunk.first_channel, rng=r_touch, width=width))
            del people, chunk
        sinks["spend"].write(spend_table(truth, base, np.random.default_rng(spend_seq)))
    finally:
        for sink in sinks.values():
            sink.close()
        if fr is not None:
            fr.close()
    truth.files = {kind: [p.name for p in sink.paths.values()] for kind, sink in sinks.items()}
    truth.rows = {kind: sink.rows for kind, sink in sinks.items()}
    if fr_export:
        truth.files["export_backoffice_fr"] = [FR_EXPORT]
        truth.rows["export_backoffice_fr"] = truth.rows["transactions"]
    write_json(truth, out_dir / "truth.json")
    return truth
