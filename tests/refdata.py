"""Where the tests find data: the published reference files copied into tests/reference/ first,
then the real data sets of ../shared/data beside the checkout (skipped when that is absent).

Imported as `refdata` (tests/ is on pytest's `pythonpath`, see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "reference"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def reference_path(name: str) -> Path | None:
    """The path of data file `name` (a compressed copy `name.gz` counts), or None when absent."""
    for folder in (REFERENCE, SHARED_DATA):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.exists():
                return candidate
    return None


def reference(name: str) -> Path:
    """`reference_path(name)`, or skip the test when neither tests/reference nor ../shared/data has it."""
    path = reference_path(name)
    if path is None:
        pytest.skip(f"{name} is neither in tests/reference nor in ../shared/data")
    return path
