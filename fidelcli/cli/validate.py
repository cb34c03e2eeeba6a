"""`fidelcli validate`: data-quality checks on every input, a summary table or a JSON report for CI."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import typer

from fidelcli.cli import options, render
from fidelcli.errors import InputError
from fidelcli.io.columns import KINDS, Kind
from fidelcli.io.read import Table
from fidelcli.io.write import write_frame, write_json
from fidelcli.validate import Finding, scan_problem, validate

SurveysOpt = Annotated[str | None, typer.Option("--surveys", help="Survey answers (nps, csat, ces).", show_default=False)]
CampaignsOpt = Annotated[str | None, typer.Option("--campaigns", help="Campaign sends and responses.", show_default=False)]
SubscriptionsOpt = Annotated[str | None, typer.Option("--subscriptions", help="Subscriptions (start and end dates).", show_default=False)]
TouchpointsOpt = Annotated[str | None, typer.Option("--touchpoints", help="Customer-journey touchpoints.", show_default=False)]
SpendOpt = Annotated[str | None, typer.Option("--spend", help="Marketing spend per period.", show_default=False)]
AsOfOpt = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=options.DATE, help="Analysis date: dates on or after it are in the future (default: after today).", show_default=False),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 on warnings too, not only on errors.")]
ExamplesOpt = Annotated[int, typer.Option("--examples", min=0, help="Row numbers and example values kept per problem.")]
ValidateMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help='Map a field to a column: --map customers.customer_id="N° client"; without "kind." it applies to the '
        "transactions (or to the only input). Repeatable.",
        show_default=False,
    ),
]


def _split_maps(items: list[str] | None, kinds: list[Kind]) -> dict[str, list[str]]:
    """`customers.customer_id=ID` goes to customers; `field=Column` to transactions or the only input."""
    default = "transactions" if "transactions" in kinds or len(kinds) != 1 else kinds[0]
    out: dict[str, list[str]] = {}
    for item in items or []:
        left, sep, right = item.partition("=")
        kind, dot, field = left.partition(".")
        if dot and kind.strip() in KINDS:
            out.setdefault(kind.strip(), []).append(f"{field}{sep}{right}")
        else:
            out.setdefault(default, []).append(item)
    return out


@options.read_options
def validate_cmd(
    transactions: options.TransactionsOpt = None,
    customers: options.CustomersOpt = None,
    surveys: SurveysOpt = None,
    campaigns: CampaignsOpt = None,
    subscriptions: SubscriptionsOpt = None,
    touchpoints: TouchpointsOpt = None,
    spend: SpendOpt = None,
    map_: ValidateMapOpt = None,
    date_format: options.DateFormatOpt = None,
    as_of: AsOfOpt = None,
    strict: StrictOpt = False,
    examples: ExamplesOpt = 5,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Check the quality of every input: types, empty and unparseable values, duplicates, dates, amounts, ids, PII.

    Exit 0 when no finding is an error (with --strict: no error and no warning), 1 otherwise (an empty or
    unreadable file is an error finding), 2 when an input cannot be opened. Inputs missing from the flags
    are taken from \\[inputs] of fidelcli.toml. -o report.json writes the full JSON report (documented in
    docs/validate.md); -o .csv one row per finding. Example values that look like emails, phone numbers,
    IBANs or names are masked (row and kind kept) unless the global --show-values is given.

    Example: fidelcli validate -t sales.csv -c customers.csv --strict -o report.json
    """
    options.set_lang(lang)
    cfg = options.config()
    flags = {"transactions": transactions, "customers": customers, "surveys": surveys, "campaigns": campaigns,
             "subscriptions": subscriptions, "touchpoints": touchpoints, "spend": spend}
    sources = {k: v or getattr(cfg.inputs, k) for k, v in flags.items()}
    kinds = [k for k in KINDS if sources.get(k)]
    if not kinds:
        raise InputError("nothing to validate", hint="pass -t FILE, -c FILE, --surveys FILE... or set [inputs] in fidelcli.toml")
    maps = _split_maps(map_, kinds)
    with render.progress(f"validating {len(kinds)} input{'s' * (len(kinds) != 1)}"):
        tables, problems = _load(kinds, sources, maps, date_format=date_format)
        report = validate(
            tables, as_of=options.date(as_of) or cfg.analysis.as_of, today=dt.date.today(), examples=examples, problems=problems,
            show_values=render.settings.show_values,
        )
    if output is not None:
        if output.suffix.lower() == ".json":
            write_json(report, output)
        else:
            write_frame(report.findings_frame(), output)
        render.info(f"wrote {len(report.findings):,} findings to {output}")
    shown = render.default_format(fmt)
    verdict = report.verdict(strict=strict)
    if shown == "json":
        sys.stdout.write(report.to_json() + "\n")
        render.info(verdict)
    elif shown == "table":
        if report.findings:
            df = report.findings_frame().select("severity", "code", "file", "column", "count", "rows")
            render.frame(df, fmt="table", title="validation", max_rows=200)
        render.stdout().print(verdict, style="red" if report.failed(strict=strict) else "green", markup=False)
        if report.findings:
            render.info("details (messages, examples): --format json, or -o report.json")
    else:
        render.frame(report.findings_frame(), fmt=shown)
        render.info(verdict)
    if report.failed(strict=strict):
        raise typer.Exit(1)


def _load(kinds: list[Kind], sources: dict[str, str | None], maps: dict[str, list[str]], *,
          date_format: str | None) -> tuple[dict[str, Table], list[Finding]]:
    """Scan each input leniently: the tables that could be mapped, and the findings of those that could not.

    A problem of the data (missing column, empty or ragged file) is a finding (`scan_problem`); a missing
    file or a --map mistake stays an error (exit 2), raised before the next input is scanned.
    """
    tables: dict[str, Table] = {}
    problems: list[Finding] = []
    for kind in kinds:
        # An output option naming this input is a usage error (exit 2), raised before the scan.
        options.record_input(str(sources[kind]))
        try:
            tbl = options.table(kind, sources[kind], maps=maps.get(kind), date_format=date_format, required=False, lenient=True)
        except InputError as exc:
            found = scan_problem(exc, kind, str(sources[kind]))
            if found is None:
                raise
            problems.append(found)
            continue
        assert tbl is not None
        tables[kind] = tbl
    return tables, problems
