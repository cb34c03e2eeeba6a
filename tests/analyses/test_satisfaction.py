"""Surveys read once for kpi and churn (fidelcli.analyses.satisfaction): the long form, the NPS, CSAT
and CES rules of docs/metrics.md by hand, and the latest answer per score."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from fidelcli.analyses.satisfaction import latest_scores, satisfaction_aggregates, score_metrics, survey_scores

D = dt.date


def test_wide_and_long_surveys_give_the_same_long_form() -> None:
    wide = pl.DataFrame({"customer_id": ["a", "b"], "date": [D(2024, 1, 1), D(2024, 1, 2)], "nps": [9, None],
                         "csat": [4, 2]})
    long = pl.DataFrame({"customer_id": ["a", "a", "b", "b"], "date": [D(2024, 1, 1)] * 2 + [D(2024, 1, 2)] * 2,
                         "type": [" NPS", "csat", "csat", "other"], "score": [9, 4, 2, 5]})
    got_wide, got_long = survey_scores(wide), survey_scores(long)
    assert got_wide is not None and got_long is not None
    # the null nps of b and the type "other" are left out
    rows = [("a", D(2024, 1, 1), "csat", 4.0), ("a", D(2024, 1, 1), "nps", 9.0), ("b", D(2024, 1, 2), "csat", 2.0)]
    assert sorted(got_wide.rows()) == rows == sorted(got_long.rows())
    assert survey_scores(wide.lazy()).collect().sort("customer_id", "metric").rows() == rows  # type: ignore[union-attr]
    assert survey_scores(pl.DataFrame({"customer_id": ["a"], "date": [D(2024, 1, 1)]})) is None
    assert score_metrics(wide) == ["nps", "csat"] and score_metrics(long) == ["nps", "csat", "ces"]


def test_the_rules_by_hand() -> None:
    answers = [("nps", s) for s in (10, 9, 8, 7, 6, 0, 10)] + [("csat", s) for s in (5, 4, 3, 1)] + [("ces", s) for s in (2, 5)]
    scores = pl.DataFrame({"metric": [m for m, _ in answers], "score": [float(s) for _, s in answers]})
    got = scores.select(**satisfaction_aggregates()).row(0, named=True)
    # NPS: 3 promoters (10, 9, 10), 2 detractors (6, 0) of 7 answers -> 100 x 1/7 = 14.29 points.
    assert got["nps_responses"] == 7 and got["nps"] == pytest.approx(100 / 7)
    # CSAT: 2 of 4 answers are 4-5 -> 0.5; mean (5 + 4 + 3 + 1) / 4 = 3.25. CES: mean (2 + 5) / 2.
    assert got["csat_responses"] == 4 and got["csat"] == 0.5 and got["csat_mean"] == 3.25
    assert got["ces_responses"] == 2 and got["ces"] == 3.5
    none = scores.filter(pl.col("metric") == "ces").select(**satisfaction_aggregates()).row(0, named=True)
    assert none["nps_responses"] == 0 and none["nps"] is None and none["csat"] is None  # null, never NaN


def test_latest_scores_take_the_last_answer_before_the_cutoff() -> None:
    surveys = pl.LazyFrame({
        "customer_id": ["a", "a", "a", "a", "b"],
        "date": [D(2024, 1, 1), D(2024, 3, 1), D(2024, 3, 1), D(2024, 6, 1), D(2024, 2, 1)],
        "nps": [3, 7, 9, 10, None], "csat": [5, None, None, 1, 2],
    })
    got = latest_scores(surveys, D(2024, 5, 31))
    assert got is not None
    # a: nps 7 and 9 on the same latest day -> the higher, 9; csat: the latest non-null answer, 5;
    # the answers of 2024-06-01 are after the cutoff.
    assert got.collect().sort("customer_id").rows() == [("a", 9.0, 5.0), ("b", None, 2.0)]
