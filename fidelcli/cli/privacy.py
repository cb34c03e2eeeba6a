"""`fidelcli privacy scan | pseudonymize | erase | retain`: GDPR tooling over data files."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from fidelcli.cli import options, render
from fidelcli.config import Privacy, Retention, default
from fidelcli.errors import ConfigError, InputError
from fidelcli.io.columns import Kind, parse_map_options
from fidelcli.io.sources import suffix
from fidelcli.privacy.pseudonymize import KEEPABLE, PHONE_COUNTRIES, PSEUDONYM_KEY_ENV, check_key, read_key_file

if TYPE_CHECKING:
    from fidelcli.result import Result

app = typer.Typer(
    help="GDPR tooling: find personal data, pseudonymise it, erase customers, enforce retention periods.\n\n"
    "Example: fidelcli privacy scan customers.csv sales.parquet",
    no_args_is_help=True,
)

FilesArg = Annotated[list[str], typer.Argument(help="Files, globs or directories (csv, tsv, txt, gz, parquet, xlsx).", show_default=False)]
KeyFileOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help=f"File holding the pseudonym key, readable by its owner only (chmod 600); default: ${PSEUDONYM_KEY_ENV}.",
                 show_default=False),
]
# Never a key on the command line: other users see it in the process list, and it stays in the shell history.
KeyOpt = Annotated[str | None, typer.Option("--key", hidden=True, show_default=False)]
AuditOpt = Annotated[
    Path | None,
    typer.Option("--audit", help=f"JSON-lines audit log, appended to (default {default(Privacy, 'audit')} or \\[privacy] audit).",
                 show_default=False),
]
IdColumnOpt = Annotated[str | None, typer.Option("--id-column", help="The customer-id column, when its name is not a usual one.",
                                                 show_default=False)]
AsOfOpt = Annotated[dt.datetime | None, typer.Option("--as-of", formats=options.DATE, help="The day ages are counted at (default: today).",
                                                    show_default=False)]
TableFormat = Literal["table", "csv", "json", "jsonl", "markdown"]


def pseudonym_key(key_file: Path | None, key: str | None) -> bytes:
    """The key: --key-file, else FIDELCLI_PSEUDONYM_KEY; never a value on the command line, never none."""
    if key is not None:
        raise ConfigError(
            "a key on the command line is refused: other users can read it in the process list, and it stays in the shell history",
            hint=f"set {PSEUDONYM_KEY_ENV}, or pass --key-file FILE (chmod 600)",
        )
    if key_file is not None:
        return read_key_file(key_file)
    value = os.environ.get(PSEUDONYM_KEY_ENV)
    if not value:
        raise ConfigError(
            "no pseudonym key: pseudonyms made without a secret key could be reversed by hashing candidate values",
            hint=f"set {PSEUDONYM_KEY_ENV} (e.g. from a secrets manager), or pass --key-file FILE readable by its owner only",
        )
    return check_key(value.encode("utf-8"), source=PSEUDONYM_KEY_ENV)


def _show(result: Result, table: str, *, fmt: TableFormat | None, output: Path | None, title: str) -> None:
    render.warnings(result.warnings)
    frame = result.tables()[table]
    if output is not None:
        render.save(frame, output)
        if fmt is None:
            return
    if fmt == "json":
        sys.stdout.write(result.to_json() + "\n")  # the whole result, as the library returns it
        return
    render.frame(frame, fmt=fmt, title=title, max_rows=200)


@app.command("scan")
def scan_cmd(
    files: FilesArg,
    as_of: AsOfOpt = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
) -> None:
    """Find the columns holding personal data, by name and by content, and count their values; never prints one.

    Content: emails, phone numbers (French, British, North-American, E.164), IBANs (checksum verified),
    postal addresses, people's names, birth dates. Each column: its kind, how it was found (name, content),
    its non-empty values, the values of its kind and their share. Every value of every column is read
    once (a streaming pass per file).

    Example: fidelcli privacy scan customers.csv exports/ -o pii.csv
    """
    from fidelcli.privacy.files import data_files, read_data_file
    from fidelcli.privacy.scan import scan

    paths = data_files(files)
    for source in files:
        options.record_input(source)
    frames = {}
    for path in paths:
        data = read_data_file(path)
        for sheet, lf in data.sheets.items():
            frames[str(path) if sheet is None else f"{path} [{sheet}]"] = lf
    with render.progress(f"scanning {len(frames)} table{'s' * (len(frames) != 1)}"):
        result = scan(frames, as_of=options.date(as_of) or dt.date.today())
    _show(result, "columns", fmt=fmt, output=output, title="Personal data found (counts only)")


def _outputs(paths: list[Path], sources: list[str], output: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one input to a file named by -o, or every input into the directory -o,
    under its own name (a directory's files under their path inside it); `.csv.gz` is written as `.csv`."""
    if len(paths) == 1 and suffix(output) in (".csv", ".parquet", ".xlsx"):
        return [(paths[0], output)]
    if output.exists() and not output.is_dir():
        raise InputError("with several inputs, -o is a directory", file=str(output), hint="give a directory, e.g. -o pseudonymised/")
    roots = [Path(s) for s in sources if Path(s).is_dir()]
    pairs = []
    for path in paths:
        root = next((r for r in roots if path.is_relative_to(r)), path.parent)
        relative = path.relative_to(root)
        if relative.suffix.lower() == ".gz":
            relative = relative.with_suffix("")
        if suffix(relative) in (".tsv", ".txt"):
            relative = relative.with_suffix(".csv")
        pairs.append((path, output / relative))
    return pairs


@app.command("pseudonymize")
def pseudonymize_cmd(
    files: FilesArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file (csv, parquet, xlsx) for one input, else a directory.",
                                         show_default=False)],
    key_file: KeyFileOpt = None,
    keep: Annotated[list[str] | None, typer.Option("--keep", help=f"Keep this kind as it is instead of dropping or generalising it: "
                                                   f"{', '.join(KEEPABLE)} (repeatable).", show_default=False)] = None,
    phone_country: Annotated[str | None, typer.Option(
        "--phone-country", help=f"Country of national phone numbers, for their E.164 form (default {default(Privacy, 'phone_country')}).",
        show_default=False)] = None,
    id_column: IdColumnOpt = None,
    key: KeyOpt = None,
    fmt: options.FormatOpt = None,
) -> None:
    """Write copies of the files with identifiers replaced by keyed pseudonyms (HMAC-SHA256).

    The customer id, the referrer and the contact fields (email lowercased and trimmed, phone in E.164)
    become 64 hex digits; the same key gives the same pseudonyms in every file and run, so joins still
    work. Names, street addresses, IBANs and national ids are dropped, birth dates become the year, postal
    codes the area (first two characters; a British postcode its outward code), unless --keep KIND.
    The key comes from $FIDELCLI_PSEUDONYM_KEY or --key-file (readable by its owner only); without
    one, nothing is written. The inputs are never changed; each output is written atomically.

    Example: FIDELCLI_PSEUDONYM_KEY=... fidelcli privacy pseudonymize customers.csv sales.parquet -o shared/
    """
    from fidelcli.privacy.files import data_files
    from fidelcli.privacy.pseudonymize import pseudonymize

    secret = pseudonym_key(key_file, key)
    kept = frozenset(keep or ())
    unknown = sorted(kept - set(KEEPABLE))
    if unknown:
        raise ConfigError(f"--keep {unknown[0]}: not a kind of personal data that can be kept", hint=f"use one of: {', '.join(KEEPABLE)}")
    country = (phone_country or options.config().privacy.phone_country).upper()
    if country not in PHONE_COUNTRIES:
        raise ConfigError(f"--phone-country {country}: unknown country", hint=f"use one of: {', '.join(PHONE_COUNTRIES)}")
    paths = data_files(files)
    for source in files:
        options.record_input(source)
    pairs = _outputs(paths, files, output)
    with render.progress(f"pseudonymising {len(pairs)} file{'s' * (len(pairs) != 1)}"):
        result = pseudonymize(pairs, key=secret, keep=kept, phone_country=country, id_column=id_column)
    for _, target in pairs:
        render.info(f"wrote {target}")
    _show(result, "columns", fmt=fmt, output=None, title=f"Personal data columns (key {result.key_id})")


def _ids(ids: list[str] | None, ids_file: Path | None) -> list[str]:
    from fidelcli.privacy.erase import read_ids

    found = list(ids or [])
    if ids_file is not None:
        found += read_ids(ids_file)
    if not found:
        raise InputError("no customer id to erase", hint="give --id ID (repeatable) or --ids FILE")
    return found


@app.command("erase")
def erase_cmd(
    files: FilesArg,
    ids: Annotated[list[str] | None, typer.Option("--id", help="A customer id to erase (repeatable).", show_default=False)] = None,
    ids_file: Annotated[Path | None, typer.Option("--ids", help="File of customer ids: one a line, or a table with a customer-id column.",
                                                  show_default=False)] = None,
    key_file: KeyFileOpt = None,
    audit: AuditOpt = None,
    id_column: IdColumnOpt = None,
    key: KeyOpt = None,
    fmt: options.FormatOpt = None,
) -> None:
    """Remove the given customers from every file, atomically per file, with an audit log of pseudonyms.

    Rows whose customer id is one of the ids, or its keyed pseudonym (files written by `privacy
    pseudonymize` with the same key), are removed; a referrer column naming one is emptied. A file with
    nothing to remove is left untouched, so running the same erasure twice is harmless. The audit log
    gets one JSON line per file: time, file, rows before and removed, and the customers as keyed
    pseudonyms, never in clear (the key is needed, as for pseudonymize).

    Example: fidelcli privacy erase data/ --ids erasure_requests.csv --key-file ~/.fidelcli.key
    """
    from fidelcli.privacy.erase import erase

    secret = pseudonym_key(key_file, key)
    wanted = _ids(ids, ids_file)
    log = audit or Path(options.config().privacy.audit)
    with render.progress("erasing"):
        result = erase(files, wanted, key=secret, audit=log, id_column=id_column)
    render.info(f"audit: {log}")
    _show(result, "files", fmt=fmt, output=None, title=f"Erasure of {result.subjects} customer{'s' * (result.subjects != 1)}")


def _period(text: str) -> tuple[str, str]:
    kind, sep, period = text.partition("=")
    if not sep or kind.strip() not in Retention.model_fields:
        raise ConfigError(f"--period {text}: expected KIND=PERIOD", hint=f"e.g. --period touchpoints=3y; kinds: {', '.join(Retention.model_fields)}")
    return kind.strip(), period.strip()


@app.command("retain")
def retain_cmd(
    transactions: options.TransactionsOpt = None,
    customers: options.CustomersOpt = None,
    touchpoints: Annotated[str | None, typer.Option("--touchpoints", help="Touchpoints table.", show_default=False)] = None,
    campaigns: Annotated[str | None, typer.Option("--campaigns", help="Campaigns table.", show_default=False)] = None,
    surveys: Annotated[str | None, typer.Option("--surveys", help="Surveys table.", show_default=False)] = None,
    subscriptions: Annotated[str | None, typer.Option("--subscriptions", help="Subscriptions table.", show_default=False)] = None,
    period: Annotated[list[str] | None, typer.Option("--period", help="Retention period of a kind: KIND=10y (d, w, m, y; repeatable; "
                                                     "default \\[privacy.retention]).", show_default=False)] = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    as_of: AsOfOpt = None,
    audit: AuditOpt = None,
    fmt: options.FormatOpt = None,
) -> None:
    """Drop the records older than their kind's retention period, atomically per file, with an audit log.

    Records are aged by transactions' date, touchpoints' timestamp, campaigns' sent_at, surveys' date and
    subscriptions' end_date (a running subscription is kept), customers by their last activity (latest
    purchase in -t, interaction in --touchpoints, signup or enrollment date). Records dated on or after
    as-of (default today: retention runs on the calendar) minus the period are kept (3y before 2025-03-01
    keeps 2022-03-01). Defaults: transactions 10y, touchpoints 3y, campaigns 3y, surveys 3y, subscriptions
    5y, customers 3y (\\[privacy.retention] of fidelcli.toml). Inputs not given come from \\[inputs].

    Example: fidelcli privacy retain -t sales.csv --touchpoints touchpoints.parquet --period touchpoints=2y
    """
    from fidelcli.privacy.retain import retain

    cfg = options.config()
    given: dict[Kind, str | None] = {"transactions": transactions, "touchpoints": touchpoints, "campaigns": campaigns, "surveys": surveys,
                                     "subscriptions": subscriptions, "customers": customers}
    sources = {kind: [src] for kind, src in ((k, s or getattr(cfg.inputs, k)) for k, s in given.items()) if src is not None}
    if not sources:
        raise InputError("no input to prune", hint="give -t, -c, --touchpoints, --campaigns, --surveys or --subscriptions, or set [inputs]")
    periods = {**cfg.privacy.retention.model_dump(), **dict(_period(p) for p in period or [])}
    explicit = parse_map_options(maps)
    columns = {kind: {**getattr(cfg.columns, kind), **(explicit if len(sources) == 1 else {})} for kind in sources}
    if explicit and len(sources) > 1:
        raise ConfigError("--map applies to one input; with several, map columns in [columns.<kind>] of fidelcli.toml")
    log = audit or Path(cfg.privacy.audit)
    with render.progress("pruning"):
        result = retain(sources, periods=periods, as_of=options.date(as_of) or dt.date.today(), audit=log, columns=columns,
                        date_format=date_format or cfg.analysis.date_format)
    render.info(f"audit: {log}")
    _show(result, "files", fmt=fmt, output=None, title=f"Retention at {result.as_of}")
