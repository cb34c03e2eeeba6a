"""`roi abtest` from its inputs: the recipients' results, joined to what is known about them before
the campaign (RFM features and segment from the transactions, a column of the customers table), then
`abtest()`. This is the one library call of the command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl

from fidelcli.analyses.roi.abtest import AbtestResult, abtest
from fidelcli.analyses.roi.options import AbtestOptions
from fidelcli.errors import InputError

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.config import Rfm
    from fidelcli.engine import Engine

# The per-customer features of the transactions (before the campaign) the uplift model learns from.
HISTORY_FEATURES = ("recency", "frequency", "monetary", "tenure")
NO_HISTORY = "no purchase before"


def recipient_history(tx: Transactions, *, engine: Engine, rfm_settings: Rfm | None = None,
                      lang: Literal["en", "fr"] = "en") -> pl.DataFrame:
    """customer_id, recency, frequency, monetary, tenure and RFM segment at the transactions' as-of
    date (the CLI sets it to the campaign's send date: features measured before the treatment)."""
    from fidelcli.analyses.rfm import rfm

    kwargs = {} if rfm_settings is None else {"bins": rfm_settings.bins, "monetary": rfm_settings.monetary,
                                                "thresholds": rfm_settings.thresholds, "segments": rfm_settings.segments}
    seg = rfm(engine.customer_summary(tx), as_of=tx.as_of, lang=lang, **kwargs)  # type: ignore[arg-type]
    cols = [c for c in ("customer_id", *HISTORY_FEATURES, "segment") if c in seg.customers.columns]
    return seg.customers.select(cols).with_columns(pl.col(c).cast(pl.Float64) for c in HISTORY_FEATURES if c in cols)


def abtest_analysis(
    results: pl.LazyFrame,
    *,
    metrics: list[str],
    revenue: bool = False,
    cost: bool = False,
    by: Literal["column", "segment"] | None = None,
    features: list[str] | None = None,
    transactions: Transactions | None = None,
    engine: Engine | None = None,
    rfm_settings: Rfm | None = None,
    groups: pl.DataFrame | None = None,
    lang: Literal["en", "fr"] = "en",
    options: AbtestOptions | None = None,
) -> AbtestResult:
    """`abtest()` of the recipients, with what is known of them before the campaign.

    Parameters
    ----------
    results: one row per recipient (see `abtest`); with `transactions` or `groups`, a `customer_id` column.
    by: "column": the results' `by` column (or `groups`' second column, joined on customer_id) is the
        segment; "segment": the RFM segment from `transactions`.
    transactions: the purchases (as of the campaign's send date): recency, frequency, monetary and
        tenure become uplift features, and the segment of `by="segment"`.
    groups: customer_id and one customer attribute (`--by` a column of the customers table).

    Raises InputError when `by="segment"` has no transactions, or a join needs a customer_id.
    """
    feats = list(features or [])
    if (transactions is not None or groups is not None) and "customer_id" not in results.collect_schema().names():
        raise InputError("joining transactions or customers to the recipients needs a customer id column",
                         hint="use a campaigns table (campaign_id, customer_id, variant...) or drop -t/-c")
    if by == "segment" and transactions is None:
        raise InputError("--by segment needs the transactions (-t) to compute each recipient's RFM segment",
                         hint="pass -t FILE, or --by a column")
    if transactions is not None:
        assert engine is not None
        history = recipient_history(transactions, engine=engine, rfm_settings=rfm_settings, lang=lang)
        results = results.join(history.lazy().rename({"segment": "__segment"}), on="customer_id", how="left", maintain_order="left")
        feats += [c for c in HISTORY_FEATURES if c in history.columns and c not in feats]
        if by == "segment":
            results = results.with_columns(pl.col("__segment").fill_null(NO_HISTORY).alias("by"))
        results = results.drop("__segment")
    if groups is not None:
        name = groups.columns[1]
        results = results.join(groups.lazy().select("customer_id", pl.col(name).cast(pl.String).alias("by")), on="customer_id", how="left",
                                maintain_order="left")
    return abtest(results, metrics=metrics, revenue=revenue, cost=cost, by=by is not None, features=feats,
                  options=options or AbtestOptions())
