"""Fixtures of the analyses tests; the helpers import as `analyses_data` (tests/analyses is on pytest's `pythonpath`)."""

from __future__ import annotations

import polars as pl
import pytest
from analyses_data import TINY, tx_frame


@pytest.fixture
def tiny() -> pl.LazyFrame:
    return tx_frame(TINY)
