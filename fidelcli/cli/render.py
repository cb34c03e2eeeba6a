"""Render step: Rich tables on a terminal, CSV when piped, files by extension. Never computes a number."""

from __future__ import annotations

import json
import os
import textwrap
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table

from fidelcli.cli.labels import label
from fidelcli.io.write import write_frame

OutputFormat = Literal["table", "csv", "json", "jsonl", "markdown"]


@dataclass
class Settings:
    quiet: bool = False
    verbose: bool = False
    color: bool = True
    lang: str = "en"
    # --show-values: diagnostics quote personal values (emails, phones, names) instead of masking them.
    show_values: bool = False


settings = Settings()


def _color() -> bool:
    return settings.color and "NO_COLOR" not in os.environ


def stdout() -> Console:
    return Console(no_color=not _color(), highlight=False, soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True, no_color=not _color(), highlight=False)


def is_terminal() -> bool:
    return sys.stdout.isatty()


def default_format(fmt: OutputFormat | None) -> OutputFormat:
    """`--format` when given; else a Rich table on a terminal and CSV when piped."""
    return fmt or ("table" if is_terminal() else "csv")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def frame(df: pl.DataFrame, *, fmt: OutputFormat | None = None, title: str | None = None, max_rows: int = 50) -> None:
    """Print a frame to stdout in the requested format (tables are cut to `max_rows` rows)."""
    fmt = default_format(fmt)
    out = sys.stdout
    if fmt == "csv":
        out.write(_plain(df).write_csv())
    elif fmt == "json":
        out.write(json.dumps(df.to_dicts(), default=str, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "jsonl":
        out.write(df.write_ndjson())
    elif fmt == "markdown":
        if title:
            out.write(f"\n**{title}**\n\n")
        cols = list(df.columns)
        out.write("| " + " | ".join(label(c, settings.lang) for c in cols) + " |\n")
        out.write("|" + "|".join("---" for _ in cols) + "|\n")
        for row in df.iter_rows():
            out.write("| " + " | ".join(_cell(v) for v in row) + " |\n")
    else:
        table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, padding=(0, 0), pad_edge=False)
        rows = [[_cell(v) for v in row] for row in df.head(max_rows).iter_rows()]
        headers = [label(c, settings.lang).replace("_", " ") for c in df.columns]
        numeric = [t.is_numeric() or t.is_temporal() for t in df.schema.dtypes()]
        longest = [max([len(r[i]) for r in rows], default=0) for i in range(df.width)]
        widths = [max(longest[i], *(len(w) for w in headers[i].split())) for i in range(df.width)]
        # Numbers and dates are never cut or wrapped (their header wraps above them); text columns
        # share the rest of the terminal's width and wrap when they must.
        room = stdout().width - sum(w + 1 for w, n in zip(widths, numeric) if n) - 1
        n_text = max(1, numeric.count(False))
        for i, header in enumerate(headers):
            if numeric[i]:
                table.add_column(textwrap.fill(header, widths[i]), justify="right", no_wrap=True, min_width=widths[i])
            else:
                table.add_column(header, justify="left", min_width=max(8, min(longest[i], room // n_text - 1)))
        for row in rows:
            table.add_row(*row)
        console = stdout()
        console.print(table)
        if df.height > max_rows:
            console.print(f"[dim]… {df.height - max_rows:,} more rows (use -o FILE or --format csv for all)[/dim]")


def _plain(df: pl.DataFrame) -> pl.DataFrame:
    nested = [c for c, t in df.schema.items() if t.is_nested()]
    return df.with_columns(pl.col(c).map_elements(json.dumps, return_dtype=pl.String) for c in nested) if nested else df


def mapping(values: Mapping[str, object], *, fmt: OutputFormat | None = None, title: str | None = None) -> None:
    """Print key/value pairs (a fitted model's parameters, a single KPI...)."""
    fmt = default_format(fmt)
    if fmt == "json":
        sys.stdout.write(json.dumps(dict(values), default=str, ensure_ascii=False, indent=2) + "\n")
        return
    df = pl.DataFrame({"name": [label(k, settings.lang) for k in values], "value": [_cell(v) for v in values.values()]})
    frame(df, fmt=fmt, title=title)


def save(df: pl.DataFrame, path: Path) -> None:
    """Write the full result to a file (format from its extension) and say so on stderr."""
    write_frame(df, path)
    info(f"wrote {df.height:,} rows to {path}")


def info(message: str) -> None:
    if not settings.quiet:
        stderr().print(message, markup=False, soft_wrap=True)


def warn(message: str) -> None:
    if not settings.quiet:
        stderr().print(f"warning: {message}", style="yellow", markup=False, soft_wrap=True)


def warnings(messages: list[str]) -> None:
    for m in messages:
        warn(m)


@contextmanager
def progress(description: str) -> Iterator[None]:
    """A spinner on stderr when it is a terminal; a plain timestamped log line otherwise (cron)."""
    if settings.quiet:
        yield
        return
    if sys.stderr.isatty():
        with stderr().status(description):
            yield
    else:
        start = time.monotonic()
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {description}\n")
        yield
        if settings.verbose:
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} done in {time.monotonic() - start:.1f}s\n")
