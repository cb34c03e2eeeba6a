"""Exceptions of fidelcli: each carries where the problem is and what to do about it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypedDict, Unpack


class Where(TypedDict, total=False):
    """Where a problem is, and what to do about it: the keyword arguments of `FidelError`."""

    file: str | None
    column: str | None
    row: int | None
    hint: str | None


class FidelError(Exception):
    """Base class: a problem the user can fix; the CLI prints it as one line and exits."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.column = column
        self.row = row
        self.hint = hint

    def location(self) -> str:
        """`sales.csv, column "date", row 17` (only the parts that are known)."""
        parts = []
        if self.file:
            parts.append(self.file)
        if self.column:
            parts.append(f'column "{self.column}"')
        if self.row is not None:
            parts.append(f"row {self.row}")
        return ", ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc}: {self.message}" if loc else self.message


class InputError(FidelError):
    """An unreadable file, a bad value, an ambiguous date."""


class MappingError(InputError):
    """A missing or ambiguous column, or a `--map` that names no field or no column.

    Besides the message (which lists the candidates), the error carries its data:

    - `code`: a stable kebab-case identifier. A problem of the data has the code of its `validate`
      finding (`missing-column`, `ambiguous-column`); a usage mistake has its own (`unknown-kind`,
      `map-syntax`, `unknown-field`, `no-such-column`, `ambiguous-money`).
    - `field`: the canonical field concerned (`customer_id`), or None.
    - `candidates`: the source columns that could be meant, as written in the file (not masked: the
      message masks them); for an unknown field or input kind, the valid names.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        field: str | None = None,
        candidates: Sequence[str] = (),
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, file=file, column=column, row=row, hint=hint)
        self.code = code
        self.field = field
        self.candidates = tuple(candidates)


class DateFormatError(InputError):
    """A date column whose format cannot be inferred from its values.

    `code` is the code of its `validate` finding: `ambiguous-date` (the values may be day/month or
    month/day) or `unknown-date-format` (no known format fits them).
    """

    def __init__(self, message: str, *, code: Literal["ambiguous-date", "unknown-date-format"], **where: Unpack[Where]) -> None:
        super().__init__(message, **where)
        self.code = code


class ModelFileError(InputError):
    """A model file that cannot be used: unreadable, too large, not JSON, of another kind, or with
    content outside its schema (a non-finite number, an index out of range, an unknown field)."""


class OutputError(FidelError):
    """A result that cannot be written: no such directory, no permission, a directory or a file in the
    way, an unknown output format, or a path that is an input of the running command."""


class DependencyError(FidelError):
    """An optional dependency is not installed; the hint names the extra that installs it
    (`pip install 'fidelcli[plots]'`)."""


class ConfigError(FidelError):
    """An invalid fidelcli.toml or option value."""


class FitError(FidelError):
    """A model could not be fitted; says what was tried and what to change."""


class CheckFailed(FidelError):
    """A validation check or a `--fail-on` threshold failed."""

    exit_code = 1
