"""An engine-neutral description of a source: what `scan_table` found, as plain data.

`scan_table` sniffs a source (delimiter, encoding, header), maps its columns to canonical fields and
infers how to parse them (date formats) from a bounded sample. The Polars engine executes the
resulting `Table` directly; another engine (e.g. Spark) reads the same source from its `TableSpec`,
so the sniffing and the inference are done once, here, for every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fidelcli.io.columns import Kind
    from fidelcli.io.dialect import Encoding
    from fidelcli.io.text import Ragged


@dataclass(frozen=True)
class TableSpec:
    """How to read a source as an input kind.

    - `source`: the file, glob, directory or database URI as given (`-` is standard input);
      `file` the name used in messages.
    - `kind`: the input kind (transactions, customers, ...), which fixes the canonical fields.
    - `columns`: {field: source column} (`Table.mapping`).
    - `date_formats`: {field: strptime format} of the date fields parsed from text.
    - read settings: `delimiter` (the separator found or given; None for typed formats), `encoding`
      (as given; None = detected), `header`, `sheet`, `ragged` ("error" or "skip"), `date_format`
      (the `--date-format` given, if any).
    - `amount_from_quantity`: the amount is quantity x unit price (no amount column).
    - `text`: the source is a text file (its columns are read as text, then parsed).
    """

    source: str
    kind: Kind
    file: str
    columns: dict[str, str] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    encoding: Encoding | None = None
    header: bool = True
    sheet: str | None = None
    ragged: Ragged = "error"
    date_format: str | None = None
    amount_from_quantity: bool = False
    text: bool = False

    @property
    def fields(self) -> list[str]:
        """The canonical fields the source provides (the amount included when it is computed)."""
        return [*self.columns, *(["amount"] if self.amount_from_quantity else [])]
