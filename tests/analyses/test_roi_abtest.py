"""`abtest()`: coverage of the true lifts of `fidelcli sample`'s A/B campaign, Hillstrom and Cookie
Cats equal to scipy/statsmodels on the same data, warnings, segments, and the Qini of the uplift model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from refdata import reference
from scipy import stats as sps

from fidelcli.analyses.roi import AbtestOptions, abtest, qini_coefficient, qini_curve
from fidelcli.io.results import scan_results
from fidelcli.sample.engagement import campaign_chunk
from fidelcli.sample.people import acquisition
from fidelcli.sample.truth import Truth

sm_prop = pytest.importorskip("statsmodels.stats.proportion")


def sample_campaign(seed: int, customers: int = 20_000) -> tuple[pl.DataFrame, Truth]:
    """The A/B campaign of `fidelcli sample` (its own generator, without the other tables)."""
    truth = Truth(customers=customers, seed=seed, start=dt.date(2023, 1, 1), end=dt.date(2025, 12, 31), chunk_size=customers)
    rng = np.random.default_rng(seed)
    base = acquisition(truth, rng)
    return campaign_chunk(truth, base, 0, customers, rng, 6), truth


@pytest.mark.slow
def test_intervals_cover_the_true_lifts_of_the_sample_over_20_seeds() -> None:
    # Truth: conversion control .03, A .06, B .09; revenue of a buyer Gamma(p)/Gamma(q, 1/gamma) with
    # mean p gamma / (q - 1) = 4 x 40 / 2 = 80, so revenue per recipient = rate x 80.
    hits = {"converted": 0, "welch": 0, "bootstrap": 0}
    trials = 0
    for seed in range(20):
        df, truth = sample_campaign(seed)
        spend = truth.spend.p * truth.spend.gamma / (truth.spend.q - 1)
        res = abtest(df.lazy(), metrics=["converted"], revenue=True, cost=True,
                     options=AbtestOptions(control="control", bootstrap=400, seed=seed, split=truth.campaign.variant_shares))
        for row in res.lifts.iter_rows(named=True):
            true = truth.campaign.conversion_rate[row["variant"]] - truth.campaign.conversion_rate["control"]
            key = "converted" if row["metric"] == "converted" else row["test"]
            if key not in hits:
                continue
            true = true if key == "converted" else true * spend
            hits[key] += row["lift_lower"] <= true <= row["lift_upper"]
        trials += 1
        assert res.srm_p_value is not None and not any("sample-ratio" in w for w in res.warnings)
    # Two variants per seed: 40 intervals each; 95 % coverage, at least 17 in 20 asked (34 in 40).
    assert trials == 20
    assert all(h >= 34 for h in hits.values()), hits


def test_variants_table_by_hand() -> None:
    # control: 4 recipients, 1 converted, revenue 10, cost 0; B: 4 recipients, 2 converted, revenue 10 + 30, cost 4 x 0.5.
    df = pl.DataFrame({
        "variant": ["control"] * 4 + ["B"] * 4,
        "converted": [True, False, False, False, True, True, False, False],
        "revenue": [10.0, 0, 0, 0, 10.0, 30.0, 0, 0],
        "cost": [0.0] * 4 + [0.5] * 4,
    })
    res = abtest(df.lazy(), metrics=["converted"], revenue=True, cost=True, options=AbtestOptions(margin=0.5, bootstrap=200))
    v = res.variants.row(1, named=True)
    assert res.variants["variant"].to_list() == ["control", "B"]
    assert v["converted_rate"] == 0.5 and v["revenue_per_recipient"] == 10.0
    # incremental revenue (10 - 2.5) x 4 = 30; margin 0.5 -> 15; cost 2 - 0 -> ROI (15 - 2) / 2 = 650 %.
    assert v["incremental_revenue"] == pytest.approx(30.0)
    assert v["incremental_margin"] == pytest.approx(15.0)
    assert v["incremental_cost"] == pytest.approx(2.0)
    assert v["roi_pct"] == pytest.approx(650.0)
    assert any("only 4 recipients" in w for w in res.warnings)


def test_missing_control_lists_the_variants() -> None:
    df = pl.DataFrame({"variant": ["a", "b"], "converted": [True, False]})
    with pytest.raises(Exception, match="control variant 'control' is not among the variants") as exc:
        abtest(df.lazy(), metrics=["converted"])
    assert exc.value.hint == "use --control with one of: a, b"  # type: ignore[attr-defined]


def test_sample_ratio_mismatch_is_warned() -> None:
    # 600 vs 400 recipients in a 50/50 design: chi-square 40, p = 2.5e-10 < 0.0005.
    df = pl.DataFrame({"variant": ["control"] * 600 + ["B"] * 400, "converted": [True, False] * 500})
    res = abtest(df.lazy(), metrics=["converted"])
    assert res.srm_p_value == pytest.approx(sps.chisquare([400, 600]).pvalue)
    assert any(w.startswith("sample-ratio mismatch") for w in res.warnings)


def test_a_revenue_result_driven_by_one_buyer_is_warned() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    rev_c = np.where(rng.random(n) < 0.05, rng.gamma(2, 20, n), 0.0)
    rev_b = np.where(rng.random(n) < 0.05, rng.gamma(2, 20, n), 0.0)
    rev_b[0] = 200_000.0  # one whale
    df = pl.DataFrame({"variant": ["control"] * n + ["B"] * n, "converted": np.r_[rev_c, rev_b] > 0, "revenue": np.r_[rev_c, rev_b]})
    res = abtest(df.lazy(), metrics=["converted"], revenue=True, options=AbtestOptions(bootstrap=200))
    assert any("driven by a few large values" in w for w in res.warnings)


def test_segments_by_hand() -> None:
    # Segment x: control 1/2, B 2/2 -> lift 0.5; segment y: control 0/2, B 0/2 -> lift 0.
    df = pl.DataFrame({"variant": ["control", "control", "B", "B"] * 2, "by": ["x"] * 4 + ["y"] * 4,
                       "converted": [True, False, True, True, False, False, False, False]})
    res = abtest(df.lazy(), metrics=["converted"], by=True)
    assert res.segments is not None
    got = res.segments.select("segment", "variant", "control_rate", "variant_rate", "lift")
    assert_frame_equal(got, pl.DataFrame({"segment": ["x", "y"], "variant": ["B", "B"], "control_rate": [0.5, 0.0],
                                          "variant_rate": [1.0, 0.0], "lift": [0.5, 0.0]}))


def test_qini_curve_and_coefficient_by_hand() -> None:
    # Scores 4, 3, 2, 1: treated responder, control non-responder, treated non-responder, control responder.
    # After 1: Q = 1 - 0 = 1; after 2: 1 - 0 x 1/1 = 1; after 3: 1 - 0 = 1; after 4: 1 - 1 x 2/2 = 0.
    t = np.array([True, False, True, False])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    x, q = qini_curve(np.array([4.0, 3.0, 2.0, 1.0]), t, y)
    assert x.tolist() == [0, 0.25, 0.5, 0.75, 1.0] and q.tolist() == [0, 1, 1, 1, 0]
    # This ranking is the perfect one (treated responders first, control responders last): coefficient 1;
    # area under the curve 0.125 + 0.25 + 0.25 + 0.125 = 0.75, random line 0 -> area 0.75 per 2 treated = 0.375.
    area, coef = qini_coefficient(np.array([4.0, 3.0, 2.0, 1.0]), t, y)
    assert area == pytest.approx(0.375) and coef == pytest.approx(1.0)
    # The reverse ranking is worse than random.
    assert qini_coefficient(np.array([1.0, 2.0, 3.0, 4.0]), t, y)[1] < 0
    # Tied scores enter together: every score equal is the random line (coefficient 0).
    assert qini_coefficient(np.zeros(4), t, y)[1] == pytest.approx(0.0)


# ------------------------------------------------------------------------------------------
# Real data: Hillstrom (MineThatData 2008) and Cookie Cats
# ------------------------------------------------------------------------------------------
def hillstrom_raw() -> pl.DataFrame:
    return pl.read_csv(reference("hillstrom_email_campaign.csv"), infer_schema_length=None)


@pytest.mark.slow
def test_hillstrom_rates_lifts_and_tests_equal_statsmodels_and_scipy() -> None:
    raw = hillstrom_raw()
    table = scan_results(reference("hillstrom_email_campaign.csv"), variant="segment", metrics=["visit", "conversion"], revenue="spend")
    res = abtest(table.lf, metrics=table.metrics, revenue=True, options=AbtestOptions(control="No E-Mail", bootstrap=500))
    # Published means of the whole file: visit .14678, conversion .00903, spend 1.05091.
    v = res.variants
    n = v["recipients"].sum()
    assert n == 64_000
    assert round(float((v["visit_rate"] * v["recipients"]).sum() / n), 5) == 0.14678
    assert round(float((v["conversion_rate"] * v["recipients"]).sum() / n), 5) == 0.00903
    assert round(float(v["revenue"].sum() / n), 5) == 1.05091
    ctrl = raw.filter(pl.col("segment") == "No E-Mail")
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        treat = raw.filter(pl.col("segment") == arm)
        for metric in ("visit", "conversion"):
            x1, n1, x0, n0 = int(treat[metric].sum()), treat.height, int(ctrl[metric].sum()), ctrl.height
            row = res.lifts.filter(variant=arm, metric=metric).row(0, named=True)
            assert row["lift"] == pytest.approx(x1 / n1 - x0 / n0, rel=1e-12)
            z, p = sm_prop.proportions_ztest([x1, x0], [n1, n0])
            assert (row["statistic"], row["p_value"]) == pytest.approx((z, p), rel=1e-9)
            ci = sm_prop.confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
            assert (row["lift_lower"], row["lift_upper"]) == pytest.approx(ci, rel=1e-9)
        w = res.lifts.filter(variant=arm, test="welch").row(0, named=True)
        ref = sps.ttest_ind(treat["spend"].to_numpy(), ctrl["spend"].to_numpy(), equal_var=False)
        assert (w["statistic"], w["p_value"]) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-8)
    # Holm over the two arms of each metric: the smaller p doubled, the larger kept (both stay ordered).
    visit = res.lifts.filter(metric="visit").sort("p_value")
    assert visit["p_holm"][0] == pytest.approx(2 * visit["p_value"][0])
    assert res.srm_p_value is not None and res.srm_p_value > 0.5  # 21,306 / 21,307 / 21,387


@pytest.mark.slow
def test_cookie_cats_retention_equals_statsmodels() -> None:
    path = reference("cookie_cats.csv")
    raw = pl.read_csv(path)
    table = scan_results(path, variant="version", metrics=["retention_1", "retention_7"], exclude=["userid"])
    res = abtest(table.lf, metrics=table.metrics, options=AbtestOptions(control="gate_30"))
    assert table.features == ["sum_game_rounds"]
    for metric in ("retention_1", "retention_7"):
        counts = raw.group_by("version").agg(x=pl.col(metric).sum(), n=pl.len()).sort("version")
        (x0, n0), (x1, n1) = counts.select("x", "n").rows()
        row = res.lifts.filter(metric=metric).row(0, named=True)
        assert (row["control_mean"], row["variant_mean"]) == pytest.approx((x0 / n0, x1 / n1), rel=1e-12)
        assert (row["statistic"], row["p_value"]) == pytest.approx(sm_prop.proportions_ztest([x1, x0], [n1, n0]), rel=1e-9)
        assert (row["lift_lower"], row["lift_upper"]) == pytest.approx(
            sm_prop.confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff"), rel=1e-9)
    assert res.verdict().startswith("no variant beats gate_30 on retention_1")


@pytest.mark.slow
def test_hillstrom_uplift_model_has_a_positive_qini_on_held_out_data() -> None:
    table = scan_results(reference("hillstrom_email_campaign.csv"), variant="segment", metrics=["visit"], revenue="spend")
    res = abtest(table.lf, metrics=["visit"], revenue=True, features=table.features,
                 options=AbtestOptions(control="No E-Mail", uplift=True, folds=3, bootstrap=200))
    assert res.uplift is not None
    qini = res.uplift.qini
    assert qini["variant"].to_list() == ["Mens E-Mail", "Womens E-Mail"]
    assert (qini["qini_coefficient"] > 0).all(), qini
    deciles = res.uplift.deciles.filter(variant="Womens E-Mail")
    # Targeting the top 30 % predicted reaches a larger uplift per recipient than mailing everyone.
    top3 = deciles.filter(decile=3).row(0, named=True)
    assert top3["cumulative_uplift"] > deciles.filter(decile=10)["cumulative_uplift"][0]
    assert deciles["incremental_share"][-1] == pytest.approx(1.0)
