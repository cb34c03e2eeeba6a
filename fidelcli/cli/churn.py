"""`fidelcli churn train` and `fidelcli churn score`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import polars as pl
import typer

from fidelcli.cli import options, render
from fidelcli.cli.app import app
from fidelcli.errors import ConfigError
from fidelcli.io.write import write_json

if TYPE_CHECKING:
    from fidelcli.churn import ChurnInputs
# fidelcli.churn (scikit-learn, SciPy) is imported by the commands that use it, so others start fast.

churn_app = typer.Typer(help="Churn risk: train a model on past behaviour, then score customers.\n\n"
                        "Example: fidelcli churn train -t sales.csv --horizon 90d --model-out churn.json",
                        no_args_is_help=True)
app.add_typer(churn_app, name="churn")

SurveysOpt = Annotated[str | None, typer.Option("--surveys", help="Surveys table (latest NPS/CSAT/CES as features).", show_default=False)]
CampaignsOpt = Annotated[str | None, typer.Option("--campaigns", help="Campaigns table (opens and clicks as features).", show_default=False)]
SubscriptionsOpt = Annotated[
    str | None, typer.Option("--subscriptions", help="Subscriptions table: churn = cancellation within the horizon.", show_default=False)
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed of the model fit (default 0 or [churn] seed).", show_default=False)]


def _settings() -> dict[str, Any]:
    return options.config().churn.model_dump(exclude_none=True)


def _inputs(customers: str | None, surveys: str | None, campaigns: str | None, subscriptions: str | None,
            date_format: str | None) -> ChurnInputs:
    """Read the optional tables (flag, else `[inputs]` of the config) and check their values parse."""
    from fidelcli.churn import ChurnInputs

    lfs: dict[str, pl.LazyFrame | None] = {}
    for kind, source in (("customers", customers), ("surveys", surveys), ("campaigns", campaigns), ("subscriptions", subscriptions)):
        tbl = options.table(kind, source, date_format=date_format, required=False)
        if tbl is not None:
            tbl.check()
        lfs[kind] = tbl.lf if tbl is not None else None
    return ChurnInputs(**lfs)


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@churn_app.command("train")
def train_cmd(
    model_out: Annotated[Path, typer.Option("--model-out", help="Write the model file (JSON, safe to load).", show_default=False)],
    transactions: options.TransactionsOpt = None,
    customers: options.CustomersOpt = None,
    surveys: SurveysOpt = None,
    campaigns: CampaignsOpt = None,
    subscriptions: SubscriptionsOpt = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    returns: options.ReturnsOpt = None,
    cutoff: Annotated[dt.datetime | None, typer.Option(
        "--cutoff", formats=options.DATE, show_default=False,
        help="Validation cutoff: features up to it, churn measured over the horizon after it "
             "(default: the latest date whose horizon the data covers).")] = None,
    horizon: Annotated[str | None, typer.Option("--horizon", help="Churn horizon: 90d, 12w, 3m (default 90d).", show_default=False)] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the validation report (JSON).", show_default=False)] = None,
    calibration: Annotated[Literal["sigmoid", "isotonic"] | None, typer.Option(
        "--calibration", help="Probability calibration (default sigmoid: keeps the ranking).", show_default=False)] = None,
    seed: SeedOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Train a churn model with a time-based validation against simple baselines.

    Features are computed at a cutoff from the data up to it; the label is "no purchase in the
    horizon after it" (or a cancellation, with --subscriptions). Prints AUC, PR-AUC, Brier score,
    lift and capture in the top decile for the model, a logistic regression, recency alone and
    P(alive).

    Example: fidelcli churn train -t sales.csv --cutoff 2024-12-31 --horizon 90d --model-out churn.json --report churn_report.json
    """
    from fidelcli.churn import train_churn

    options.set_lang(lang)
    cfg = _settings()
    tx = options.transactions(transactions, maps=maps, date_format=date_format, returns=returns)
    inputs = _inputs(customers, surveys, campaigns, subscriptions, date_format)
    with render.progress("training the churn model"):
        result = train_churn(
            tx,
            data_end=tx.as_of - dt.timedelta(days=1),
            cutoff=_date(cutoff),
            horizon=horizon or str(cfg.get("horizon", "90d")),
            inputs=inputs,
            calibration=calibration or cfg.get("calibration", "sigmoid"),
            seed=seed if seed is not None else int(cfg.get("seed", 0)),
        )
    rep = result.report
    render.warnings(rep.warnings)
    result.model.save(model_out)
    render.info(f"wrote the model to {model_out}")
    if report is not None:
        write_json(rep.model_dump(mode="json"), report)
        render.info(f"wrote the report to {report}")
    render.info(rep.validation)
    table = pl.DataFrame([{"model": name, **m.model_dump()} for name, m in rep.metrics.items()])
    render.frame(table, fmt=fmt, title=f"churn within {rep.horizon} after {rep.validation_cutoff} (validation)")
    gains = [f"{name} {gain:+.3f}" for name, gain in (("recency", rep.auc_gain_vs_recency), ("P(alive)", rep.auc_gain_vs_p_alive))
             if gain is not None]
    if gains:
        verdict = "beats" if rep.beats_baselines else "does NOT beat"
        render.info(f"gradient boosting {verdict} the baselines: AUC gain vs {', '.join(gains)}")


def _bands(flag: str | None, cfg: dict[str, Any]) -> dict[str, float] | list[float] | None:
    if flag:
        try:
            return [float(v) for v in flag.split(",")]
        except ValueError:
            raise ConfigError(f"--bands {flag!r} is not a list of probabilities", hint="e.g. --bands 0.3,0.6") from None
    return cfg.get("bands")


@churn_app.command("score")
def score_cmd(
    model: Annotated[Path, typer.Option("--model", help="Model file written by churn train.")],
    transactions: options.TransactionsOpt = None,
    customers: options.CustomersOpt = None,
    surveys: SurveysOpt = None,
    campaigns: CampaignsOpt = None,
    subscriptions: Annotated[str | None, typer.Option(
        "--subscriptions", help="Subscriptions table, when the model was trained with it.", show_default=False)] = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    returns: options.ReturnsOpt = None,
    as_of: options.AsOfOpt = None,
    bands: Annotated[str | None, typer.Option(
        "--bands", help="Risk-band cut points, e.g. 0.3,0.6 -> low/medium/high (default [churn] bands or 0.3,0.6).",
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
    from fidelcli.churn import DEFAULT_BANDS, ChurnModel, check_bands, score_churn
    from fidelcli.churn.score import churn_summary

    options.set_lang(lang)
    cfg = _settings()
    band_spec = check_bands(b) if (b := _bands(bands, cfg)) is not None else None
    fitted = ChurnModel.load(model)
    tx = options.transactions(transactions, maps=maps, date_format=date_format, returns=returns, as_of=as_of)
    inputs = _inputs(customers, surveys, campaigns, subscriptions, date_format)
    with render.progress("scoring churn risk"):
        result = score_churn(tx, fitted, cutoff=tx.as_of - dt.timedelta(days=1), inputs=inputs, bands=band_spec)
    render.warnings(result.warnings)
    if output is not None:
        render.save(result.frame, output)
    summary = churn_summary(result.frame, tx.lf, as_of=tx.as_of, bins=options.config().rfm.bins, lang=render.settings.lang,
                            bands=list(band_spec or DEFAULT_BANDS))
    render.frame(summary, fmt=fmt, title=f"churn risk on {tx.as_of}")
