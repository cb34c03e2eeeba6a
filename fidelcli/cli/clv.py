"""`fidelcli clv`: fit the CLV models, predict per customer, report fit quality and the holdout."""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import polars as pl
import typer

from fidelcli import __version__
from fidelcli.analyses.timeunits import parse_horizon, rate_per_period
from fidelcli.cli import options, render
from fidelcli.cli.app import app
from fidelcli.errors import ConfigError, InputError
from fidelcli.io.read import scan_raw
from fidelcli.io.write import write_json

if TYPE_CHECKING:
    from fidelcli.analyses.clv import ClvResult
    from fidelcli.analyses.clv.holdout import HoldoutReport

# The models (SciPy) are imported by the functions that use them, so other commands start fast.
PSEUDONYM_KEY_ENV = "FIDELCLI_PSEUDONYM_KEY"


def _margin(text: str | None) -> float | None:
    """A rate (0.3, 30%) or the word `column` (use the margin or cost column of the transactions)."""
    if text is None:
        return 1.0
    t = text.strip()
    if t.lower() == "column":
        return None
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ConfigError(f"--margin {text!r} is neither a rate nor 'column'", hint="use --margin 0.3, --margin 30% or --margin column") from None
    if not (0 <= value <= 1):
        raise ConfigError(f"--margin {text!r} must be a rate between 0 and 1", hint="use --margin 0.3 for 30 %")
    return value


def _load_summary_file(path: str, *, time_unit: str, discrete: bool | None) -> Any:
    """Read a summary table; `discrete=None` (model auto) means discrete when it has periods and no T."""
    raw = scan_raw(path).collect()
    if discrete is None:
        cols = {c.lower().strip() for c in raw.columns}
        discrete = bool(cols & {"periods", "n", "n.cal", "n_cal"}) and not cols & {"t", "t.cal", "t_cal", "age"}
    from fidelcli.analyses.clv import read_summary

    return read_summary(raw, time_unit=time_unit, discrete=discrete, file=path)  # type: ignore[arg-type]


def _params_view(result: ClvResult) -> pl.DataFrame:
    rows = []
    for m in (result.fit.purchase, result.fit.spend):
        if m is None:
            continue
        for k, v in m.params_.items():
            se = m.std_errors_.get(k, math.nan)
            rows.append({"model": m.name, "parameter": k, "value": float(v), "std_error": None if not math.isfinite(se) else float(se)})
    return pl.DataFrame(rows, schema={"model": pl.String, "parameter": pl.String, "value": pl.Float64, "std_error": pl.Float64})


def _count(v: float | None) -> int | float:
    """A count of customers: an integer unless fractional weights make it fractional."""
    v = float(v or 0.0)
    return int(round(v)) if abs(v - round(v)) < 1e-9 else v


def pseudonym_key() -> str:
    """The key of the pseudonymised ids: FIDELCLI_PSEUDONYM_KEY, or a random key drawn for this run
    (pseudonyms are then not comparable across runs, and cannot be reversed from a public default)."""
    return os.environ.get(PSEUDONYM_KEY_ENV) or secrets.token_hex(16)


def _show(result: ClvResult, report: HoldoutReport | None, fmt: Any, *, top: int, key: str) -> None:
    fit = result.fit
    render.frame(_params_view(result), fmt=fmt, title="Parameters")
    render.frame(fit.comparison, fmt=fmt, title="Fit quality (total log-likelihood, AIC, BIC)")
    quality: dict[str, object] = {
        "model": fit.purchase.name,
        "customers": _count(result.totals["customers"]),
        "time_unit": result.summary.time_unit,
        **({"occasion": result.summary.occasion} if result.summary.occasion else {}),
        "horizon": str(result.options.horizon),
        "annual_discount_rate": result.options.discount_rate,
        "converged": bool(fit.purchase.converged_),
    }
    if fit.spend is not None:
        quality["spend_model_converged"] = bool(fit.spend.converged_)
    if fit.spend_frequency_correlation is not None:
        quality["spend_frequency_correlation"] = round(fit.spend_frequency_correlation, 4)
    if result.lifetime_years is not None:
        quality["expected_relationship_years"] = round(result.lifetime_years, 3)
    c = result.customers
    totals = result.totals
    quality["total_expected_purchases"] = float(totals["total_expected_purchases"] or 0.0)
    if totals["total_clv"] is not None:
        quality["total_clv"] = float(totals["total_clv"])
    quality["high_potential_customers"] = _count(totals["high_potential_customers"])
    render.mapping(quality, fmt=fmt, title="Summary")
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

    render.frame(top_customers(c, key=key, n=top), fmt=fmt, title=f"Top {top} customers (pseudonymised ids)",
                 caption=render.pseudonym_caption(keyed=bool(os.environ.get(PSEUDONYM_KEY_ENV))))


@app.command("clv")
@options.read_options
def clv_cmd(
    transactions: options.TransactionsOpt = None,
    summary: Annotated[str | None, typer.Option("--summary", help="Per-customer summary table instead of transactions: frequency, recency, T (or periods), optional monetary_value, weight.", show_default=False, callback=options.input_file)] = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    as_of: options.AsOfOpt = None,
    start: options.StartOpt = None,
    end: options.EndOpt = None,
    returns: options.ReturnsOpt = None,
    occasion: options.OccasionOpt = None,
    calibration_end: Annotated[dt.datetime | None, typer.Option("--calibration-end", formats=options.DATE, help="Fit on purchases up to this day (included) and report the holdout after it.", show_default=False)] = None,
    time_unit: Annotated[Literal["day", "week", "month", "year"] | None, typer.Option("--time-unit", help="Time unit of the model (default week; a month is 365.25/12 days; for BG/BB the period of the summary).", show_default=False)] = None,
    model: Annotated[Literal["auto", "bgnbd", "pnbd", "mbgnbd", "bgbb"], typer.Option("--model", help="Purchase model; auto fits each applicable one and keeps the lowest holdout error with --calibration-end, else the lowest BIC (the simplest when BICs differ by less than 2).")] = "auto",
    horizon: Annotated[str | None, typer.Option("--horizon", help="Prediction horizon with its unit: 12m, 52w, 365d, 1y (default 12m).", show_default=False)] = None,
    discount_rate: Annotated[float | None, typer.Option("--discount-rate", help="Annual discount rate (default 0.1), converted to the model's period.", show_default=False)] = None,
    margin: Annotated[str | None, typer.Option("--margin", help="Margin rate (0.3 or 30%), or 'column' for the transactions' margin/cost column (default 1: revenue).", show_default=False)] = None,
    lifetime: Annotated[float | None, typer.Option("--lifetime", help="Expected relationship duration in years (> 0) for the historical CLV (default: 1 / annual churn measured in the data).", show_default=False)] = None,
    penalizer: Annotated[float, typer.Option("--penalizer", min=0.0, help="L2 penalty on the log-parameters.")] = 0.0,
    ci: Annotated[float | None, typer.Option("--ci", help="Bootstrap interval level, e.g. 0.9 (adds *_lower/*_upper columns).", show_default=False)] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=2, help="Bootstrap draws with --ci.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    top: Annotated[int, typer.Option("--top", min=0, help="Top customers shown (pseudonymised).")] = 10,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write the charts (PNG) into this directory.", show_default=False)] = None,
    save_model: Annotated[Path | None, typer.Option("--save-model", help="Save the fitted models as JSON.", show_default=False, callback=options.output_file)] = None,
    load_model: Annotated[Path | None, typer.Option("--load-model", help="Predict with models saved by --save-model instead of fitting.", show_default=False, callback=options.input_file)] = None,
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
    from fidelcli.analyses.clv import ClvOptions, clv_analysis, load_model_file, margin_rates, model_document, summary_from_transactions

    options.set_lang(lang)
    cfg = options.config().clv.model_dump(exclude_none=True)
    if transactions is not None and summary is not None:
        raise InputError("give either -t/--transactions or --summary, not both", hint="e.g. fidelcli clv -t sales.csv, or fidelcli clv --summary cbs.csv")
    if ci is not None and not 0 < ci < 1:
        raise ConfigError(f"--ci must be a level between 0 and 1, found {ci}", hint="e.g. --ci 0.9")
    loaded = None
    if load_model is not None:
        loaded = load_model_file(load_model)
        if time_unit is not None and time_unit != loaded[1]:
            raise ConfigError(f"--time-unit {time_unit} differs from the model file's {loaded[1]}", hint="drop --time-unit when loading a model")
        time_unit = loaded[1]  # type: ignore[assignment]
    unit = time_unit or cfg.get("time_unit", "week")
    opts = ClvOptions(
        horizon=parse_horizon(horizon or cfg.get("horizon", "12m")),
        discount_rate=discount_rate if discount_rate is not None else float(cfg.get("discount_rate", 0.1)),
        margin=_margin(margin if margin is not None else (str(cfg["margin"]) if "margin" in cfg else None)),
        lifetime_years=lifetime if lifetime is not None else cfg.get("lifetime"),
        ci=ci,
        n_bootstrap=bootstrap,
        seed=seed,
    )
    if opts.lifetime_years is not None and not (math.isfinite(opts.lifetime_years) and opts.lifetime_years > 0):
        raise ConfigError(f"--lifetime must be a number of years > 0, found {opts.lifetime_years!r}", hint="e.g. --lifetime 3 for three years")
    rate_per_period(opts.discount_rate, "month")  # a rate <= -1 is an error before any work
    cal = calibration_end.date() if calibration_end else None
    discrete = model == "bgbb" or (loaded is not None and loaded[0].purchase.name == "bgbb")
    if summary is not None:
        if occasion is not None:
            raise ConfigError("--occasion applies to transactions, not a summary table", hint="drop --occasion or use -t FILE")
        if cal is not None:
            raise ConfigError("--calibration-end needs transactions, not a summary table", hint="drop --calibration-end or use -t FILE")
        if opts.margin is None:
            raise ConfigError("--margin column needs transactions", hint="give a rate, e.g. --margin 0.3")
        with render.progress(f"reading {summary}"):
            smry = _load_summary_file(summary, time_unit=unit, discrete=None if model == "auto" and loaded is None else discrete)
    else:
        occ = occasion or "day"  # BTYD models count shopping days (Fader, Hardie & Lee 2005)
        tx = options.transactions(transactions, maps=maps, date_format=date_format, returns=returns, as_of=as_of, start=start, end=end,
                                  occasion=occ)
        with render.progress("summarising purchases"):
            smry = summary_from_transactions(tx, calibration_end=cal, time_unit=unit, discrete=discrete, occasion=occ)  # type: ignore[arg-type]
            if opts.margin is None:
                # From the calibration only (the summary's calibration end: a BG/BB one is moved back
                # to the end of the last complete period), so the holdout does not leak into the CLV.
                rates, margin_warnings = margin_rates(tx, calibration_end=smry.calibration_end)
                render.warnings(margin_warnings)
                overall = float(rates["margin_rate"].mean() or 0.0)
                smry.frame = smry.frame.join(rates, on="customer_id", how="left").with_columns(pl.col("margin_rate").fill_null(overall))
    with render.progress("fitting and predicting"):
        result = clv_analysis(smry, model=model, penalizer=penalizer, options=opts, fit=loaded[0] if loaded else None)
        report = None
        if smry.has_holdout:
            from fidelcli.analyses.clv.holdout import holdout_report

            report = holdout_report(result.fit.purchase, smry)
    render.warnings(result.warnings)
    for note in result.fit.notes:
        render.info(note)
    if report is not None:
        render.warnings(report.warnings)
    if not result.fit.purchase.converged_:
        render.warn(f"{result.fit.purchase.name}: the optimiser did not report convergence; check the parameters or try --penalizer 0.01")
    if save_model is not None:
        write_json(model_document(result.fit, time_unit=unit, calibration_end=smry.calibration_end or cal, version=__version__), save_model)
        render.info(f"wrote the model to {save_model}")
    if plots is not None:
        from fidelcli.report.plots import write_plots

        frame = smry.frame
        paths = write_plots(
            plots, result.fit.purchase, max_frequency=int(min(frame["frequency"].max(), 30)),  # type: ignore[arg-type]
            T=float(frame[smry.age].max()), horizon_length=opts.horizon.length(unit), time_unit=unit,  # type: ignore[arg-type]
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
        _show(result, report, resolved, top=top, key=pseudonym_key())
