"""A/B statistics of fidelcli.stats against textbook examples and scipy/statsmodels on the same counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from fidelcli import stats

sm_prop = pytest.importorskip("statsmodels.stats.proportion")
sm_power = pytest.importorskip("statsmodels.stats.power")
sm_multi = pytest.importorskip("statsmodels.stats.multitest")
sm_ws = pytest.importorskip("statsmodels.stats.weightstats")

# Cookie Cats (gate_30 vs gate_40) retention counts, as every analysis of the data set publishes them.
COOKIE = {"retention_1": (20034, 44700, 20119, 45489), "retention_7": (8502, 44700, 8279, 45489)}


def test_wilson_interval_matches_newcombe_1998_table_i() -> None:
    # Newcombe (1998, Stat. Med. 17:857), Table I, method 3 (score): 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605.
    assert [round(v, 4) for v in stats.wilson_interval(81, 263)] == [0.2553, 0.3662]
    assert [round(v, 4) for v in stats.wilson_interval(15, 148)] == [0.0624, 0.1605]
    assert stats.wilson_interval(0, 0) == (None, None)


def test_newcombe_difference_matches_newcombe_1998_table_ii() -> None:
    # Newcombe (1998, Stat. Med. 17:873), Table II, method 10: 56/70 - 48/80 -> 0.0524 to 0.3339; 9/10 - 3/10 -> 0.1705 to 0.8090.
    assert [round(v, 4) for v in stats.newcombe_interval(56, 70, 48, 80)] == [0.0524, 0.3339]
    assert [round(v, 4) for v in stats.newcombe_interval(9, 10, 3, 10)] == [0.1705, 0.8090]


@pytest.mark.parametrize("metric", sorted(COOKIE))
def test_proportions_equal_statsmodels_on_cookie_cats_counts(metric: str) -> None:
    x0, n0, x1, n1 = COOKIE[metric]
    lo, hi = stats.wilson_interval(x1, n1)
    assert (lo, hi) == pytest.approx(sm_prop.proportion_confint(x1, n1, method="wilson"), abs=1e-12)
    assert stats.newcombe_interval(x1, n1, x0, n0) == pytest.approx(
        sm_prop.confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff"), abs=1e-10)
    z, p = stats.two_proportion_test(x1, n1, x0, n0)
    z_sm, p_sm = sm_prop.proportions_ztest([x1, x0], [n1, n0])
    assert (z, p) == pytest.approx((z_sm, p_sm), rel=1e-10)
    table = np.array([[x1, n1 - x1], [x0, n0 - x0]])
    chi2, p_chi, dof = stats.chi_square_test(table)
    ref = sps.chi2_contingency(table, correction=False)
    assert (chi2, p_chi, dof) == pytest.approx((ref.statistic, ref.pvalue, ref.dof), rel=1e-10)
    assert chi2 == pytest.approx(z * z, rel=1e-10)  # the z test squared is the 2 x 2 chi-square
    rr = stats.ratio_interval(x1, n1, x0, n0)
    ref_rr = sm_prop.confint_proportions_2indep(x1, n1, x0, n0, method="log", compare="ratio")
    assert rr == pytest.approx(ref_rr, rel=1e-10)


def test_cookie_cats_7_day_retention_is_lower_with_gate_40() -> None:
    # 8502/44700 = 0.190201 vs 8279/45489 = 0.182000: p = 0.0016 (the widely reported result).
    x0, n0, x1, n1 = COOKIE["retention_7"]
    _, p = stats.two_proportion_test(x1, n1, x0, n0)
    assert round(x0 / n0, 6) == 0.190201 and round(x1 / n1, 6) == 0.182000
    assert p == pytest.approx(0.001554, abs=1e-6)


def test_welch_equals_scipy_and_statsmodels() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(1.0, 1.2, 400), rng.lognormal(0.8, 1.0, 300)
    w = stats.welch_test(a.size, a.mean(), a.var(ddof=1), b.size, b.mean(), b.var(ddof=1))
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert (w.t, w.p_value, w.df) == pytest.approx((ref.statistic, ref.pvalue, ref.df), rel=1e-10)
    ci = sm_ws.CompareMeans(sm_ws.DescrStatsW(a), sm_ws.DescrStatsW(b)).tconfint_diff(usevar="unequal")
    assert (w.low, w.high) == pytest.approx(ci, rel=1e-10)
    flat = stats.welch_test(10, 1.0, 0.0, 10, 1.0, 0.0)
    assert flat.p_value is None and flat.low is None


def test_bootstrap_of_compressed_values_matches_the_row_bootstrap_in_distribution() -> None:
    # Values 0 (x 900) and 10 (x 100): mean 1, standard error of the mean sqrt(9 / 1000) = 0.0949.
    values, counts = np.array([0.0, 10.0]), np.array([900.0, 100.0])
    m1, m2 = stats.bootstrap_mean_difference(values, counts, values, counts, n_boot=4000, seed=1)
    assert m1.mean() == pytest.approx(1.0, abs=0.01)
    assert m1.std() == pytest.approx(np.sqrt(9 / 1000), rel=0.05)
    assert (m1 - m2).std() == pytest.approx(np.sqrt(2 * 9 / 1000), rel=0.05)
    again = stats.bootstrap_mean_difference(values, counts, values, counts, n_boot=4000, seed=1)
    assert np.array_equal(again[0], m1) and np.array_equal(again[1], m2)  # seeded


@pytest.mark.parametrize(("p1", "p2", "n1", "ratio"), [(0.12, 0.10, 2000, 1.0), (0.45, 0.4482, 45489, 44700 / 45489), (0.06, 0.03, 500, 0.5)])
def test_power_and_sample_size_of_proportions_equal_statsmodels(p1: float, p2: float, n1: float, ratio: float) -> None:
    h = sm_prop.proportion_effectsize(p1, p2)
    ref = sm_power.NormalIndPower().power(h, nobs1=n1, alpha=0.05, ratio=ratio)
    assert stats.power_proportions(p1, p2, n1, n1 * ratio) == pytest.approx(ref, rel=1e-9)
    need = stats.sample_size(lambda n: stats.power_proportions(p1, p2, n, n * ratio), power=0.8)
    ref_n = sm_power.NormalIndPower().solve_power(h, alpha=0.05, power=0.8, ratio=ratio)
    assert need == pytest.approx(ref_n, rel=1e-5)


def test_power_of_means_equals_statsmodels_and_cohen() -> None:
    ref = sm_power.TTestIndPower().power(0.5, nobs1=64, alpha=0.05, ratio=1.0)
    assert stats.power_means(0.5, 1.0, 64, 64) == pytest.approx(ref, rel=1e-9)
    # Cohen (1988), Table 2.4.1: d = 0.5 needs 64 per group for power 0.80 at alpha 0.05 (two-sided).
    assert np.ceil(stats.sample_size(lambda n: stats.power_means(5.0, 10.0, n, n))) == 64
    assert stats.sample_size(lambda n: 0.05) is None  # no effect: no sample size


def test_holm_equals_statsmodels_and_hand_example() -> None:
    # Hand: sorted 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06 (step-down monotone).
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    ps = [0.001, 0.2, 0.013, 0.04, 0.5, 0.0149]
    assert stats.holm(ps) == pytest.approx(list(sm_multi.multipletests(ps, method="holm")[1]))
    assert stats.holm([None, 0.02, 0.9]) == [None, 0.04, 0.9]


def test_sample_ratio_mismatch_matches_kohavi_2020_example() -> None:
    # Kohavi, Tang & Xu (2020), ch. 21: 821,588 vs 815,482 users in a 50/50 test -> p = 1.8e-6.
    stat, p = stats.sample_ratio_test([821_588, 815_482], [0.5, 0.5])
    assert round(p, 7) == 0.0000018
    ref = sps.chisquare([821_588, 815_482])
    assert (stat, p) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-10)
