"""`fidelcli recommend rules` and `fidelcli recommend customers`: cross-sell and up-sell from baskets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import typer

from fidelcli.cli import options, render
from fidelcli.config import Recommend, default
from fidelcli.errors import InputError
from fidelcli.io.baskets import OPTIONAL, basket_table, stand_ins

app = typer.Typer(help="Cross-sell and up-sell: association rules from baskets, and per-customer top-N products not yet bought.\n\n"
                  "Example: fidelcli recommend rules -t sales.csv --min-support 0.01 --min-confidence 0.5",
                  no_args_is_help=True)

MinSupportOpt = Annotated[float | None, typer.Option(
    "--min-support", help=f"Minimum support: share of baskets holding the rule's items (default {default(Recommend, 'min_support')}).",
    show_default=False)]
MinConfidenceOpt = Annotated[float | None, typer.Option(
    "--min-confidence", help=f"Minimum confidence P(consequent | antecedent) (default {default(Recommend, 'min_confidence')}).",
    show_default=False)]
Metric = Literal["lift", "confidence", "support", "leverage", "conviction"]


@app.command("rules")
@options.read_options
@options.tx_options()
def rules_cmd(
    tx: options.TxOptions,
    level: Annotated[Literal["product", "category"] | None, typer.Option(
        "--level", help=f"Items of the baskets: products or their categories (default {default(Recommend, 'level')}).",
        show_default=False)] = None,
    min_support: MinSupportOpt = None,
    min_confidence: MinConfidenceOpt = None,
    min_lift: Annotated[float | None, typer.Option("--min-lift", help="Minimum lift (default: none).", show_default=False)] = None,
    max_antecedents: Annotated[int | None, typer.Option(
        "--max-antecedents", min=1, max=3, help=f"Items in a rule's antecedent, 1 to 3 (default {default(Recommend, 'max_antecedents')}).",
        show_default=False)] = None,
    sort: Annotated[Metric | None, typer.Option(
        "--sort", help=f"Sort the rules by this measure, highest first (default {default(Recommend, 'sort')}).", show_default=False)] = None,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Keep the first N rules (default: all).", show_default=False)] = None,
    item: Annotated[str | None, typer.Option("--item", help="Keep the rules with this item (antecedent or consequent).",
                                             show_default=False)] = None,
    consequent: Annotated[str | None, typer.Option("--consequent", help="Keep the rules with this consequent.",
                                                   show_default=False)] = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Association rules X -> Y between the products (or categories) bought together.

    A basket is an order (the order id), else a customer's day. Every rule has support (share of
    baskets with X and Y), confidence P(Y | X), lift, leverage and conviction (docs/recommend.md).
    A file without a customer column or without dates is read with only its order and product
    columns mapped (each order then stands for its customer; date options cannot be used).

    Example: fidelcli recommend rules -t groceries.csv --map order_id=transaction_id --map product_id=item --min-support 0.01
    """
    from fidelcli.analyses.recommend import recommend_rules

    options.set_lang(lang)
    cfg = options.config().recommend
    transactions = tx.load(optional=OPTIONAL, prepare=basket_table)
    assert transactions.table is not None
    undated = "date" not in transactions.table.mapping
    if undated and (tx.as_of or tx.start or tx.end):
        raise InputError("--as-of, --start and --end need a date column, and the file has none", file=transactions.file,
                         hint="map it with --map date=COLUMN, or leave the date options out")
    for line in stand_ins(transactions.table):
        render.info(f"{transactions.file}: {line}")
    with render.progress("mining association rules"):
        result = recommend_rules(
            transactions, engine=options.engine(), level=level or cfg.level,
            min_support=min_support if min_support is not None else cfg.min_support,
            min_confidence=min_confidence if min_confidence is not None else cfg.min_confidence,
            min_lift=min_lift, max_antecedents=max_antecedents or cfg.max_antecedents, sort=sort or cfg.sort, top=top,
            contains=item, consequent=consequent,
        )
    render.warnings(result.warnings)
    h = result.headline()
    noun = "categories" if result.level == "category" else "products"
    render.info(f"{h['baskets']:,} baskets, {h['items']:,} {noun}: {h['rules']:,} rules")
    if output is not None:
        render.save(result.rules, output)
        if fmt is None:
            return
    if render.default_format(fmt) == "json":
        typer.echo(result.to_json())  # the whole result, as the library returns it
        return
    render.frame(result.rules, fmt=fmt, title=f"association rules ({result.level}s) by {sort or cfg.sort}", max_rows=50)


@app.command("customers")
@options.read_options
@options.tx_options()
def customers_cmd(
    tx: options.TxOptions,
    method: Annotated[Literal["cosine", "cooccurrence", "lift", "rules"] | None, typer.Option(
        "--method", help=f"Item-to-item similarity (cosine, cooccurrence, lift) or association rules (default {default(Recommend, 'method')}).",
        show_default=False)] = None,
    top: Annotated[int | None, typer.Option(
        "--top", min=1, help=f"Products per customer (default {default(Recommend, 'top')}).", show_default=False)] = None,
    calibration_end: Annotated[dt.datetime | None, typer.Option(
        "--calibration-end", formats=options.DATE, show_default=False,
        help="Fit on the baskets up to this day and report hit rate and recall on the later ones, against popularity.")] = None,
    neighbours: Annotated[int | None, typer.Option(
        "--neighbours", min=1, help=f"Similar products kept per product (default {default(Recommend, 'neighbours')}).",
        show_default=False)] = None,
    min_support: MinSupportOpt = None,
    min_confidence: MinConfidenceOpt = None,
    upsell: Annotated[Path | None, typer.Option(
        "--upsell", help="Write the up-sell table (csv, parquet, json, jsonl, xlsx).", show_default=False,
        callback=options.output_file)] = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Per customer, the top-N products she has not bought yet, and one up-sell.

    Products are scored from her history by item-to-item similarity (customers who bought this also
    bought...) or by association rules; the most popular products fill the list (and make the whole
    list of a customer without history). The up-sell is the most popular higher-priced product of
    the category of her most bought product. With --calibration-end, the lists are fitted on the
    data up to that day, and their hit rate and recall on the products bought for the first time
    after it are printed beside the popularity baseline's.

    Example: fidelcli recommend customers -t sales.csv --top 10 --calibration-end 2025-06-30 -o recommendations.csv
    """
    from fidelcli.analyses.recommend import recommend_customers

    options.set_lang(lang)
    cfg = options.config().recommend
    transactions = tx.load()
    chosen = method or cfg.method
    with render.progress("recommending products"):
        result = recommend_customers(
            transactions, engine=options.engine(), method=chosen, n=top or cfg.top, calibration_end=options.date(calibration_end),
            neighbours=neighbours or cfg.neighbours,
            min_support=min_support if min_support is not None else 0.001,
            min_confidence=min_confidence if min_confidence is not None else 0.1,
        )
    render.warnings(result.warnings)
    if upsell is not None:
        render.save(result.upsell, upsell)
    if output is not None:
        render.save(result.recommendations, output)
    shown = render.default_format(fmt)
    if shown == "json":
        typer.echo(result.to_json())
    elif output is None or fmt is not None:
        render.frame(result.recommendations, fmt=fmt, title=f"top {result.n} products per customer ({chosen})", max_rows=30)
    if result.evaluation is not None:
        # Printed with every run that has a holdout: the table on a terminal, the sentence on stderr.
        if shown == "table":
            render.frame(result.evaluation, fmt="table", title=f"holdout after {result.calibration_end}: {chosen} vs popularity")
        verdict = result.verdict()
        if verdict is not None:
            render.info(verdict)
