"""Gamma-Gamma spend model: Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value"."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from btyd_sim import simulate_spend

from fidelcli.errors import InputError
from fidelcli.models import GammaGamma

TRUE = {"p": 6.0, "q": 4.0, "v": 15.0}


def test_cdnow_reproduces_fader_hardie_2013(cdnow: pl.DataFrame) -> None:
    # Fader & Hardie 2013 note, CDNOW 946 repeat customers (x > 0, m.x):
    # p = 6.25, q = 3.74, gamma (our v) = 15.44.
    x, m = cdnow["x"].to_numpy(), cdnow["m.x"].to_numpy()
    model = GammaGamma().fit(x, m)
    assert model.params_["p"] == pytest.approx(6.25, abs=5e-3)
    assert model.params_["q"] == pytest.approx(3.74, abs=5e-3)
    assert model.params_["v"] == pytest.approx(15.44, abs=5e-3)
    assert model.n_customers_ == 946
    # This implementation's LL (density of the mean spend, the note's f(m_x | p, q, gamma, x)):
    # -4055.918, pinned as a regression value.
    assert model.log_likelihood_ == pytest.approx(-4055.918, abs=2e-3)
    # Population mean p v / (q - 1) = 6.2496 * 15.4435 / 2.7442 = 35.170 (hand check).
    assert model.population_mean() == pytest.approx(35.170, abs=1e-3)


def test_expected_spend_is_the_weighted_average_of_the_note() -> None:
    # E(M | m, x) = (q-1)/(px+q-1) * pv/(q-1) + px/(px+q-1) * m; p=6, q=4, v=15, x=2, m=30:
    # 3/15 * 30 + 12/15 * 30 = 30 (m equals the population mean 90/3 = 30);
    # with m = 50: 3/15 * 30 + 12/15 * 50 = 6 + 40 = 46.
    model = GammaGamma.from_dict({"name": "gamma_gamma", "params": TRUE})
    np.testing.assert_allclose(model.expected_spend([2, 2, 0], [30.0, 50.0, 0.0]),
                               [30.0, 46.0, 30.0], rtol=1e-12)


def test_rows_without_repeat_purchase_are_ignored() -> None:
    x, m = simulate_spend(TRUE, 500, seed=3)
    a = GammaGamma().fit(x, m)
    b = GammaGamma().fit(np.concatenate([x, [0, 0]]), np.concatenate([m, [0.0, 0.0]]))
    assert a.params_ == b.params_


def test_zero_spend_with_transactions_is_an_input_error() -> None:
    with pytest.raises(InputError) as exc:
        GammaGamma().fit([1, 2], [10.0, 0.0])
    assert (exc.value.column, exc.value.row) == ("m", 2)
