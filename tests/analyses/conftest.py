"""Fixtures of the analyses tests; the helpers are importable as `analyses_data` whatever --import-mode is used."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from analyses_data import TINY, tx_frame  # noqa: E402


@pytest.fixture
def tiny() -> pl.LazyFrame:
    return tx_frame(TINY)
