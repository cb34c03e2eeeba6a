"""Render step: Rich tables on a terminal, CSV when piped, files by extension. Never computes a number.

Every frame is first rounded by `fidelcli.io.rounding.round_frame` (as the files are), then:
CSV/JSON/JSONL print plain numbers; the Rich table and Markdown print them for a person (labels.py):
money to the cent with the currency of `[analysis] currency`, rates as percentages, counts as integers
with thousands separators, yes/no, all in the `--lang` number format. docs/output.md has the rules.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import sys
import textwrap
import time
import warnings as pywarnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fidelcli.cli import labels
from fidelcli.cli.labels import label
from fidelcli.io.rounding import KEY_COLUMNS, VALUE_COLUMNS, Kind, NonFiniteValueWarning, column_kind, round_frame
from fidelcli.io.write import nested_as_json, write_frame, write_json
from fidelcli.privacy.mask import scrub

if TYPE_CHECKING:
    from fidelcli.result import Result

OutputFormat = Literal["table", "csv", "json", "jsonl", "markdown"]
Cell = Callable[[Any, "str | None"], str]  # a value and its row's key (long frames) -> text


@dataclass
class Settings:
    quiet: bool = False
    verbose: bool = False
    color: bool = True
    lang: str = "en"
    # --show-values: diagnostics quote personal values (emails, phones, names) instead of masking them.
    show_values: bool = False
    # The currency of money on the terminal and in Markdown (`[analysis] currency`), asked for only
    # when a money figure is shown; None: plain numbers.
    currency: Callable[[], str | None] | None = None


settings = Settings()
# The stderr console of the running spinner: warnings go through it, above the spinner, never into it.
_live: Console | None = None


def _color() -> bool:
    return settings.color and "NO_COLOR" not in os.environ


def stdout() -> Console:
    return Console(no_color=not _color(), highlight=False, soft_wrap=False)


def stderr() -> Console:
    return _live if _live is not None else Console(stderr=True, no_color=not _color(), highlight=False)


def is_terminal() -> bool:
    return sys.stdout.isatty()


def default_format(fmt: OutputFormat | None) -> OutputFormat:
    """`--format` when given; else a Rich table on a terminal and CSV when piped."""
    return fmt or ("table" if is_terminal() else "csv")


# --------------------------------------------------------------------------------------------
# Rounding at the boundary
# --------------------------------------------------------------------------------------------
@contextmanager
def _non_finite_as_warnings() -> Iterator[None]:
    """A NaN or an infinity met while rounding (a bug) is said on stderr as a warning line.

    Under `-W error` (the test suite) the `NonFiniteValueWarning` is raised instead: a test fails.
    """
    with pywarnings.catch_warnings(record=True) as caught:
        yield
    for w in caught:
        if issubclass(w.category, NonFiniteValueWarning):
            warn(str(w.message))
        else:
            pywarnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def rounded(df: pl.DataFrame) -> pl.DataFrame:
    """`df` rounded by column kind, as every output shows it (`fidelcli.io.rounding.round_frame`)."""
    with _non_finite_as_warnings():
        return round_frame(df)


def _round_value(name: str, value: object) -> object:
    if isinstance(value, float):
        return rounded(pl.DataFrame({name: [value]}, schema={name: pl.Float64})).item()
    return value


# --------------------------------------------------------------------------------------------
# Numbers for a person
# --------------------------------------------------------------------------------------------
def _currency() -> str | None:
    return settings.currency() if settings.currency is not None else None


def _decimals(values: Sequence[object]) -> int:
    """Decimals of a measure column: none when every value is whole, 2 from 1 up, else enough for 3
    significant digits of the median magnitude (0.388 -> 3, 0.0365 -> 4), at most 6."""
    finite = [abs(v) for v in values if isinstance(v, float) and math.isfinite(v) and v != 0]
    if not finite:
        return 0 if values and all(isinstance(v, float) and v == 0 for v in values if v is not None) else 2
    if all(v.is_integer() for v in finite):
        return 0
    m = statistics.median(finite)
    return 2 if m >= 1 else min(6, 2 - math.floor(math.log10(m)))


def _figure(value: object, kind: Kind, *, decimals: int | None = None) -> str:
    """One number as printed, by kind, in the language of the run."""
    lang = settings.lang
    if value is None:
        return ""
    if isinstance(value, bool):
        return labels.boolean(value, lang)
    if isinstance(value, int):
        return labels.money(value, lang, _currency()) if kind == "money" else labels.integer(value, lang)
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return ""
    if kind == "money":
        return labels.money(value, lang, _currency())
    if kind == "rate":
        return labels.percent(value, lang)
    if kind == "count" and value.is_integer():
        return labels.integer(int(value), lang)
    return labels.number(value, _decimals([value]) if decimals is None else decimals, lang)


# Integer columns that are codes or positions, not quantities: no thousands separator.
_PLAIN_INTEGERS = ("year", "score", "index", "week", "period", "bins", "seed", "id")


def _formatter(name: str, series: pl.Series, *, long_frame: bool) -> Cell:
    dtype = series.dtype
    lang = settings.lang
    if dtype == pl.Boolean:
        return lambda v, _: "" if v is None else labels.boolean(v, lang)
    if dtype.is_integer():
        kind = column_kind(name)
        if kind == "measure" and any(w in name.lower().split("_") for w in _PLAIN_INTEGERS):
            return lambda v, _: "" if v is None else str(v)
        return lambda v, _: _figure(v, kind)
    if dtype.is_float():
        if long_frame and name in VALUE_COLUMNS:
            return lambda v, key: _figure(v, column_kind(key or ""))
        kind = column_kind(name)
        if kind == "count" and not all(v.is_integer() for v in series.drop_nulls().to_list() if math.isfinite(v)):
            kind = "measure"  # mean counts (RFM summary, weighted summaries): decimals for all
        decimals = _decimals(series.to_list()) if kind == "measure" else None
        return lambda v, _: _figure(v, kind, decimals=decimals)
    if dtype.is_nested():
        return lambda v, _: "" if v is None else json.dumps(v, default=str, ensure_ascii=False)
    return lambda v, _: "" if v is None else str(v)


def _numeric_text(values: Sequence[str]) -> bool:
    """Every non-empty text is a formatted number (a column made readable by the command)."""
    shown = [v for v in values if v.strip()]
    if not shown:
        return False
    for v in shown:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", v):  # an ISO date made text
            continue
        core = v.strip()
        for ch in "€$£¥%*\u202f\u00a0 ,.":
            core = core.replace(ch, "")
        if not core.lstrip("+-−").isdigit():
            return False
    return True


def _cells(df: pl.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
    """Headers, formatted rows and right-alignment of `df` (already rounded) for a person."""
    lang = settings.lang
    key = next((k for k in KEY_COLUMNS if k in df.columns and df.schema[k] == pl.String), None)
    long_frame = key is not None and bool(VALUE_COLUMNS & set(df.columns))
    fmts = [_formatter(c, df.get_column(c), long_frame=long_frame) for c in df.columns]
    keys = df.get_column(key).to_list() if long_frame and key is not None else [None] * df.height
    rows = [[f(v, k) for f, v in zip(fmts, row, strict=True)] for row, k in zip(df.iter_rows(), keys, strict=True)]
    if long_frame and key == "kpi" and lang == "fr":  # KPI names are labels too
        i = df.columns.index("kpi")
        for r in rows:
            r[i] = label(r[i], lang)
    numeric = [t.is_numeric() or t.is_temporal() or _numeric_text([r[i] for r in rows]) for i, t in enumerate(df.schema.dtypes())]
    return [label(c, lang) for c in df.columns], rows, numeric


def formatted_cells(df: pl.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
    """Headers, rows and right-alignment of `df` as the terminal shows it (rounded, labelled and
    formatted in the language of `settings.lang`): what the HTML report lays out."""
    return _cells(rounded(df))


def figure_text(name: str, value: object) -> str:
    """One figure named `name` as a person reads it (its kind from its name, `column_kind`)."""
    return _figure(_round_value(name, value), column_kind(name))


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def frame(
    df: pl.DataFrame, *, fmt: OutputFormat | None = None, title: str | None = None, max_rows: int = 50, caption: str | None = None
) -> None:
    """Print a frame to stdout in the requested format (tables are cut to `max_rows` rows).

    `caption` is a note under the table and the Markdown table (not in CSV or JSON).
    """
    fmt = default_format(fmt)
    df = rounded(df)
    out = sys.stdout
    if fmt == "csv":
        out.write(nested_as_json(df).write_csv())
    elif fmt == "json":
        out.write(json.dumps(df.to_dicts(), default=str, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "jsonl":
        out.write(df.write_ndjson())
    else:
        headers, rows, numeric = _cells(df.head(max_rows) if fmt == "table" else df)
        more = df.height - max_rows if fmt == "table" else 0
        show = _markdown if fmt == "markdown" else _table
        show(headers, rows, numeric, title=title, caption=caption, more_rows=more, temporal=[t.is_temporal() for t in df.schema.dtypes()])


def _markdown(headers: list[str], rows: list[list[str]], numeric: list[bool], *, title: str | None, caption: str | None, **_: object) -> None:
    out = sys.stdout
    if title:
        out.write(f"\n**{labels.title(title, settings.lang)}**\n\n")
    out.write("| " + " | ".join(headers) + " |\n")
    out.write("|" + "|".join("---:" if n else "---" for n in numeric) + "|\n")
    for row in rows:
        out.write("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |\n")
    if caption:
        out.write(f"\n_{caption}_\n")


def _table(
    headers: list[str], rows: list[list[str]], numeric: list[bool], *, title: str | None, caption: str | None, more_rows: int,
    temporal: list[bool],
) -> None:
    """A Rich table that fits the terminal: headers wrap above their column, numbers are never cut,
    text wraps, and columns that cannot fit are left out (said under the table), dates first."""
    console = stdout()
    lang = settings.lang
    headers = [h.replace("_", " ") for h in headers]
    longest = [max([len(r[i]) for r in rows], default=0) for i in range(len(headers))]
    word = [max((len(w) for w in h.split()), default=0) for h in headers]
    # A text column wraps between words, so it needs its longest word (up to 20) and at least 8.
    longest_word = [max((len(w) for r in rows for w in r[i].split()), default=0) for i in range(len(headers))]
    need = [max(longest[i], word[i]) if numeric[i] else max(word[i], min(longest_word[i], 20), min(longest[i], 8))
            for i in range(len(headers))]
    shown = list(range(len(headers)))
    # One space between columns (box.SIMPLE_HEAD without edges or padding).
    while len(shown) > 1 and sum(need[i] for i in shown) + len(shown) - 1 > console.width:
        dates = [i for i in shown[1:] if temporal[i]]
        shown.remove(dates[0] if dates else shown[-1])
    hidden = [headers[i] for i in range(len(headers)) if i not in shown]
    # Text columns share the room left, in proportion to what they lack of their full width.
    width = dict(zip(shown, (need[i] for i in shown), strict=True))
    room = console.width - sum(width.values()) - (len(shown) - 1)
    lack = {i: max(longest[i], len(headers[i])) - need[i] for i in shown if not numeric[i]}
    total = sum(lack.values())
    for i, short in lack.items():
        give = min(short, room * short // total) if total else 0
        width[i] += give
    for i, short in lack.items():  # what rounding down left over, first columns first
        give = max(0, min(short - (width[i] - need[i]), console.width - sum(width.values()) - (len(shown) - 1)))
        width[i] += give
    if title:
        console.print(Text(labels.title(title, lang), style="bold"))
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0), pad_edge=False)
    for i in shown:
        if numeric[i]:
            table.add_column(textwrap.fill(headers[i], need[i]), justify="right", no_wrap=True, width=need[i])
        else:
            table.add_column(headers[i], justify="left", width=width[i])
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    notes = []
    if more_rows > 0:
        notes.append(labels.message("more rows", lang, n=labels.integer(more_rows, lang)))
    if hidden:
        notes.append(labels.message("more columns", lang, n=len(hidden), names=", ".join(hidden)))
    if caption:
        notes.append(caption)
    for note in notes:
        console.print(Text(note, style="dim"))
    console.print()


def mapping(values: Mapping[str, object], *, fmt: OutputFormat | None = None, title: str | None = None) -> None:
    """Print key/value pairs (a fitted model's parameters, a single KPI...), each figure by the kind
    its name says (`fidelcli.io.rounding.column_kind`)."""
    fmt = default_format(fmt)
    values = {k: _round_value(k, v) for k, v in values.items()}
    if fmt == "json":
        sys.stdout.write(json.dumps(values, default=str, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt in ("csv", "jsonl"):
        plain = {k: json.dumps(v) if isinstance(v, bool) else ("" if v is None else str(v)) for k, v in values.items()}
        frame(pl.DataFrame({"name": list(plain), "value": list(plain.values())}), fmt=fmt)
        return
    headers = [label("name", settings.lang), label("value", settings.lang)]
    rows = [[label(k, settings.lang), _figure(v, column_kind(k))] for k, v in values.items()]
    show = _markdown if fmt == "markdown" else _table
    show(headers, rows, [False, True], title=title, caption=None, more_rows=0, temporal=[False, False])


def pseudonym_caption(*, keyed: bool) -> str:
    """The note under a table of pseudonymised ids: whether they are stable across runs."""
    return labels.message("keyed pseudonyms" if keyed else "random pseudonyms", settings.lang)


def save(df: pl.DataFrame, path: Path) -> None:
    """Write the full result to a file (format from its extension) and say so on stderr."""
    with _non_finite_as_warnings():
        write_frame(df, path)
    info(f"wrote {df.height:,} rows to {path}")


def diagnostic(message: str) -> str:
    """A message as printed on stderr: personal values masked (`scrub`) unless `--show-values`."""
    return message if settings.show_values else scrub(message)


def result(doc: Result, table: pl.DataFrame, *, output: Path | None, fmt: OutputFormat | None) -> bool:
    """The shared output step of a command returning one `fidelcli.result.Result` (`doc`) and showing
    one of its tables: -o FILE.json writes the whole result, another -o the chosen `table`; --format
    json prints the whole result, csv/jsonl the table. True when nothing more is to be shown (the
    command then stops); False for the table and Markdown formats, which the command renders itself."""
    if output is not None:
        if output.suffix.lower() == ".json":
            write_json(json.loads(doc.to_json()), output)
            info(f"wrote the result to {output}")
        else:
            save(table, output)
        if fmt is None and not is_terminal():
            return True
    resolved = default_format(fmt)
    if resolved == "json":
        sys.stdout.write(doc.to_json() + "\n")
        return True
    if resolved in ("csv", "jsonl"):
        frame(table, fmt=resolved)
        return True
    return False


def info(message: str) -> None:
    if not settings.quiet:
        stderr().print(diagnostic(message), markup=False, soft_wrap=True)


def warn(message: str) -> None:
    if not settings.quiet:
        stderr().print(f"warning: {diagnostic(message)}", style="yellow", markup=False, soft_wrap=True)


def warnings(messages: list[str]) -> None:
    """Print a result's warnings (data after --as-of, dropped rows...), personal values masked."""
    for m in messages:
        warn(m)


@contextmanager
def progress(description: str) -> Iterator[None]:
    """A spinner on stderr when it is a terminal; a plain timestamped log line otherwise (cron).

    While the spinner runs, `info` and `warn` print through its console: each message is a line of
    its own above the spinner, never mixed into the spinner's line.
    """
    global _live
    if settings.quiet:
        yield
        return
    if sys.stderr.isatty():
        console = Console(stderr=True, no_color=not _color(), highlight=False)
        previous, _live = _live, console
        try:
            with console.status(description):
                yield
        finally:
            _live = previous
    else:
        start = time.monotonic()
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {description}\n")
        yield
        if settings.verbose:
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} done in {time.monotonic() - start:.1f}s\n")
