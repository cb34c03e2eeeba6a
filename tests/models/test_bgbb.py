"""BG/BB: Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
setting", Marketing Science 29(6); donations data from BTYD (Hardie's note 010)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fidelcli.errors import InputError
from fidelcli.models import BGBB

TRUE = {"alpha": 1.2, "beta": 0.8, "gamma": 0.7, "delta": 2.5}


def _rf(df: pl.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(df[c].to_numpy() for c in ("x", "t.x", "n.cal", "custs"))


def test_donations_reproduce_fader_hardie_shang_2010(donations: pl.DataFrame) -> None:
    # FHS 2010, 1995 donor cohort, 6 calibration opportunities, 11,104 donors:
    # alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33,225.6.
    x, t_x, n, custs = _rf(donations)
    model = BGBB().fit(x, t_x, n, weights=custs)
    p = model.params_
    assert p["alpha"] == pytest.approx(1.204, abs=5e-4)
    assert p["beta"] == pytest.approx(0.750, abs=5e-4)
    assert p["gamma"] == pytest.approx(0.657, abs=5e-4)
    assert p["delta"] == pytest.approx(2.783, abs=5e-4)
    assert model.log_likelihood_ == pytest.approx(-33225.6, abs=0.05)
    assert model.n_customers_ == 11_104
    assert model.n_distinct_ == 22


def test_donations_holdout_and_tracking(donations: pl.DataFrame) -> None:
    x, t_x, n, custs = _rf(donations)
    model = BGBB().fit(x, t_x, n, weights=custs)
    # Holdout 2002-2006 (5 opportunities): 13,260 actual donations (BTYD x.star); the model's
    # conditional expectations sum to 12,884 (-2.8 %), this implementation's pinned value.
    total = float(custs @ model.expected_purchases(5, x, t_x, n))
    assert total == pytest.approx(12_884.16, abs=0.05)
    assert abs(total / 13_260 - 1) < 0.05
    # Calibration total: 24,615 donations in 1996-2001 (BTYD annual.trans, periods 1-6).
    assert 11_104 * model.expected_purchases_new(6) == pytest.approx(24_615, rel=0.005)
    # All 11 years: 37,875 donations (sum of annual.trans); the paper's tracking plot is close.
    assert 11_104 * model.expected_purchases_new(11) == pytest.approx(37_875, rel=0.01)


def test_gamma_equal_one_is_the_continuous_limit() -> None:
    values = [BGBB.from_dict({"name": "bgbb", "params": {**TRUE, "gamma": g}})
              .expected_purchases(5, 3, 4, 6) for g in (1 - 1e-6, 1.0, 1 + 1e-6)]
    assert values[1] == pytest.approx(values[0], rel=1e-5)
    assert values[1] == pytest.approx(values[2], rel=1e-5)


@pytest.mark.parametrize(
    ("x", "t_x", "n"),
    [([2], [1], [6]), ([1], [7], [6]), ([0], [3], [6]), ([1.5], [2], [6]), ([1], [2], [np.nan])],
)
def test_inconsistent_data_is_an_input_error(x, t_x, n) -> None:
    with pytest.raises(InputError):
        BGBB().fit(x, t_x, n)
