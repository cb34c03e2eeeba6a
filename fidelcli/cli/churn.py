"""`fidelcli churn train` and `fidelcli churn score`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import polars as pl
import typer

from fidelcli.cli import options, render
from fidelcli.config import Churn, default
from fidelcli.errors import ConfigError
from fidelcli.io.columns import Kind
from fidelcli.io.write import write_json

if TYPE_CHECKING:
    from fidelcli.churn import ChurnInputs
# fidelcli.churn (scikit-learn, SciPy) is imported by the commands that use it, so others start fast.

app = typer.Typer(help="Churn risk: train a model on past behaviour, then score customers.\n\n"
                  "Example: fidelcli churn train -t sales.csv --horizon 90d --model-out churn.json",
                  no_args_is_help=True)

SurveysOpt = Annotated[str | None, typer.Option("--surveys", help="Surveys table (latest NPS/CSAT/CES as features).", show_default=False)]
CampaignsOpt = Annotated[str | None, typer.Option("--campaigns", help="Campaigns table (opens and clicks as features).", show_default=False)]
SubscriptionsOpt = Annotated[
    str | None, typer.Option("--subscriptions", help="Subscriptions table: churn = cancellation within the horizon.", show_default=False)
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help=f"Seed of the model fit (default {default(Churn, 'seed')} or \\[churn] seed).", show_default=False)
]


def _inputs(customers: str | None, surveys: str | None, campaigns: str | None, subscriptions: str | None,
            date_format: str | None) -> ChurnInputs:
    """Read the optional tables (flag, else `[inputs]` of the config) and check their values parse."""
    from fidelcli.churn import ChurnInputs

    lfs: dict[str, pl.LazyFrame | None] = {}
    kinds: tuple[Kind, ...] = ("customers", "surveys", "campaigns", "subscriptions")
    for kind, source in zip(kinds, (customers, surveys, campaigns, subscriptions), strict=True):
        tbl = options.table(kind, source, date_format=date_format, required=False)
        if tbl is not None:
            tbl.check()
        lfs[kind] = tbl.lf if tbl is not None else None
    return ChurnInputs(**lfs)


@app.command("train")
@options.read_options
@options.tx_options(inputs=("customers", "surveys", "campaigns", "subscriptions"),
                    fields=("transactions", "maps", "date_format", "returns", "occasion"))
def train_cmd(
    model_out: Annotated[Path, typer.Option("--model-out", help="Write the model file (JSON, safe to load).", show_default=False,
                                            callback=options.output_file)],
    tx: options.TxOptions,
    customers: options.CustomersOpt = None,
    surveys: SurveysOpt = None,
    campaigns: CampaignsOpt = None,
    subscriptions: SubscriptionsOpt = None,
    cutoff: Annotated[dt.datetime | None, typer.Option(
        "--cutoff", formats=options.DATE, show_default=False,
        help="Validation cutoff: features up to it, churn measured over the horizon after it "
             "(default: the latest date whose horizon the data covers).")] = None,
    horizon: Annotated[str | None, typer.Option(
        "--horizon", help=f"Churn horizon: 90d, 12w, 3m (default {default(Churn, 'horizon')}).", show_default=False)] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write the validation report (JSON).", show_default=False, callback=options.output_file)] = None,
    calibration: Annotated[Literal["sigmoid", "isotonic"] | None, typer.Option(
        "--calibration", help=f"Probability calibration (default {default(Churn, 'calibration')}: keeps the ranking).", show_default=False)] = None,
    seed: SeedOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Train a churn model with a time-based validation against simple baselines.

    Features are computed at a cutoff from the data up to it; the label is "no purchase in the
    horizon after it" (or a cancellation, with --subscriptions). Prints AUC, PR-AUC, Brier score,
    lift and capture in the top decile for both candidates (logistic regression, gradient boosting)
    and three baselines (a logistic regression on recency, frequency, monetary value and tenure;
    recency alone; P(alive)). Saves the candidate with the best validation AUC (the simpler one
    unless the other is better by more than one standard error) and says by how much it beats
    each baseline; a warning says when it does not clearly beat the RFM logistic baseline.

    Example: fidelcli churn train -t sales.csv --cutoff 2024-12-31 --horizon 90d --model-out churn.json --report churn_report.json
    """
    from fidelcli.churn import train_churn

    options.set_lang(lang)
    cfg = options.config().churn
    transactions = tx.load()
    inputs = _inputs(customers, surveys, campaigns, subscriptions, tx.date_format)
    with render.progress("training the churn model"):
        result = train_churn(
            transactions,
            engine=options.engine(),
            cutoff=options.date(cutoff),
            horizon=horizon or cfg.horizon,
            inputs=inputs,
            calibration=calibration or cfg.calibration,
            seed=seed if seed is not None else cfg.seed,
        )
    render.warnings(result.warnings)
    result.model.save(model_out)
    render.info(f"wrote the model to {model_out}")
    if report is not None:
        write_json(result.report.model_dump(mode="json"), report)
        render.info(f"wrote the report to {report}")
    rep = result.report
    render.info(rep.validation)
    render.frame(result.metrics_table(), fmt=fmt, title=f"churn within {rep.horizon} after {rep.validation_cutoff} (validation)")
    render.info(rep.selection)
    render.info(result.verdict())


def _bands(flag: str | None, cfg: Churn) -> dict[str, float] | list[float] | None:
    if flag:
        try:
            return [float(v) for v in flag.split(",")]
        except ValueError:
            raise ConfigError(f"--bands {flag!r} is not a list of probabilities", hint="e.g. --bands 0.3,0.6") from None
    return cfg.bands


@app.command("score")
@options.read_options
@options.tx_options(inputs=("customers", "surveys", "campaigns", "subscriptions"),
                    fields=("transactions", "maps", "date_format", "returns", "occasion", "as_of"))
def score_cmd(
    model: Annotated[Path, typer.Option("--model", help="Model file written by churn train.", callback=options.input_file)],
    tx: options.TxOptions,
    customers: options.CustomersOpt = None,
    surveys: SurveysOpt = None,
    campaigns: CampaignsOpt = None,
    subscriptions: Annotated[str | None, typer.Option(
        "--subscriptions", help="Subscriptions table, when the model was trained with it.", show_default=False)] = None,
    bands: Annotated[str | None, typer.Option(
        "--bands", help="Risk-band cut points, e.g. 0.3,0.6 -> low/medium/high (default \\[churn] bands or 0.3,0.6).",
        show_default=False)] = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Score every customer's churn risk: probability, risk band and three drivers in plain words.

    Features use only the data before --as-of (default: the day after the latest transaction).
    Prints churn risk per RFM segment (per risk band when segments are unavailable); -o writes one row per customer.

    Example: fidelcli churn score -t sales.csv --model churn.json --as-of 2025-01-01 -o churn_scores.csv
    """
    from fidelcli.churn import ChurnModel, check_bands, churn_score_analysis

    options.set_lang(lang)
    cfg = options.config()
    band_spec = check_bands(b) if (b := _bands(bands, cfg.churn)) is not None else None
    fitted = ChurnModel.load(model)
    transactions = tx.load()
    inputs = _inputs(customers, surveys, campaigns, subscriptions, tx.date_format)
    with render.progress("scoring churn risk"):
        result = churn_score_analysis(transactions, fitted, engine=options.engine(), inputs=inputs, bands=band_spec,
                                      bins=cfg.rfm.bins, lang=render.settings.lang)
    render.warnings(result.warnings)
    if output is not None:
        render.save(result.frame, output)
    render.frame(result.tables()["summary"], fmt=fmt, title=f"churn risk on {result.as_of}")
