"""Options shared by the analysis commands, and the loading they imply (flag over config over default)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import typer

from fidelcli.clean import Transactions, clean_transactions
from fidelcli.cli import render
from fidelcli.config import Config, load_config
from fidelcli.errors import InputError
from fidelcli.io.columns import parse_map_options
from fidelcli.io.read import Table, scan_table
from fidelcli.io.write import format_of

DATE = ["%Y-%m-%d"]

TransactionsOpt = Annotated[
    str | None, typer.Option("-t", "--transactions", help="Transactions: file, glob, directory or database URI.", show_default=False)
]
CustomersOpt = Annotated[str | None, typer.Option("-c", "--customers", help="Customers table.", show_default=False)]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help='Map a field to a column: --map customer_id="N° client" (repeatable).', show_default=False),
]
DateFormatOpt = Annotated[
    str | None, typer.Option("--date-format", help="strptime format of dates, e.g. %d/%m/%Y, when inference refuses.", show_default=False)
]
AsOfOpt = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=DATE, help="Analysis date (default: the day after the latest transaction).", show_default=False),
]
StartOpt = Annotated[dt.datetime | None, typer.Option("--start", formats=DATE, help="Keep transactions on or after this date.", show_default=False)]
EndOpt = Annotated[dt.datetime | None, typer.Option("--end", formats=DATE, help="Keep transactions on or before this date.", show_default=False)]
ReturnsOpt = Annotated[
    Literal["net", "drop", "keep"] | None,
    typer.Option("--returns", help="Returns: net them against spend, drop them, or keep them as purchases.", show_default=False),
]
def _output_format(path: Path | None) -> Path | None:
    """Check the output's extension before any work is done."""
    if path is not None:
        try:
            format_of(path)
        except InputError as exc:
            raise typer.BadParameter(f"{exc.message}; {exc.hint}") from None
    return path


OutputOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Write the full result (csv, parquet, json, jsonl, xlsx).", show_default=False, callback=_output_format),
]
FormatOpt = Annotated[
    Literal["table", "csv", "json", "jsonl", "markdown"] | None,
    typer.Option("--format", help="Standard output format (default: table on a terminal, csv when piped).", show_default=False),
]
LangOpt = Annotated[Literal["en", "fr"] | None, typer.Option("--lang", help="Language of labels.", show_default=False)]


class _Context:
    config_path: Path | None = None
    _config: Config | None = None
    # Tables read by this command: a Polars parse error is traced back to its row through them.
    tables: list[Table] = []
    # Transactions loaded by this command: their warnings are printed at the latest when it ends.
    transactions: list[Transactions] = []

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


context = _Context()


def config() -> Config:
    """The loaded `fidelcli.toml` (or defaults)."""
    return context.config()


def set_lang(lang: str | None) -> None:
    render.settings.lang = lang or config().analysis.lang


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def table(
    kind: str, source: str | None, *, maps: list[str] | None = None, date_format: str | None = None, required: bool = True, strict: bool = True
) -> Table | None:
    """Scan an input kind from the flag, else from `[inputs]` of the config."""
    cfg = config()
    source = source or getattr(cfg.inputs, kind)
    if source is None:
        if required:
            flag = {"transactions": "-t/--transactions", "customers": "-c/--customers"}.get(kind, f"--{kind}")
            raise InputError(f"no {kind} input given", hint=f"pass {flag} FILE or set [inputs] {kind} in fidelcli.toml")
        return None
    columns = {**getattr(cfg.columns, kind), **parse_map_options(maps)}
    tbl = scan_table(source, kind, columns=columns, date_format=date_format or cfg.analysis.date_format, strict=strict)
    context.tables.append(tbl)
    return tbl


def transactions(
    source: str | None,
    *,
    maps: list[str] | None = None,
    date_format: str | None = None,
    returns: str | None = None,
    as_of: dt.datetime | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Transactions:
    """Read and clean the transactions; their warnings are printed when the data is first read."""
    cfg = config()
    tbl = table("transactions", source, maps=maps, date_format=date_format)
    assert tbl is not None
    tx = clean_transactions(
        tbl,
        returns=returns or cfg.analysis.returns,  # type: ignore[arg-type]
        as_of=_date(as_of) or cfg.analysis.as_of,
        start=_date(start),
        end=_date(end),
        on_warnings=render.warnings,
    )
    context.transactions.append(tx)
    return tx
