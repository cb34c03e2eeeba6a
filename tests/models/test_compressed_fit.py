"""Fits on compressed sufficient statistics equal the fits on every customer's row.

Every fit runs on the distinct rows ((x, t_x, T), (x, t_x, n) or (x, m)) with a count weight
(`fidelcli.models.compress`). The weighted log-likelihood is the same sum as the per-customer one,
only grouped, so the fitted parameters and the total log-likelihood must equal those of the same
fit run on the uncompressed rows: here `compress` is replaced by the identity (each customer its
own row, weight 1), which is the uncompressed fit through the same code, objective and starts.
And a weighted fit equals the fit of the rows repeated as many times as their weights say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest
from btyd_sim import simulate_purchases, simulate_spend

from fidelcli.models import BGBB, BGNBD, MBGNBD, GammaGamma, ParetoNBD, base, bgbb, gamma_gamma

REL = 1e-9
# Pareto/NBD (the derivatives of its A_0 terms) and BG/BB (its whole gradient) use finite
# differences: their gradient carries ~1e-11 of rounding noise, which moves the optimum by up to
# ~1e-7 (relative) along the flattest direction, whatever the compression. Their log-likelihoods
# agree to 1e-11.
REL_FD = 1e-7
LL_REL = 1e-11


def _identity(*columns: Any, weights: Any = None) -> tuple[np.ndarray, ...]:
    """`compress` without the compression: the rows as given, weight 1 unless weights are given."""
    cols = [np.asarray(c, dtype=float).ravel() + 0.0 for c in columns]
    w = np.ones(cols[0].size) if weights is None else np.asarray(weights, dtype=float).ravel() + 0.0
    keep = w != 0
    return (*(c[keep] for c in cols), w[keep])


def _uncompressed(monkeypatch: pytest.MonkeyPatch, fit: Callable[[], Any]) -> Any:
    with monkeypatch.context() as m:
        for module in (base, bgbb, gamma_gamma):
            m.setattr(module, "compress", _identity)
        return fit()


def _same_fit(a: Any, b: Any) -> None:
    rel = REL_FD if a.name in ("pnbd", "bgbb") else REL
    for k, v in a.params_.items():
        assert v == pytest.approx(b.params_[k], rel=rel), k
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=LL_REL)
    assert a.n_customers_ == b.n_customers_


def _cdnow_cbs(cdnow: pl.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(cdnow[c].to_numpy().astype(float) for c in ("x", "t.x", "T.cal"))


def _days_cbs() -> tuple[np.ndarray, ...]:
    """20,000 simulated BG/NBD customers with dates in whole days, in weeks (as `clv` computes them):
    many customers share a row."""
    sim = simulate_purchases("bgnbd", {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, 20_000, seed=17)
    t_x, T = np.floor(sim.t_x * 7) / 7, np.ceil(sim.T * 7) / 7
    return sim.x, np.minimum(t_x, T), T


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_cdnow_compressed_fit_equals_the_uncompressed_fit(cls: type, cdnow: pl.DataFrame,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    x, t_x, T = _cdnow_cbs(cdnow)
    compressed = cls().fit(x, t_x, T)
    assert compressed.n_distinct_ == 1016  # 2,357 customers, 1,016 distinct (x, t_x, T)
    whole = _uncompressed(monkeypatch, lambda: cls().fit(x, t_x, T))
    assert whole.n_distinct_ == 2357
    _same_fit(compressed, whole)
    # The total is the sum of the customers' own log-likelihoods at the fitted parameters.
    assert compressed.log_likelihood_ == pytest.approx(float(compressed.log_likelihood_individual(x, t_x, T).sum()), rel=1e-12)


@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD])
def test_simulated_days_compressed_fit_equals_the_uncompressed_fit(cls: type, monkeypatch: pytest.MonkeyPatch) -> None:
    x, t_x, T = _days_cbs()
    compressed = cls().fit(x, t_x, T)
    assert compressed.n_distinct_ < 0.6 * x.size  # the compression does compress
    _same_fit(compressed, _uncompressed(monkeypatch, lambda: cls().fit(x, t_x, T)))


def test_gamma_gamma_compressed_fit_equals_the_uncompressed_fit(cdnow: pl.DataFrame,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    x, m = cdnow["x"].to_numpy().astype(float), cdnow["m.x"].to_numpy()
    # Mean spends rounded to whole dollars: repeat customers share (x, m) rows.
    m = np.round(m)
    keep = (x > 0) & (m > 0)
    compressed = GammaGamma().fit(x[keep], m[keep])
    assert compressed.n_distinct_ < keep.sum()
    _same_fit(compressed, _uncompressed(monkeypatch, lambda: GammaGamma().fit(x[keep], m[keep])))


def test_bgbb_compressed_fit_equals_the_uncompressed_fit(donations: pl.DataFrame,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The recency/frequency matrix of 11,104 donors in 22 rows, and its 11,104 rows expanded.
    x, t_x, n, custs = (donations[c].to_numpy().astype(float) for c in ("x", "t.x", "n.cal", "custs"))
    rep = custs.astype(int)
    rows = tuple(np.repeat(c, rep) for c in (x, t_x, n))
    weighted = BGBB().fit(x, t_x, n, weights=custs)
    assert weighted.n_distinct_ == 22
    expanded = BGBB().fit(*rows)
    assert expanded.n_distinct_ == 22
    _same_fit(weighted, expanded)
    whole = _uncompressed(monkeypatch, lambda: BGBB().fit(*rows))
    assert whole.n_distinct_ == 11_104
    _same_fit(weighted, whole)


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_weighted_fit_of_distinct_rows_equals_the_fit_of_the_expanded_rows(cls: type, cdnow: pl.DataFrame) -> None:
    # Unequal whole weights (1 to 5 per row), against the rows repeated that many times.
    x, t_x, T = _cdnow_cbs(cdnow)
    w = np.random.default_rng(3).integers(1, 6, size=x.size)
    weighted = cls().fit(x, t_x, T, weights=w)
    expanded = cls().fit(*(np.repeat(c, w) for c in (x, t_x, T)))
    assert weighted.n_customers_ == expanded.n_customers_ == w.sum()
    _same_fit(weighted, expanded)


def test_gamma_gamma_weighted_fit_equals_the_expanded_fit() -> None:
    sim = simulate_spend({"p": 6.0, "q": 4.0, "v": 15.0}, 3_000, seed=5)
    x, m = sim[0], np.maximum(np.round(sim[1]), 1.0)  # whole amounts: rows repeat
    w = np.random.default_rng(4).integers(1, 4, size=x.size)
    _same_fit(GammaGamma().fit(x, m, weights=w), GammaGamma().fit(np.repeat(x, w), np.repeat(m, w)))
