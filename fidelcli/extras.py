"""Optional dependencies, installed with an extra of the package (pyproject.toml):

- `plots`: matplotlib, for the charts of `clv --plots`;
- `duckdb`: duckdb, for `duckdb:///file.db?table=...` sources;
- `postgres`: psycopg 3, for `postgresql://...` sources;
- `spark`: pyspark, for `--engine spark` (`fidelcli.engine.spark`).

`require` imports one, or raises a `DependencyError` whose hint is the command that installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

from fidelcli.errors import DependencyError

Extra = Literal["plots", "duckdb", "postgres", "spark"]

# The module each extra provides (the distribution may be named otherwise: psycopg[binary]).
MODULES: dict[Extra, str] = {"plots": "matplotlib", "duckdb": "duckdb", "postgres": "psycopg", "spark": "pyspark"}


def require(extra: Extra, *, purpose: str, file: str | None = None) -> ModuleType:
    """The module of `extra`, imported; `purpose` says what needs it ("reading DuckDB").

    Raises
    ------
    DependencyError
        The module is not installed: `reading DuckDB needs the duckdb package`, with the hint
        `pip install 'fidelcli[duckdb]'` (and `file`, when given, named first).
    """
    name = MODULES[extra]
    try:
        return importlib.import_module(name)
    except ImportError:
        raise DependencyError(f"{purpose} needs the {name} package", file=file, hint=f"pip install 'fidelcli[{extra}]'") from None
