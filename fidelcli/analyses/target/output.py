"""The files of `target -o`: CSV for an emailing tool, with the contact fields joined from the
customers table here and only here (never in the result, never on the terminal).

The control group goes to its own file or directory, without contact fields: nobody should be
able to mail it by mistake, and `roi abtest` needs only the ids to measure the campaign later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fidelcli.analyses.target.analysis import TARGET_COLUMNS, TargetResult
from fidelcli.config import TargetOutput
from fidelcli.errors import ConfigError
from fidelcli.io.write import atomic_dir, atomic_path

CONTACT_FIELDS = ("email", "phone", "name")


@dataclass
class Written:
    """What `write_target_lists` wrote: the files (targets first), row counts, and warnings."""

    files: list[Path]
    targets: int
    control: int
    warnings: list[str] = field(default_factory=list)


def control_path(output: Path, *, per_scenario: bool) -> Path:
    """The default control output beside `output`: `x_control.csv` for `x.csv`, `DIR_control` for a directory."""
    if per_scenario:
        return output.with_name(f"{output.name}_control")
    return output.with_name(f"{output.stem}_control{output.suffix}")


def contacts_of(customers: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """customer_id and the contact `columns` asked for, one row per customer (the smallest
    non-empty value when the table repeats a customer); a contact column missing from the table
    is empty, with a warning."""
    warnings = []
    wanted = [c for c in columns if c in CONTACT_FIELDS]
    present = [c for c in wanted if c in customers.columns]
    for c in wanted:
        if c not in present:
            warnings.append(f"the customers table has no {c} column: the {c} column of the target file is empty")
    frame = customers.filter(pl.col("customer_id").is_not_null()).select("customer_id", *present)
    if not frame.get_column("customer_id").is_unique().all():
        frame = frame.group_by("customer_id").agg(pl.col(c).drop_nulls().min() for c in present)
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in wanted if c not in present), warnings


def _layout(df: pl.DataFrame, columns: list[str], headers: dict[str, str]) -> pl.DataFrame:
    return df.select(columns).rename({c: headers[c] for c in columns if c in headers})


def _write(df: pl.DataFrame, path: Path, *, bom: bool) -> None:
    df.write_csv(path, include_bom=bom)


def write_target_lists(
    result: TargetResult,
    output: Path,
    *,
    customers: pl.DataFrame,
    settings: TargetOutput | None = None,
    control_output: Path | None = None,
) -> Written:
    """Write the targeted rows to `output` and the control rows to `control_output` (default
    `control_path`), atomically: one CSV each, or with `settings.per_scenario` one directory each
    holding `<scenario>.csv` per scenario run (empty scenarios too, header only).

    Target files have `settings.columns` in that order, renamed by `settings.headers`, UTF-8 (with a
    byte-order mark if `settings.bom`, for Excel); contact fields come from `customers`. Control
    files have the result's columns (`TARGET_COLUMNS`) and no contact field.

    Raises ConfigError for a header given for a column that is not written.
    """
    cfg = settings or TargetOutput()
    columns: list[str] = list(dict.fromkeys(cfg.columns))
    stray = sorted(set(cfg.headers) - set(columns))
    if stray:
        raise ConfigError(f"[target.output] headers names {stray[0]!r}, which is not one of the columns written",
                          hint=f"columns: {', '.join(columns)}")
    contacts, warnings = contacts_of(customers, columns)
    contact_cols = [c for c in columns if c in CONTACT_FIELDS]
    targets = result.targets
    if contact_cols:
        targets = targets.join(contacts.select("customer_id", *contact_cols), on="customer_id", how="left", maintain_order="left")
    control = result.control.select(TARGET_COLUMNS)
    shapes = ((targets, output, lambda df: _layout(df, columns, cfg.headers)),
              (control, control_output or control_path(output, per_scenario=cfg.per_scenario), lambda df: df))
    files: list[Path] = []
    for frame, path, shape in shapes:
        if cfg.per_scenario:
            with atomic_dir(path) as tmp:
                for name in result.scenarios:
                    _write(shape(frame.filter(pl.col("scenario") == name)), tmp / f"{name}.csv", bom=cfg.bom)
        else:
            with atomic_path(path) as tmp:
                _write(shape(frame), tmp, bom=cfg.bom)
        files.append(path)
    return Written(files=files, targets=result.targets.height, control=result.control.height, warnings=warnings)
