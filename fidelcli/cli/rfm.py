"""`fidelcli rfm`: recency, frequency, monetary scores and segments per customer."""

from __future__ import annotations

from typing import Annotated, Literal

import polars as pl
import typer

from fidelcli.analyses.rfm import RfmResult, rfm_analysis, rfm_summary
from fidelcli.cli import options, render
from fidelcli.config import Rfm, default

BinsOpt = Annotated[
    int | None,
    typer.Option("--bins", min=2, max=10, help=f"Scores per metric (default {default(Rfm, 'bins')}, from the config).", show_default=False),
]
MonetaryOpt = Annotated[
    Literal["total", "average"] | None,
    typer.Option("--monetary", help="Monetary value: total net spend or average per purchase occasion.", show_default=False),
]
SummaryOpt = Annotated[bool, typer.Option("--summary", help="One row per segment: customers, shares, mean R/F/M.")]


def thresholds_lines(result: RfmResult) -> list[str]:
    """One line per metric saying how each score was given (the cut values actually used)."""
    lines = []
    unit = {"recency": " days", "frequency": " occasions", "monetary": ""}
    for (metric,), part in result.thresholds.group_by("metric", maintain_order=True):
        method = part.get_column("method")[0]
        bands = []
        for row in part.sort("score", descending=True).iter_rows(named=True):
            lo, hi = row["lower"], row["upper"]
            if method == "fixed":
                if metric == "recency":
                    band = f"<= {hi:g}" if lo is None else (f"> {lo:g}" if hi is None else f"{lo:g} < x <= {hi:g}")
                else:
                    band = f">= {lo:g}" if hi is None else (f"< {hi:g}" if lo is None else f"{lo:g} <= x < {hi:g}")
            else:
                band = "none" if lo is None else (f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}")
            bands.append(f"{row['score']}: {band}")
        lines.append(f"{metric} scores ({method}{unit[metric] and ', ' + unit[metric].strip()}): " + ", ".join(bands))
    return lines


@options.read_options
@options.tx_options()
def rfm_cmd(
    tx: options.TxOptions,
    bins: BinsOpt = None,
    monetary: MonetaryOpt = None,
    summary: SummaryOpt = False,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Score every customer on recency, frequency and monetary value, and name their segment.

    Scores go from 1 to --bins (5 is best); customers with equal values get equal scores. Quantile
    scores by default, or fixed thresholds from \\[rfm.thresholds] in fidelcli.toml; the thresholds used
    are printed on stderr. Segments come from the R and F scores (the default map is scaled to --bins
    other than 5). Without amounts, monetary is empty and there is no M score. With -o the table goes
    to the file (add --format to print it too).

    Example: fidelcli rfm -t sales.csv --summary
    """
    options.set_lang(lang)
    cfg = options.config().rfm
    transactions = tx.load()
    with render.progress("computing RFM"):
        result = rfm_analysis(
            transactions,
            engine=options.engine(),
            bins=bins or cfg.bins,
            monetary=monetary or cfg.monetary,
            thresholds=cfg.thresholds,
            segments=cfg.segments,
            lang="fr" if render.settings.lang == "fr" else "en",
        )
    render.warnings(result.warnings)
    for line in [*result.notes, *thresholds_lines(result)]:
        render.info(line)
    table: pl.DataFrame = rfm_summary(result) if summary else result.customers
    if output is not None:
        render.save(table, output)
        if fmt is None:
            return
    render.frame(table, fmt=fmt, title=f"RFM segments as of {result.as_of}" if summary else f"RFM as of {result.as_of}")
