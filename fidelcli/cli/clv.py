"""`fidelcli clv`: fit the CLV models, predict per customer, report fit quality and the holdout."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import polars as pl
import typer

from fidelcli import __version__
from fidelcli.analyses.timeunits import parse_horizon
from fidelcli.cli import options, render
from fidelcli.cli.render import OutputFormat
from fidelcli.config import Analysis, Clv, default, parse_margin
from fidelcli.engine.periods import TimeUnit
from fidelcli.errors import ConfigError, InputError
from fidelcli.extras import require
from fidelcli.io.write import write_json
from fidelcli.privacy.pseudonymize import PSEUDONYM_KEY_ENV as PSEUDONYM_KEY_ENV  # re-exported: cli/report reads it here

if TYPE_CHECKING:
    from fidelcli.analyses.clv import ClvResult, Summary
    from fidelcli.clean import Transactions

# The models (SciPy) are imported by the functions that use them, so other commands start fast.

SummaryOpt = Annotated[
    str | None,
    typer.Option(
        "--summary", help="Per-customer summary table instead of transactions: frequency, recency, T (or periods), optional "
        "monetary_value, weight.", show_default=False, callback=options.input_file,
    ),
]
CalibrationEndOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        "--calibration-end", formats=options.DATE, help="Fit on purchases up to this day (included) and report the holdout after it.",
        show_default=False,
    ),
]
TimeUnitOpt = Annotated[
    TimeUnit | None,
    typer.Option(
        "--time-unit", help=f"Time unit of the model (default {default(Clv, 'time_unit')}; a month is 365.25/12 days; for BG/BB "
        "the period of the summary).", show_default=False,
    ),
]
# Spelled out (as `fidelcli.analyses.clv.ModelName`): importing that module here would load SciPy.
ModelOpt = Annotated[
    Literal["auto", "bgnbd", "pnbd", "mbgnbd", "bgbb"],
    typer.Option(
        "--model", help="Purchase model; auto fits each applicable one and keeps the lowest holdout error with --calibration-end, "
        "else the lowest BIC (the simplest when BICs differ by less than 2).",
    ),
]
HorizonOpt = Annotated[
    str | None,
    typer.Option(
        "--horizon", help=f"Prediction horizon with its unit: 12m, 52w, 365d, 1y (default {default(Clv, 'horizon')}).",
        show_default=False,
    ),
]
DiscountRateOpt = Annotated[
    float | None,
    typer.Option(
        "--discount-rate", help=f"Annual discount rate (default {default(Clv, 'discount_rate')}), converted to the model's period.",
        show_default=False,
    ),
]
MarginOpt = Annotated[
    str | None,
    typer.Option(
        "--margin", help="Margin rate (0.3 or 30%), or 'column' for the transactions' margin/cost column (default \\[clv] or "
        "\\[analysis] margin, else 1: revenue).", show_default=False,
    ),
]
LifetimeOpt = Annotated[
    float | None,
    typer.Option(
        "--lifetime", help="Expected relationship duration in years (> 0) for the historical CLV (default: 1 / annual churn "
        "measured in the data).", show_default=False,
    ),
]
SaveModelOpt = Annotated[
    Path | None, typer.Option("--save-model", help="Save the fitted models as JSON.", show_default=False, callback=options.output_file)
]
LoadModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--load-model", help="Predict with models saved by --save-model instead of fitting.", show_default=False,
        callback=options.input_file,
    ),
]


def margin_rate(flag: str | None, clv: Clv, analysis: Analysis) -> float | None:
    """The margin of the CLV: --margin, else `[clv] margin`, else `[analysis] margin`, else 1 (the
    CLV is revenue); None for `column` (the transactions' margin or cost column)."""
    if flag is not None:
        try:
            value = parse_margin(flag)
        except ValueError as exc:
            hint = "use --margin 0.3 for 30 %" if "between" in str(exc) else "use --margin 0.3, --margin 30% or --margin column"
            raise ConfigError(f"--margin {exc}", hint=hint) from None
    else:
        value = clv.margin if clv.margin is not None else analysis.margin if analysis.margin is not None else 1.0
    return None if value == "column" else float(value)


def pseudonym_key() -> str:
    """The key of the pseudonymised ids: FIDELCLI_PSEUDONYM_KEY, or a random key drawn for this run
    (pseudonyms are then not comparable across runs, and cannot be reversed from a public default)."""
    return os.environ.get(PSEUDONYM_KEY_ENV) or secrets.token_hex(16)


def _show(result: ClvResult, fmt: OutputFormat, *, top: int, key: str) -> None:
    render.frame(result.parameters(), fmt=fmt, title="Parameters")
    render.frame(result.fit.comparison, fmt=fmt, title="Fit quality (total log-likelihood, AIC, BIC)")
    render.mapping(result.quality(), fmt=fmt, title="Summary")
    report = result.holdout
    if report is not None:
        render.mapping({k: v if v is None or isinstance(v, int) else round(v, 4) for k, v in report.metrics.items()}, fmt=fmt,
                       title="Holdout: predicted vs actual purchases")
        render.frame(report.by_frequency, fmt=fmt, title="Holdout by calibration frequency (means per customer)")
        if report.tracking.height:
            # Every 4th week and the last one: the full weekly series is in --plots DIR.
            t = report.tracking
            shown = t.filter((pl.col("week") % 4 == 0) | (pl.col("week") == t["week"].max()))
            render.frame(shown.with_columns(pl.col("date").cast(pl.String)), fmt=fmt, max_rows=200,
                         title="Cumulative repeat purchases, actual vs expected (every 4th week)")
    from fidelcli.analyses.clv import top_customers

    render.frame(top_customers(result.customers, key=key.encode("utf-8"), n=top), fmt=fmt, title=f"Top {top} customers (pseudonymised ids)",
                 caption=render.pseudonym_caption(keyed=bool(os.environ.get(PSEUDONYM_KEY_ENV))))


@options.read_options
@options.tx_options(inputs=("summary",))
def clv_cmd(
    tx: options.TxOptions,
    summary: SummaryOpt = None,
    calibration_end: CalibrationEndOpt = None,
    time_unit: TimeUnitOpt = None,
    model: ModelOpt = "auto",
    horizon: HorizonOpt = None,
    discount_rate: DiscountRateOpt = None,
    margin: MarginOpt = None,
    lifetime: LifetimeOpt = None,
    penalizer: Annotated[float, typer.Option("--penalizer", min=0.0, help="L2 penalty on the log-parameters.")] = 0.0,
    ci: Annotated[float | None, typer.Option("--ci", help="Bootstrap interval level, e.g. 0.9 (adds *_lower/*_upper columns).", show_default=False)] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=2, help="Bootstrap draws with --ci.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    top: Annotated[int, typer.Option("--top", min=0, help="Top customers shown (pseudonymised).")] = 10,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write the charts (PNG) into this directory.", show_default=False)] = None,
    save_model: SaveModelOpt = None,
    load_model: LoadModelOpt = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Fit BG/NBD, Pareto/NBD, MBG/NBD or BG/BB with Gamma-Gamma spend; predict CLV per customer.

    Prints the parameters, fit quality, the holdout report (with --calibration-end) and the top
    customers; the per-customer table (customer_id, frequency, recency, T, monetary_value, p_alive,
    expected_purchases, expected_value, clv, value_tier, ...) goes to -o FILE, or to stdout as
    CSV/JSON with --format csv|json or when piped. Top customers are shown as a short keyed hash
    (HMAC-SHA256, key from FIDELCLI_PSEUDONYM_KEY, else a random key per run), never as raw ids. Defaults can be set in the
    clv table of fidelcli.toml: time_unit, horizon, discount_rate, margin, lifetime. Purchase occasions
    are shopping days (--occasion day, the default: several orders on one day are one purchase);
    returns are netted against spend as rfm nets them (--returns). A degenerate fit is never used:
    auto moves to the next model, a named model exits 2.

    Example: fidelcli clv -t sales.csv --calibration-end 2024-06-30 --horizon 12m --discount-rate 0.1 --margin 0.3 -o clv.csv
    """
    from fidelcli.analyses.clv import ClvOptions, check_options, customer_lifetime_value, load_model_file, model_document, read_summary_file

    options.set_lang(lang)
    config = options.config()
    cfg = config.clv
    if tx.transactions is not None and summary is not None:
        raise InputError("give either -t/--transactions or --summary, not both", hint="e.g. fidelcli clv -t sales.csv, or fidelcli clv --summary cbs.csv")
    loaded = None
    if load_model is not None:
        loaded = load_model_file(load_model)
        if time_unit is not None and time_unit != loaded[1]:
            raise ConfigError(f"--time-unit {time_unit} differs from the model file's {loaded[1]}", hint="drop --time-unit when loading a model")
        time_unit = loaded[1]
    unit = time_unit or cfg.time_unit
    opts = ClvOptions(
        horizon=parse_horizon(horizon or cfg.horizon),
        discount_rate=discount_rate if discount_rate is not None else cfg.discount_rate,
        margin=margin_rate(margin, cfg, config.analysis),
        lifetime_years=lifetime if lifetime is not None else cfg.lifetime,
        ci=ci,
        n_bootstrap=bootstrap,
        seed=seed,
    )
    check_options(opts)  # before any work
    if plots is not None:
        require("plots", purpose="drawing the charts of --plots")  # matplotlib: an optional extra
    cal = options.date(calibration_end)
    fit = loaded[0] if loaded else None
    if summary is not None:
        if tx.occasion is not None:
            raise ConfigError("--occasion applies to transactions, not a summary table", hint="drop --occasion or use -t FILE")
        discrete = model == "bgbb" or (fit is not None and fit.purchase.name == "bgbb")
        with render.progress(f"reading {summary}"):
            data: Summary | Transactions = read_summary_file(summary, time_unit=unit, discrete=None if model == "auto" and fit is None else discrete)
    else:
        data = tx.load(occasion="day")  # BTYD models count shopping days (Fader, Hardie & Lee 2005)
    with render.progress("fitting and predicting" if summary is not None else "summarising purchases, fitting and predicting"):
        result = customer_lifetime_value(data, engine=options.engine(), model=model, penalizer=penalizer,
                                         options=opts, fit=fit, calibration_end=cal, time_unit=unit, occasion=tx.occasion or "day")
    render.warnings(result.warnings)
    for note in result.fit.notes:
        render.info(note)
    report = result.holdout
    if report is not None:
        render.warnings(report.warnings)
    if not result.fit.purchase.converged_:
        render.warn(f"{result.fit.purchase.name}: the optimiser did not report convergence; check the parameters or try --penalizer 0.01")
    smry = result.summary
    if save_model is not None:
        write_json(model_document(result.fit, time_unit=unit, calibration_end=smry.calibration_end or cal, version=__version__), save_model)
        render.info(f"wrote the model to {save_model}")
    if plots is not None:
        from fidelcli.report.plots import write_plots

        # The largest frequency and age of the summary, as Python numbers.
        top_frequency, top_age = smry.frame.select(pl.col("frequency").max(), pl.col(smry.age).max()).row(0)
        paths = write_plots(
            plots, result.fit.purchase, max_frequency=int(min(top_frequency, 30)),
            T=float(top_age), horizon_length=opts.horizon.length(unit), time_unit=unit,
            horizon_label=str(opts.horizon), discrete=smry.discrete,
            tracking=report.tracking if report else None, by_frequency=report.by_frequency if report else None,
        )
        render.info(f"wrote {len(paths)} charts to {plots}")
    if output is not None:
        render.save(result.customers, output)
        if fmt is None and not render.is_terminal():
            return  # the file has the per-customer table; nothing more on a pipe unless --format asks
    resolved = render.default_format(fmt)
    if output is not None and fmt is None:
        resolved = "table"
    if resolved in ("csv", "json", "jsonl"):
        render.frame(result.customers, fmt=resolved)
    else:
        _show(result, resolved, top=top, key=pseudonym_key())
