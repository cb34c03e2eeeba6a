"""`fidelcli report`: the nightly job. Validation first, then every analysis whose inputs exist, into
a new run directory published atomically (see `fidelcli.report.run`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import secrets
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from fidelcli import __version__
from fidelcli.cli import options, render
from fidelcli.errors import CheckFailed, InputError
from fidelcli.extras import require
from fidelcli.io.columns import KINDS, Kind
from fidelcli.io.read import Table
from fidelcli.io.write import atomic_dir
from fidelcli.privacy.pseudonymize import PSEUDONYM_KEY_ENV
from fidelcli.report import run as runs
from fidelcli.report.kpis import Threshold, parse_threshold, resolve_key, tripped
from fidelcli.result import Figure

OutOpt = Annotated[Path, typer.Option("--out", help="Report directory: runs go to DIR/runs/<timestamp>/, DIR/latest links the last complete one.")]
KeepOpt = Annotated[int | None, typer.Option("--keep", min=1, help="Keep the N latest runs, remove older ones (default \\[report] keep: all).",
                                             show_default=False)]
CompareOpt = Annotated[Path | None, typer.Option(
    "--compare-to", help="A previous report (its directory, or one run): deltas on every headline figure and the RFM segment migrations.",
    show_default=False)]
FailOnOpt = Annotated[list[str] | None, typer.Option(
    "--fail-on", help="Exit 1 when a kpis.json figure passes a threshold, e.g. 'kpi.churn_rate>0.3', 'validation.error>0', "
    "'revenue.delta_pct<-10' (repeatable).", show_default=False)]
WaitOpt = Annotated[float, typer.Option("--wait", min=0, help="Seconds to wait for another run on the same directory before giving up.")]
TablesOpt = Annotated[Literal["parquet", "csv"] | None, typer.Option(
    "--tables", help="Format of the table files (default \\[report] tables: parquet).", show_default=False)]
SubscriptionsOpt = Annotated[str | None, typer.Option("--subscriptions", help="Subscriptions table.", show_default=False)]

OTHER_KINDS: tuple[Kind, ...] = ("customers", "surveys", "campaigns", "subscriptions", "touchpoints", "spend", "loyalty_events")


def log(message: str) -> None:
    """A timestamped plain line on stderr (a cron log), unless --quiet."""
    if not render.settings.quiet:
        sys.stderr.write(f"{dt.datetime.now().astimezone().isoformat(timespec='seconds')} {render.diagnostic(message)}\n")
        sys.stderr.flush()


def _validation(sources: dict[Kind, str], tx: options.TxOptions, as_of: dt.date | None) -> Any:
    """Scan every input leniently and validate them (`validate`'s checks): the Report."""
    from fidelcli.validate import Finding, scan_problem, validate

    tables: dict[str, Table] = {}
    problems: list[Finding] = []
    for kind, source in sources.items():
        try:
            tbl = options.table(kind, source, maps=tx.maps if kind == "transactions" else None, date_format=tx.date_format,
                                required=False, lenient=True)
        except InputError as exc:
            found = scan_problem(exc, kind, source)
            if found is None:
                raise
            problems.append(found)
            continue
        if tbl is not None:
            tables[kind] = tbl
    return validate(tables, as_of=as_of, today=dt.date.today(), problems=problems, show_values=render.settings.show_values)


def _log_warnings(messages: list[str]) -> None:
    for m in messages:
        log(f"transactions: warning: {m}")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"fidelcli": __version__, "python": platform.python_version()}
    for dist in ("polars", "numpy", "scipy", "scikit-learn", "pyarrow", "matplotlib", "pydantic", "typer"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def _thresholds(items: list[str] | None) -> list[Threshold]:
    return [parse_threshold(t) for t in items or []]


@options.read_options
@options.tx_options(inputs=("customers", "subscriptions"), fields=("transactions", "maps", "date_format", "as_of", "returns"))
def report_cmd(
    tx: options.TxOptions,
    out: OutOpt,
    customers: options.CustomersOpt = None,
    subscriptions: SubscriptionsOpt = None,
    compare_to: CompareOpt = None,
    fail_on: FailOnOpt = None,
    keep: KeepOpt = None,
    wait: WaitOpt = 0.0,
    tables: TablesOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """The nightly report: validation, then every analysis whose inputs exist, as one run directory.

    Inputs come from \\[inputs] of fidelcli.toml (or -t, -c, --subscriptions). Validation runs first:
    an error stops the run (exit 1, the findings on stderr and in DIR/last_failure.json). Then rfm,
    kpi, cohort, clv (with a holdout), churn (trained, or scored with \\[report] churn_model),
    subscription, loyalty, roi program and A/B test, target (lists in targets/), recommend rules and
    customers, journey: each with a timestamped log line, its time and row counts. The run directory holds
    report.html (self-contained: opens offline), summary.md, kpis.json (every headline figure),
    tables/ (Parquet or CSV), models/ and manifest.json; DIR/latest moves to it only when it is
    complete. A lock keeps two runs on DIR apart (a dead run's lock is taken over). --fail-on
    checks kpis.json figures: exit 1 naming the threshold that tripped.

    Example: fidelcli --config fidelcli.toml report --out reports --keep 30 --fail-on 'validation.error>0' --fail-on 'kpi.churn_rate>0.8'
    """
    from fidelcli.clean import CleanOptions
    from fidelcli.report.build import build_report
    from fidelcli.report.output import Rendering, write_run
    from fidelcli.report.sections import ReportInputs
    from fidelcli.report.views import ViewContext

    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    options.set_lang(lang)
    cfg = options.config()
    rcfg = cfg.report
    thresholds = _thresholds(fail_on)  # a malformed threshold is exit 2 before any work
    require("plots", purpose="drawing the report's charts")  # matplotlib: the plots extra
    previous = None
    if compare_to is not None:
        previous = runs.latest_run(compare_to)
        if previous is None:
            raise InputError("--compare-to: no report run here (no kpis.json, no latest)", file=str(compare_to),
                             hint="give the --out directory of a previous report, or one of its runs/<timestamp>")
    flags = {"transactions": tx.transactions, "customers": customers, "subscriptions": subscriptions}
    sources: dict[Kind, str] = {k: s for k in KINDS if (s := flags.get(k) or getattr(cfg.inputs, k))}
    if "transactions" not in sources and "subscriptions" not in sources:
        raise InputError("no transactions or subscriptions input", hint="set [inputs] transactions in fidelcli.toml, or pass -t FILE")
    lang_: Literal["en", "fr"] = "fr" if render.settings.lang == "fr" else "en"
    out = Path(out)
    with runs.locked(out, wait=wait) as notes:
        for note in notes:
            log(f"report: {note}")
        log(f"report: {len(sources)} input{'s' * (len(sources) != 1)} ({', '.join(sources)}), writing into {out}")
        t0 = time.monotonic()
        validation = _validation(sources, tx, options.date(tx.as_of) or cfg.analysis.as_of)
        v_seconds = time.monotonic() - t0
        s = validation.summary
        log(f"validation: {validation.verdict()} in {v_seconds:.1f}s")
        if validation.failed():
            from fidelcli.io.write import write_json

            for f in validation.findings:
                if f.severity == "error":
                    log(f"validation error: {f.file}, {f.column or f.field or '-'}: {f.code}: {f.message}")
            write_json(validation, out / "last_failure.json")
            raise CheckFailed(f"validation found {s.error} error{'s' * (s.error != 1)}: no report written, the previous one is unchanged",
                              hint=f"see {out / 'last_failure.json'} or run fidelcli validate on the inputs")
        inputs = ReportInputs(engine=options.engine(), config=cfg, today=dt.date.today(), lang=lang_,
                              churn_model=Path(rcfg.churn_model) if rcfg.churn_model else None)
        if "transactions" in sources:
            t0 = time.monotonic()
            tbl = options.table("transactions", sources["transactions"], maps=tx.maps, date_format=tx.date_format)
            assert tbl is not None
            clean = CleanOptions(returns=tx.returns or cfg.analysis.returns, as_of=options.date(tx.as_of) or cfg.analysis.as_of)
            inputs.transactions = inputs.engine.load(tbl, clean, on_warnings=_log_warnings)
            inputs.transactions_by_day = inputs.engine.load(tbl, dataclasses.replace(clean, occasion="day"))
            log(f"transactions: read in {time.monotonic() - t0:.1f}s, analysis date {inputs.transactions.as_of}")
        for kind in OTHER_KINDS:
            if kind in sources:
                other = options.table(kind, sources[kind], date_format=tx.date_format, required=False)
                if other is not None:
                    inputs.tables[kind] = other
                    frame = options.collect(other)
                    assert frame is not None
                    inputs.frames[kind] = frame
                    log(f"{kind}: {frame.height:,} rows")
        if cfg.target.suppress and "customers" in inputs.frames:
            from fidelcli.analyses.target import suppressed_ids
            from fidelcli.cli.target import suppression_lists

            inputs.suppressed = suppressed_ids(suppression_lists(cfg.target.suppress, id_column=None), inputs.frames["customers"])
        result = build_report(inputs, validation=validation, only=rcfg.sections, log=log, validation_seconds=v_seconds)
        # The pseudonyms of the top customers: keyed by FIDELCLI_PSEUDONYM_KEY (stable across runs), else a key drawn for this run.
        key = os.environ.get(PSEUDONYM_KEY_ENV, "").encode() or secrets.token_bytes(16)
        rendering = Rendering(lang=lang_, cells=render.formatted_cells, value_text=render.figure_text,
                              view=ViewContext(lang=lang_, top=rcfg.top, pseudonym_key=key, keyed=bool(os.environ.get(PSEUDONYM_KEY_ENV))))
        name = runs.run_name(started, out / runs.RUNS)
        as_of = inputs.transactions.as_of if inputs.transactions is not None else None
        run_word = "exécution" if lang_ == "fr" else "run"
        subtitle = f"{'au' if lang_ == 'fr' else 'as of'} {as_of} · {run_word} {name}" if as_of else f"{run_word} {name}"
        run_dir = out / runs.RUNS / name
        t0 = time.monotonic()
        with atomic_dir(run_dir) as tmp:
            written = write_run(result, tmp, rendering=rendering, subtitle=subtitle, previous=previous,
                                table_format=tables or rcfg.tables, models=inputs.models)
            result.timings["write"] = round(time.monotonic() - t0, 3)
            manifest = {
                "run": name, "started": started.isoformat(timespec="seconds"),
                "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "seconds": round(time.monotonic() - clock, 3),
                "inputs": {k: runs.describe_source(v) for k, v in sources.items()},
                "options": {"lang": lang_, "compare_to": str(compare_to) if compare_to else None, "fail_on": fail_on or [],
                            "keep": keep or rcfg.keep, "tables": tables or rcfg.tables, "engine": options.context.engine_name or cfg.engine.name,
                            "config": str(options.context.config_path) if options.context.config_path else None,
                            "settings": cfg.model_dump(mode="json", exclude={"inputs", "columns"})},
                "versions": _versions(), "timings": result.timings, "rows": result.rows, "skipped": result.skipped,
                "warnings": result.warnings, **written,
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        runs.publish(out, run_dir)
        log(f"report: run {name} complete in {time.monotonic() - clock:.1f}s; {out / runs.LATEST} points to it")
        for old in runs.prune(out, keep or rcfg.keep or 0):
            log(f"report: removed the old run {old.name}")
    sys.stdout.write(f"{(run_dir / 'report.html').resolve()}\n")
    _check(thresholds, result.headline(), run_dir)


def _check(thresholds: list[Threshold], figures: dict[str, Figure], run_dir: Path) -> None:
    """Evaluate --fail-on on kpis.json (and comparison.json): exit 1 naming what tripped."""
    if not thresholds:
        return
    everything: dict[str, Figure] = dict(figures)
    comparison = run_dir / "comparison.json"
    if comparison.is_file():
        everything |= json.loads(comparison.read_text(encoding="utf-8"))["changes"]
    for th in thresholds:
        resolve_key(th.key, everything)  # an unknown key is exit 2, before any verdict
    hits, unknown = tripped(thresholds, everything)
    for line in unknown:
        render.warn(f"--fail-on {line}: not checked")
    if hits:
        for line in hits:
            log(f"report: threshold tripped: {line}")
        raise CheckFailed(f"{len(hits)} threshold{'s' * (len(hits) != 1)} tripped: {'; '.join(hits)}")

