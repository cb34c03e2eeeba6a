"""`fidelcli roi abtest`, `fidelcli roi scenario` (and `fidelcli roi program`): what loyalty actions pay back."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import polars as pl
import typer

from fidelcli.cli import options, render, roi_program
from fidelcli.config import Abtest, Scenario, default
from fidelcli.errors import ConfigError, InputError
from fidelcli.io.write import write_json

if TYPE_CHECKING:
    from fidelcli.result import Result

# fidelcli.analyses.roi (SciPy, scikit-learn) is imported by the commands that use it, so others start fast.

app = typer.Typer(help="Paying back: campaign A/B tests and uplift, retention scenarios, loyalty-program ROI.\n\n"
                  "Example: fidelcli roi abtest --campaigns campaigns.csv --split A=0.4 --split B=0.4 --split control=0.2",
                  no_args_is_help=True)

AbTable = Literal["variants", "lifts", "segments", "qini", "deciles"]


def _assignments(items: list[str] | None, flag: str) -> dict[str, float]:
    """`["A=0.4", "control=0.2"]` -> {"A": 0.4, "control": 0.2}."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not name.strip() or not number >= 0 or number == float("inf"):
            raise typer.BadParameter(f"expected VARIANT=NUMBER (a number >= 0), got {item!r}", param_hint=flag)
        out[name.strip()] = number
    return out


def _emit(result: Result, table: pl.DataFrame, *, output: Path | None, fmt: options.FormatOpt) -> bool:
    """Write -o (a .json file holds the whole result, another format the chosen table) and print the
    whole result for --format json, the chosen table for csv/jsonl. True when nothing more is to be shown."""
    if output is not None:
        if output.suffix.lower() == ".json":
            write_json(json.loads(result.to_json()), output)
            render.info(f"wrote the result to {output}")
        else:
            render.save(table, output)
        if fmt is None and not render.is_terminal():
            return True
    resolved = render.default_format(fmt)
    if resolved == "json":
        sys.stdout.write(result.to_json() + "\n")
        return True
    if resolved in ("csv", "jsonl"):
        render.frame(table, fmt=resolved)
        return True
    return False


@app.command("abtest")
@options.read_options
@options.tx_options(inputs=("customers",), fields=("transactions", "maps", "date_format", "as_of", "returns"))
def abtest_cmd(
    tx: options.TxOptions,
    campaigns: Annotated[str | None, typer.Option(
        "--campaigns", "--results", help="Campaigns table (per recipient: campaign_id, customer_id, variant and any of delivered, opened, "
        "clicked, converted, revenue, cost), or any per-user results table with --variant and --metric.", show_default=False)] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Per-user table: the column of the variant.", show_default=False)] = None,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help="Yes/no outcome column (repeatable; the first is the primary). Default for a campaigns table: converted.",
        show_default=False)] = None,
    revenue: Annotated[str | None, typer.Option("--revenue", help="Per-user table: the revenue column.", show_default=False)] = None,
    cost_column: Annotated[str | None, typer.Option("--cost-column", help="Per-user table: the cost column.", show_default=False)] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="Per-user table: a column that is not a feature of the uplift model (an id; repeatable).", show_default=False)] = None,
    control: Annotated[str | None, typer.Option(
        "--control", help=f"The control variant (default {default(Abtest, 'control')!r} or \\[abtest] control).", show_default=False)] = None,
    campaign: Annotated[str | None, typer.Option("--campaign", help="The campaign_id to analyse, when the table has several.",
                                                 show_default=False)] = None,
    customers: options.CustomersOpt = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Lift per segment: a column of the results (or of -c), or 'segment' for the RFM segment before the campaign (needs -t).",
        show_default=False)] = None,
    margin: Annotated[float | None, typer.Option(
        "--margin", min=0, max=1, help="Gross margin rate of the revenue (default \\[abtest] margin, \\[analysis] margin, else 1).",
        show_default=False)] = None,
    cost: Annotated[list[str] | None, typer.Option(
        "--cost", help="Cost per recipient of a variant, when the table has no cost: --cost A=0.05 (repeatable).", show_default=False)] = None,
    split: Annotated[list[str] | None, typer.Option(
        "--split", help="Designed share of a variant for the sample-ratio check: --split A=0.4 (repeatable; default equal shares).",
        show_default=False)] = None,
    confidence: Annotated[float | None, typer.Option("--confidence", min=0.5, max=0.999, help="Interval level (default 0.95).",
                                                     show_default=False)] = None,
    mde: Annotated[float | None, typer.Option(
        "--mde", min=0.0001, help="Minimum detectable effect, relative to control (default 0.1 = +10 %): power and recipients needed.",
        show_default=False)] = None,
    power: Annotated[float | None, typer.Option("--power", min=0.5, max=0.999, help="Target power of the sample size (default 0.8).",
                                                show_default=False)] = None,
    bootstrap: Annotated[int | None, typer.Option("--bootstrap", min=100, help="Bootstrap resamples of revenue (default 2000).",
                                                  show_default=False)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the bootstrap and the uplift folds (default 0).", show_default=False)] = None,
    uplift: Annotated[bool, typer.Option("--uplift", help="Fit a cross-fitted two-model uplift estimator: Qini and gain by decile.")] = False,
    folds: Annotated[int | None, typer.Option("--folds", min=2, max=20, help="Cross-fitting folds of --uplift (default 5).",
                                              show_default=False)] = None,
    table: Annotated[AbTable, typer.Option("--table", help="Table written by -o (not .json) and printed as csv/jsonl.")] = "lifts",
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Campaign variants against control: rates, lifts with intervals, p-values, power, ROI; lift per segment; uplift.

    Per variant: recipients, rates (Wilson intervals), revenue per recipient, cost, incremental margin
    and ROI % = (incremental margin - incremental cost) / incremental cost x 100. Per variant and metric
    against control: absolute and relative lift with intervals (Newcombe; Katz), two-proportion z test,
    Welch's test and a seeded bootstrap for revenue, Holm-adjusted p-values, achieved power and the
    recipients needed per arm for --mde. Warnings: sample-ratio mismatch, tiny samples, revenue driven
    by a few buyers. A per-user table loads as it is: --variant, --metric, --revenue name its columns
    and the other columns are features of --uplift. Formulas: docs/roi.md.

    Example: fidelcli roi abtest --results hillstrom.csv --variant segment --metric visit --metric conversion --revenue spend --control "No E-Mail" --uplift
    """
    from fidelcli.analyses.roi import AbtestOptions, abtest_analysis
    from fidelcli.io.results import scan_results

    options.set_lang(lang)
    config = options.config()
    cfg = config.abtest
    source = campaigns or config.inputs.campaigns
    if source is None:
        raise InputError("no campaigns input given", hint="pass --campaigns FILE (or --results FILE --variant COL --metric COL)")
    features: list[str] = []
    groups = None
    by_kind: Literal["column", "segment"] | None = None if by is None else "segment" if by == "segment" else "column"
    if variant is not None:
        if not metric:
            raise InputError("a per-user results table needs at least one --metric", hint="e.g. --metric conversion")
        options.record_input(source)
        read = options.context.read
        res = scan_results(source, variant=variant, metrics=metric, revenue=revenue, cost=cost_column,
                           by=by if by_kind == "column" and customers is None else None, exclude=exclude or (),
                           encoding=read.encoding, sheet=read.sheet, ragged=read.ragged, delimiter=read.delimiter, header=read.header)
        render.info(res.mapping_text())
        render.warnings(res.warnings)
        lf, metrics, features, has_revenue, has_cost = res.lf, res.metrics, res.features, res.has_revenue, res.has_cost
        sent_at = None
    else:
        if revenue or cost_column or exclude:
            raise InputError("--revenue, --cost-column and --exclude name columns of a per-user table",
                             hint="add --variant COL, or drop them: a campaigns table has its revenue and cost fields")
        tbl = options.table("campaigns", source, date_format=tx.date_format)
        assert tbl is not None
        tbl.check()
        lf = tbl.lf
        if campaign is not None:
            lf = lf.filter(pl.col("campaign_id") == campaign)
        ids = lf.select(pl.col("campaign_id").unique().sort()).collect()["campaign_id"].to_list()
        if len(ids) != 1:
            hint = "use --campaign with one of: " + ", ".join(map(str, ids[:20])) if ids else "check --campaign"
            raise InputError(f"the campaigns table holds {len(ids)} campaigns{'' if ids else ' with that id'}", file=tbl.file, hint=hint)
        names = lf.collect_schema().names()
        metrics = metric or (["converted"] if "converted" in names else [])
        missing = [m for m in metrics if m not in names or m in ("campaign_id", "customer_id", "variant", "sent_at", "revenue", "cost")]
        if missing or not metrics:
            outcomes = [n for n in ("delivered", "opened", "clicked", "converted") if n in names]
            raise InputError(f"--metric {', '.join(missing) or '(none)'}: not a yes/no field of the campaigns table", file=tbl.file,
                             hint="use --metric with one of: " + (", ".join(outcomes) or "(no outcome field is mapped)"))
        has_revenue, has_cost = "revenue" in names, "cost" in names
        sent_at = lf.select(pl.col("sent_at").min()).collect().item() if "sent_at" in names else None
        if by_kind == "column" and customers is None:
            groups = options.customers_column(tbl, lf.collect(), by)  # type: ignore[arg-type]
    if by_kind == "column" and customers is not None:
        groups = options.customers(customers, by=by, required=True, date_format=tx.date_format).by
    transactions = None
    if tx.transactions is not None:
        if tx.as_of is None and isinstance(sent_at, dt.date):
            # Features and segments from the purchases before the campaign: never from its outcome.
            tx.as_of = dt.datetime.combine(sent_at, dt.time())
            render.info(f"recipient history: purchases before the campaign's send date {sent_at.isoformat()}")
        transactions = tx.load()
    opts = AbtestOptions(
        control=control or cfg.control, confidence=confidence or cfg.confidence, mde=mde or cfg.mde, power=power or cfg.power,
        bootstrap=bootstrap or cfg.bootstrap, seed=seed if seed is not None else cfg.seed,
        margin=margin if margin is not None else cfg.margin if cfg.margin is not None else config.analysis.margin or 1.0,
        cost_per_recipient=_assignments(cost, "--cost") or dict(cfg.cost), split=_assignments(split, "--split") or dict(cfg.split),
        uplift=uplift, folds=folds or cfg.folds,
    )
    with render.progress("comparing the variants" + (" and fitting the uplift models" if uplift else "")):
        result = abtest_analysis(
            lf, metrics=metrics, revenue=has_revenue, cost=has_cost, by=by_kind, features=features, transactions=transactions,
            engine=options.engine() if transactions is not None else None, rfm_settings=config.rfm, groups=groups,
            lang="fr" if render.settings.lang == "fr" else "en", options=opts,
        )
    render.warnings(result.warnings)
    tables = result.tables()
    if table not in tables:
        raise InputError(f"--table {table}: this result has no such table", hint="one of: " + ", ".join(tables))
    if _emit(result, tables[table], output=output, fmt=fmt):
        return
    titles = {"variants": "variants", "lifts": f"lifts against {opts.control!r} ({opts.confidence:.0%} intervals)",
              "segments": f"lift per {by}", "qini": "uplift model (held-out): Qini coefficient",
              "deciles": "targeting by predicted uplift: deciles (1 = highest)"}
    for name, df in tables.items():
        render.frame(df, fmt=fmt, title=titles[name], max_rows=60)
    render.info(result.verdict())


@app.command("scenario")
def scenario_cmd(
    model: Annotated[Path | None, typer.Option(
        "--model", help="CLV model file (clv --save-model): retention and margin implied by the model.", show_default=False,
        callback=options.input_file)] = None,
    retention: Annotated[float | None, typer.Option("--retention", min=0, max=0.9999, help="Yearly retention today (0.6 = 60 %).",
                                                    show_default=False)] = None,
    margin: Annotated[float | None, typer.Option("--margin", min=0, help="Yearly margin per kept customer (money).", show_default=False)] = None,
    discount_rate: Annotated[float | None, typer.Option(
        "--discount-rate", help=f"Annual discount rate (default {default(Scenario, 'discount_rate')} or \\[scenario] discount_rate).",
        show_default=False)] = None,
    customers: Annotated[float | None, typer.Option("--customers", min=0, help="Customers today (default with --model: its customers).",
                                                    show_default=False)] = None,
    margin_rate: Annotated[float | None, typer.Option(
        "--margin-rate", min=0, max=1, help="With --model: gross margin rate of spend (default \\[analysis] margin, else 1).",
        show_default=False)] = None,
    points: Annotated[int | None, typer.Option("--points", min=1, max=50, help="Retention gains shown: +1 .. +N points (default 10).",
                                               show_default=False)] = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """What retention is worth: base value and yearly profit for retention +1 .. +10 points.

    From a retention rate, a yearly margin per customer and a discount rate (CLV = m r / (1 + d - r)),
    or from a fitted CLV model (its one-year survival of a new cohort, mean purchases and spend). The
    table has the value of today's base and the steady-state yearly profit for each gain; one sentence
    sums it up and the assumptions are printed (docs/roi.md).

    Example: fidelcli roi scenario --retention 0.6 --margin 40 --discount-rate 0.1 --customers 10000
    """
    from fidelcli.analyses.clv import load_model_file
    from fidelcli.analyses.roi import ScenarioInputs, inputs_from_model, retention_scenario

    options.set_lang(lang)
    config = options.config()
    cfg = config.scenario
    rate = discount_rate if discount_rate is not None else cfg.discount_rate
    if model is not None:
        if retention is not None:
            raise ConfigError("give either --model or --retention, not both", hint="--model takes the retention from the fitted model")
        fit, unit, _ = load_model_file(model)
        inputs = inputs_from_model(fit, time_unit=unit, margin_rate=margin_rate if margin_rate is not None else config.analysis.margin or 1.0,
                                   discount_rate=rate, customers=customers, margin=margin, file=model.name)
        for note in inputs.notes:
            render.info(note)
    else:
        if retention is None or margin is None:
            raise ConfigError("roi scenario needs --model, or --retention and --margin", hint="e.g. --retention 0.6 --margin 40")
        inputs = ScenarioInputs(retention=retention, margin=margin, discount_rate=rate, customers=customers)
    result = retention_scenario(inputs, points=points or cfg.points)
    render.warnings(result.warnings)
    if _emit(result, result.scenarios, output=output, fmt=fmt):
        render.info(result.sentence)
        return
    render.frame(result.scenarios, fmt=fmt, title="retention scenarios")
    render.info(result.sentence)
    render.info("assumptions: " + "; ".join(result.assumptions))


# `roi program` lives in its own module (fidelcli.cli.roi_program).
app.command("program")(roi_program.program_cmd)
