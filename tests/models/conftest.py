"""Reference data sets of the model tests (copies in tests/reference/, see its README)."""

from __future__ import annotations

import polars as pl
import pytest
from refdata import reference

# The tests import the simulators as `btyd_sim` (tests/models is on pytest's `pythonpath`).


@pytest.fixture(scope="session")
def cdnow() -> pl.DataFrame:
    """2,357 CDNOW customers, weeks: cust, x, t.x, T.cal, x.star, m.x (BTYD cdnowSummary)."""
    path = reference("btyd_cdnow_cbs_holdout.csv")
    return pl.read_csv(path)


@pytest.fixture(scope="session")
def donations() -> pl.DataFrame:
    """BG/BB donations recency/frequency matrix (Fader, Hardie & Shang 2010), 11,104 donors."""
    path = reference("btyd_donations_rf_calibration.csv")
    return pl.read_csv(path)


@pytest.fixture(scope="session")
def retention() -> pl.DataFrame:
    """Fader & Hardie (2007) survivor curves, percent of a 1,000-customer cohort, years 0-12."""
    path = reference("fader_hardie_2007_sbg_retention.csv")
    return pl.read_csv(path)
