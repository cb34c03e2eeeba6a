"""`fidelcli sample`: write a seeded sample dataset of every input kind, with its generating truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import typer

from fidelcli.cli import render
from fidelcli.cli.options import DATE
from fidelcli.errors import OutputError
from fidelcli.io.write import atomic_dir, check_not_cwd, check_writable


def sample_cmd(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Directory to write (replaced atomically; a non-empty one only with --force).", show_default=False)
    ],
    customers: Annotated[int, typer.Option("--customers", min=1, help="Number of customers (about 10 order lines each).")] = 5000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives byte-identical files.")] = 42,
    fmt: Annotated[Literal["csv", "parquet", "both"], typer.Option("--format", help="File format of the tables.")] = "both",
    start: Annotated[dt.datetime, typer.Option("--start", formats=DATE, help="First day of the data.", show_default="2023-01-01")] = dt.datetime(2023, 1, 1),
    end: Annotated[dt.datetime, typer.Option("--end", formats=DATE, help="Last day of the data.", show_default="2025-12-31")] = dt.datetime(2025, 12, 31),
    fr_export: Annotated[
        bool, typer.Option("--fr-export", help="Also write export_backoffice_fr.csv: the transactions as a French back-office exports them.")
    ] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace OUTPUT even if it is a non-empty directory (never the current directory or a parent of it).")] = False,
) -> None:
    """Write a realistic sample dataset of every input kind, from known generating parameters.

    Purchases follow BG/NBD with gamma-gamma order values; baskets come from a product catalogue with co-purchase affinities; with returns, loyalty members who spend more, referrals, surveys linked to churn, an A/B campaign, subscriptions with sBG churn, customer journeys and monthly acquisition spend. The parameters go to truth.json.

    Example: fidelcli sample -o sample_data --customers 2000 --seed 42 --format both --fr-export
    """  # noqa: E501  (the help shows each docstring line as written: one paragraph, one line)
    from fidelcli.sample import Format, generate  # scipy.stats: loaded only by this command

    _check_output(output, force=force)

    formats: tuple[Format, ...] = ("csv", "parquet") if fmt == "both" else (fmt,)
    with render.progress(f"generating {customers:,} customers"), atomic_dir(output) as tmp:
        truth = generate(tmp, customers=customers, seed=seed, formats=formats, start=start.date(), end=end.date(), fr_export=fr_export)
    render.frame(truth.files_table(), title=f"{output} (seed {seed}; parameters in truth.json)")


def _check_output(output: Path, *, force: bool) -> None:
    """Refuse, before generating anything, an output directory that cannot or must not be replaced:
    the current directory or a parent of it, a file, an unwritable place, or (without --force) a
    non-empty directory, whose content would be lost."""
    check_not_cwd(output)
    check_writable(output, directory=True)
    if not force and output.is_dir() and any(output.iterdir()):
        raise OutputError("is not empty; refusing to replace what it holds", file=str(output), hint="pass --force to replace it, or give a new directory")
