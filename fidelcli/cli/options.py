"""Options shared by the analysis commands, and the loading they imply (flag over config over default)."""

from __future__ import annotations

import datetime as dt
import functools
import glob
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import polars as pl
import typer

from fidelcli.clean import CleanOptions, Occasion, ReturnsPolicy, Transactions
from fidelcli.cli import render
from fidelcli.config import Config, load_config
from fidelcli.errors import InputError, OutputError
from fidelcli.io.columns import Kind, parse_map_options
from fidelcli.io.dialect import Encoding
from fidelcli.io.read import Table, scan_table
from fidelcli.io.text import Ragged
from fidelcli.io.write import check_not_input, check_writable, forget_inputs, format_of, protect_inputs

if TYPE_CHECKING:
    from fidelcli.engine import Engine, EngineName

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
    ReturnsPolicy | None,
    typer.Option("--returns", help="Returns: net them against spend, drop them, or keep them as purchases.", show_default=False),
]
OccasionOpt = Annotated[
    Occasion | None,
    typer.Option(
        "--occasion",
        help="Purchase occasion: one per order id, or one per customer and day (default: order id when present, else day; clv: day).",
        show_default=False,
    ),
]
RaggedOpt = Annotated[
    Ragged | None,
    typer.Option(
        "--ragged", help="Text rows that do not split into the header's fields: an error (default), or skip them with a counted warning.",
        show_default=False,
    ),
]
SheetOpt = Annotated[
    str | None, typer.Option("--sheet", help="Sheet of an Excel workbook: its name, or its number from 1 (default: the first).", show_default=False)
]
EncodingOpt = Annotated[
    Encoding | None,
    typer.Option("--encoding", help="Encoding of text inputs, when the detection from the first MiB is wrong (cp1252: Windows/Excel).", show_default=False),
]
DelimiterOpt = Annotated[
    str | None,
    typer.Option(
        "--delimiter", help="Separator of text inputs, when the sniffing is wrong: one character (';', '|'), '\\t', 'space', "
        "or 'whitespace' (runs of spaces and tabs).", show_default=False,
    ),
]
NoHeaderOpt = Annotated[
    bool,
    typer.Option("--no-header", help="Text inputs have no header line: map their columns by number, e.g. --map customer_id=1."),
]


@dataclass
class ReadSettings:
    """How inputs are read (`--ragged`, `--sheet`, `--encoding`, `--delimiter`, `--no-header`), for every
    input of the command."""

    ragged: Ragged = "error"
    sheet: str | None = None
    encoding: Encoding | None = None
    delimiter: str | None = None
    header: bool = True


_READ_OPTIONS = {
    "read_ragged": RaggedOpt, "read_sheet": SheetOpt, "read_encoding": EncodingOpt, "read_delimiter": DelimiterOpt,
    "read_no_header": NoHeaderOpt,
}
_READ_DEFAULTS = {"read_no_header": False}


def read_options(command: Callable[..., object]) -> Callable[..., object]:
    """Decorator giving a command the shared reading options --ragged, --sheet, --encoding, --delimiter
    and --no-header.

    Put it under `@app.command(...)`; `table()` and `transactions()` then read every input with them.
    """

    @functools.wraps(command)
    def wrapper(*args: object, read_ragged: Ragged | None = None, read_sheet: str | None = None, read_encoding: Encoding | None = None,
                read_delimiter: str | None = None, read_no_header: bool = False, **kwargs: object) -> object:
        context.read = ReadSettings(
            ragged=read_ragged or "error", sheet=read_sheet, encoding=read_encoding, delimiter=read_delimiter, header=not read_no_header,
        )
        return command(*args, **kwargs)

    signature = inspect.signature(command, eval_str=True)  # the command's module may postpone annotations
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=_READ_DEFAULTS.get(name), annotation=opt)
        for name, opt in _READ_OPTIONS.items()
    ]
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**command.__annotations__, **_READ_OPTIONS}
    return wrapper


def output_file(param: typer.CallbackParam, path: Path | None) -> Path | None:
    """Callback of an output-file option (`-o`, `--model-out`, ...): before any work is done, check
    that the file can be written, and remember it so that no input of the command is that file."""
    if path is not None:
        check_writable(path)
        flag = "/".join(param.opts) if param.opts else "the output"
        check_not_input(path, what=flag)  # an input option given before this one
        context.outputs.append((flag, path))
    return path


def input_file(param: typer.CallbackParam, path: Path | str | None) -> Path | str | None:
    """Callback of an input-file option that is not a table (`--load-model`, `--model`, `--summary`):
    no output option of the command may name it, whatever the order of the options."""
    if path is not None:
        record_input(str(path))
    return path


def _output_format(param: typer.CallbackParam, path: Path | None) -> Path | None:
    """Check the output's extension, then that it can be written, before any work is done."""
    if path is not None:
        try:
            format_of(path)
        except OutputError as exc:
            raise typer.BadParameter(f"{exc.message}; {exc.hint}") from None
    return output_file(param, path)


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
    # --engine of the root; None: `[engine] name` of the config.
    engine_name: EngineName | None = None
    _config: Config | None = None
    _tables: list[Table] = []
    # Files named by this command's output options, with the option: no input may be one of them.
    outputs: list[tuple[str, Path]] = []
    # Transactions loaded by this command: their warnings are printed at the latest when it ends.
    transactions: list[Transactions] = []
    # --ragged, --sheet, --encoding of this command (see `read_options`).
    read: ReadSettings = ReadSettings()

    @property
    def tables(self) -> list[Table]:
        """Tables read by this command: a Polars parse error is traced back to its row through them."""
        return self._tables

    @tables.setter
    def tables(self, value: list[Table]) -> None:
        # The root callback sets it when a command starts: the outputs and the protected inputs of
        # the previous command are forgotten with its tables.
        self._tables = value
        self.outputs = []
        self.read = ReadSettings()
        forget_inputs()

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


def date(value: dt.datetime | None) -> dt.date | None:
    """The day of a date option (Typer parses `--as-of 2024-06-30` as a datetime)."""
    return value.date() if value else None


def _source_files(source: str) -> list[Path]:
    """The existing files an input source names: the file, a glob's matches, a directory's files."""
    if "://" in source:
        return []  # a database: not a file an output could name (no output format writes one)
    if any(ch in source for ch in "*?["):
        return [Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file()]
    path = Path(source)
    if path.is_dir():
        return [p for p in path.rglob("*") if p.is_file()]
    return [path] if path.is_file() else []


def record_input(source: str) -> None:
    """Register the files of an input source: raise OutputError if an output option of this command
    names one of them, and refuse any later write over them (`fidelcli.io.write.protect_inputs`)."""
    protect_inputs(_source_files(str(source)))
    for flag, path in context.outputs:
        check_not_input(path, what=flag)


def table(
    kind: Kind, source: str | None, *, maps: list[str] | None = None, date_format: str | None = None, required: bool = True, lenient: bool = False,
    optional: frozenset[str] = frozenset(),
) -> Table | None:
    """Scan an input kind from the flag, else from `[inputs]` of the config, with the command's
    reading options (`read_options`); which source column became which field, and malformed rows
    skipped with --ragged skip, are said on stderr (once per table). `optional`: required fields
    this command does without (`scan_table`)."""
    cfg = config()
    source = source or getattr(cfg.inputs, kind)
    if source is None:
        if required:
            flag = {"transactions": "-t/--transactions", "customers": "-c/--customers"}.get(kind, f"--{kind}")
            raise InputError(f"no {kind} input given", hint=f"pass {flag} FILE or set [inputs] {kind} in fidelcli.toml")
        return None
    columns = {**getattr(cfg.columns, kind), **parse_map_options(maps)}
    record_input(source)
    read = context.read
    tbl = scan_table(
        source, kind, columns=columns, date_format=date_format or cfg.analysis.date_format, lenient=lenient,
        show_values=render.settings.show_values, ragged=read.ragged, sheet=read.sheet, encoding=read.encoding,
        delimiter=read.delimiter, header=read.header, optional=optional,
    )
    context.tables.append(tbl)
    render.info(tbl.mapping_text())
    if tbl.warnings:
        render.warnings(tbl.warnings)
    return tbl


def transactions(
    source: str | None,
    *,
    maps: list[str] | None = None,
    date_format: str | None = None,
    returns: ReturnsPolicy | None = None,
    as_of: dt.datetime | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    occasion: Occasion | None = None,
    optional: frozenset[str] = frozenset(),
    prepare: Callable[[Table], Table] | None = None,
) -> Transactions:
    """Read and clean the transactions; their warnings are printed when the data is first read.
    `optional` and `prepare` let a command read baskets without customers or dates
    (`fidelcli.io.baskets`: `optional=OPTIONAL, prepare=basket_table`)."""
    cfg = config()
    tbl = table("transactions", source, maps=maps, date_format=date_format, optional=optional)
    assert tbl is not None
    if prepare is not None:
        tbl = prepare(tbl)
    # The engine of the run loads the source from its neutral description (the scanned table is
    # reused, not sniffed again) with the cleaning policy as plain data.
    clean = CleanOptions(
        returns=returns or cfg.analysis.returns,
        as_of=date(as_of) or cfg.analysis.as_of,
        start=date(start),
        end=date(end),
        occasion=occasion,
    )
    tx = engine().load(tbl, clean, on_warnings=render.warnings)
    context.transactions.append(tx)
    return tx


# --------------------------------------------------------------------------------------------
# The transaction options block, shared by every analysis command (sqlite-utils' import_options)
# --------------------------------------------------------------------------------------------
@dataclass
class TxOptions:
    """The transaction options of a command (-t, --map, --date-format, --as-of, --start, --end,
    --returns, --occasion), as given; `load()` reads and cleans the transactions with them."""

    transactions: str | None = None
    maps: list[str] | None = None
    date_format: str | None = None
    as_of: dt.datetime | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    returns: ReturnsPolicy | None = None
    occasion: Occasion | None = None

    def load(self, *, occasion: Occasion | None = None, optional: frozenset[str] = frozenset(),
             prepare: Callable[[Table], Table] | None = None) -> Transactions:
        """The transactions, read (flag, else `[inputs]`) and cleaned; `occasion` is the command's
        default when --occasion is not given; `optional`, `prepare`: see `transactions`."""
        return transactions(self.transactions, maps=self.maps, date_format=self.date_format, returns=self.returns,
                            as_of=self.as_of, start=self.start, end=self.end, occasion=self.occasion or occasion,
                            optional=optional, prepare=prepare)


TX_FIELDS = ("transactions", "maps", "date_format", "as_of", "start", "end", "returns", "occasion")
_TX_OPTIONS: dict[str, Any] = {
    "transactions": TransactionsOpt, "maps": MapOpt, "date_format": DateFormatOpt, "as_of": AsOfOpt, "start": StartOpt,
    "end": EndOpt, "returns": ReturnsOpt, "occasion": OccasionOpt,
}


def tx_options(*, inputs: Sequence[str] = (), fields: Sequence[str] = TX_FIELDS) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator giving a command the transaction options and handing it one `TxOptions` as `tx`.

    The command declares a parameter `tx: TxOptions` where the options go in --help. `fields` are
    the options it takes, in their --help order (default all of `TX_FIELDS`); `inputs` names other
    parameters of the command (-c, --surveys...) shown right after -t/--transactions.

    Example: `@options.tx_options(inputs=("customers",))` over `def cohort_cmd(tx: TxOptions, customers: ...)`.
    """
    unknown = set(fields) - set(TX_FIELDS)
    if unknown or fields[0] != "transactions":
        raise ValueError(f"tx_options: fields must start with 'transactions' and come from {TX_FIELDS}")

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tx = TxOptions(**{name: kwargs.pop(name) for name in fields})
            return command(*args, tx=tx, **kwargs)

        params = dict(inspect.signature(command, eval_str=True).parameters)
        if "tx" not in params:
            raise TypeError(f"{command.__name__}: tx_options needs a parameter `tx: TxOptions`")
        block = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=_TX_OPTIONS[name])
                 for name in fields]
        moved = [params.pop(name) for name in inputs]
        ordered: list[inspect.Parameter] = []
        for name, param in params.items():
            ordered.extend([block[0], *moved, *block[1:]] if name == "tx" else [param])
        # Parameters with a default may not precede one without: the options all have one.
        ordered = [p for p in ordered if p.default is inspect.Parameter.empty] + [
            p for p in ordered if p.default is not inspect.Parameter.empty]
        wrapper.__signature__ = inspect.Signature(ordered)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in ordered}
        return wrapper

    return decorate


def engine() -> Engine:
    """The engine of this run: --engine, else `[engine] name` of the config (default polars)."""
    from fidelcli.engine import get_engine

    cfg = config().engine
    return get_engine(context.engine_name or cfg.name, spark_master=cfg.spark_master, spark_conf=cfg.spark_conf)


# --------------------------------------------------------------------------------------------
# Customers table and its --by column (kpi, cohort)
# --------------------------------------------------------------------------------------------
def collect(tbl: Table | None) -> pl.DataFrame | None:
    """A read table's rows (values checked first, so a bad one names its row), or None."""
    if tbl is None:
        return None
    tbl.check()
    return tbl.lf.collect()


def customers_column(tbl: Table, customers: pl.DataFrame, by: str, *, segment: bool = False) -> pl.DataFrame:
    """customer_id and the `by` column of the customers table: a mapped field (parsed, as in
    `customers`) or any other column of the source, as read (e.g. `Gender`, `age`). A name matches
    exactly, else case-insensitively when only one column does.

    Raises InputError listing the available columns when there is no such column.
    """
    fields = [c for c in customers.columns if c != "customer_id"]
    source_of = {src: f for f, src in tbl.mapping.items()}
    others = [c for c in tbl.raw.collect_schema().names() if c not in source_of]
    names = [*fields, *others]
    matches = [by] if by in names else [c for c in names if c.lower() == by.lower()]
    found = matches[0] if len(matches) == 1 else None
    if found is None:
        hint = ("use --by segment or one of: " if segment else "use one of: ") + ", ".join(names)
        raise InputError(f"--by {by}: the customers table has no such column", file=tbl.file, hint=hint)
    if found in fields:
        return customers.select("customer_id", found)
    return tbl.raw.select(tbl.exprs["customer_id"].alias("customer_id"), pl.col(found)).collect()


@dataclass
class CustomersInput:
    """The customers table of a command (-c), and its --by column when asked for."""

    table: Table | None
    frame: pl.DataFrame | None
    by: pl.DataFrame | None


def customers(source: str | None, *, by: str | None, required: bool, date_format: str | None = None,
              segment: bool = False) -> CustomersInput:
    """Read the customers table (flag, else `[inputs]`; required with --by a column, or when
    `required`) and pick its `by` column (`segment`: --by segment is also accepted, and not a column)."""
    column = by if by is not None and not (segment and by == "segment") else None
    tbl = table("customers", source, date_format=date_format, required=required or column is not None)
    frame = collect(tbl)
    groups = None
    if column is not None:
        assert tbl is not None and frame is not None
        groups = customers_column(tbl, frame, column, segment=segment)
    return CustomersInput(table=tbl, frame=frame, by=groups)
