"""`journey()`: the matrix, conversion, time between stages and paths computed by hand on a small
journey log; the moments of truth against the closed form of a saturated logistic model; and the
planted moment of truth of the sample data (`fidelcli sample`, truth.json) found across seeds."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.analyses.journey import journey
from fidelcli.analyses.journey.moments import MomentSettings, moments_of_truth
from fidelcli.engine import CleanOptions, get_engine
from fidelcli.errors import InputError
from fidelcli.io.read import scan_table
from fidelcli.sample import generate

# A: awareness, consideration, purchase twice (store, 5 then 2). B: awareness twice, consideration
# (2). C: awareness, purchase by web (1), no consideration. D: awareness by email, consideration by app (5).
LOG = """customer_id,timestamp,stage,channel,satisfaction
A,2024-01-01 08:00:00,awareness,social,
A,2024-01-03 08:00:00,consideration,web,4
A,2024-01-05 20:00:00,purchase,store,5
A,2024-01-06 08:00:00,purchase,store,2
B,2024-01-02 08:00:00,awareness,search,
B,2024-01-02 20:00:00,awareness,social,
B,2024-01-05 08:00:00,consideration,web,2
C,2024-01-10 08:00:00,awareness,social,
C,2024-01-11 08:00:00,purchase,web,1
D,2024-02-01 08:00:00,awareness,email,
D,2024-02-02 08:00:00,consideration,app,5
"""


@pytest.fixture
def log(tmp_path: Path) -> pl.LazyFrame:
    path = tmp_path / "touchpoints.csv"
    path.write_text(LOG)
    return scan_table(path, "touchpoints").lf


def test_matrix_by_hand(log: pl.LazyFrame) -> None:
    # Stage order inferred: positions awareness 1 (all), consideration 2 (A, B, D), purchase 3 (A), 2 (C): mean 2.5.
    result = journey(log)
    assert result.stages == ["awareness", "consideration", "purchase"]
    expected = pl.DataFrame({
        "stage": ["awareness"] * 3 + ["consideration"] * 2 + ["purchase"] * 2,
        "channel": ["email", "search", "social", "app", "web", "store", "web"],
        "touchpoints": [1, 1, 3, 1, 2, 2, 1],
        "customers": [1, 1, 3, 1, 2, 1, 1],
        "rated": [0, 0, 0, 1, 2, 2, 1],
        # consideration web: (4 + 2) / 2 = 3; purchase store: (5 + 2) / 2 = 3.5.
        "satisfaction": [None, None, None, 5.0, 3.0, 3.5, 1.0],
        # Negative (<= 2): B's 2 by web, A's 2 in store, C's 1 by web.
        "irritants": [0, 0, 0, 0, 1, 1, 1],
        "irritant_share": [None, None, None, 0.0, 0.5, 0.5, 1.0],
    })
    assert_frame_equal(result.matrix, expected)
    assert result.moments is None and result.headline()["customers"] == 4 and result.headline()["touchpoints"] == 11


def test_conversion_and_time_between_stages_by_hand(log: pl.LazyFrame) -> None:
    result = journey(log)
    # awareness -> consideration: A (01-01 08:00 -> 01-03 08:00: 2 days), B (first awareness 01-02 08:00
    # -> 01-05 08:00: 3 days), D (1 day); C never: 3 of 4. Days 1, 2, 3: median 2, quartiles 1.5 and 2.5
    # (linear), mean 2. consideration -> purchase: A only (01-03 08:00 -> 01-05 20:00: 2.5 days) of A, B, D.
    expected = pl.DataFrame({
        "from_stage": ["awareness", "consideration"], "to_stage": ["consideration", "purchase"],
        "customers": [4, 3], "converted": [3, 1], "conversion": [0.75, 1 / 3],
        "median_days": [2.0, 2.5], "q1_days": [1.5, 2.5], "q3_days": [2.5, 2.5], "mean_days": [2.0, 2.5],
    })
    assert_frame_equal(result.conversion, expected)


def test_paths_by_hand(log: pl.LazyFrame) -> None:
    # A: awareness > consideration > purchase (two purchases in a row count once); B and D:
    # awareness > consideration (B's two awareness touchpoints count once); C: awareness > purchase.
    result = journey(log, top=2)
    expected = pl.DataFrame({
        "rank": [1, 2], "path": ["awareness > consideration", "awareness > consideration > purchase"],
        "stages": [2, 3], "customers": [2, 1], "share": [0.5, 0.25],
    })
    assert_frame_equal(result.paths, expected)


def test_given_stages_order_and_leave_out_the_others(log: pl.LazyFrame) -> None:
    result = journey(log, stages=["awareness", "purchase"])
    assert result.stages == ["awareness", "purchase"]
    assert result.warnings == ["3 touchpoints at stages not in --stages are left out: consideration"]
    # awareness -> purchase: A (01-01 08:00 -> 01-05 20:00: 4.5 days), C (1 day) of 4.
    assert result.conversion.row(0) == ("awareness", "purchase", 4, 2, 0.5, 2.75, 1.875, 3.625, 2.75)


def test_row_order_changes_nothing(tmp_path: Path) -> None:
    lines = LOG.strip().splitlines()
    path = tmp_path / "reversed.csv"
    path.write_text("\n".join([lines[0], *lines[:0:-1]]) + "\n")
    (tmp_path / "t.csv").write_text(LOG)
    a, b = (journey(scan_table(p, "touchpoints").lf) for p in (tmp_path / "t.csv", path))
    assert a.to_json() == b.to_json()


def test_satisfaction_off_the_scale_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(LOG.replace("B,2024-01-05 08:00:00,consideration,web,2", "B,2024-01-05 08:00:00,consideration,web,7"))
    with pytest.raises(InputError) as info:
        journey(scan_table(path, "touchpoints").lf, file="t.csv")
    assert (info.value.message, info.value.row, info.value.column) == ("satisfaction 7.0 is outside the 1-5 scale", 7, "satisfaction")


def _rows(stage: str, negative: list[bool], outcome: list[bool]) -> pl.DataFrame:
    n = len(negative)
    return pl.DataFrame({
        "customer_id": [f"{stage}{i:03d}" for i in range(n)], "stage": [stage] * n, "channel": ["web"] * n,
        "anchor": [dt.date(2024, 1, 1)] * n, "negative": negative, "prior_occasions": [0] * n, "prior_spend": [0.0] * n,
        "occasions_within": [int(y) for y in outcome], "occasions_after": [0] * n,
    })


def test_moments_equal_the_closed_form_of_the_saturated_model() -> None:
    # Prior purchases constant: the model is logit P(y) = a + b negative, whose MLE is the 2 x 2 table.
    # "service": negative 6 of 20 buy again, other 24 of 40: risk difference 0.3 - 0.6 = -0.3,
    # SE sqrt(.3 x .7 / 20 + .6 x .4 / 40) = sqrt(0.0165); odds ratio (6/14) / (24/16) = 2/7, log-SE
    # sqrt(1/6 + 1/14 + 1/24 + 1/16) (Woolf). "delivery": 10 of 20 vs 24 of 40: -0.1, interval covers 0.
    # "awareness": no negative experience.
    service = _rows("service", [True] * 20 + [False] * 40, [True] * 6 + [False] * 14 + [True] * 24 + [False] * 16)
    delivery = _rows("delivery", [True] * 20 + [False] * 40, [True] * 10 + [False] * 10 + [True] * 24 + [False] * 16)
    awareness = _rows("awareness", [False] * 30, [True] * 15 + [False] * 15)
    settings = MomentSettings(outcome="repurchase", window_days=30)
    got = moments_of_truth(pl.concat([delivery, awareness, service]), ["awareness", "service", "delivery"], settings=settings,
                           end=dt.date(2025, 1, 1))
    assert got["stage"].to_list() == ["service", "delivery", "awareness"]
    assert got["rank"].to_list() == [1, 2, None]
    z = 1.959963984540054
    se, log_se = math.sqrt(0.0165), math.sqrt(1 / 6 + 1 / 14 + 1 / 24 + 1 / 16)
    top = got.row(0, named=True)
    assert top["effect"] == pytest.approx(-0.3, abs=1e-9)
    assert (top["effect_low"], top["effect_high"]) == pytest.approx((-0.3 - z * se, -0.3 + z * se), abs=1e-7)
    assert top["odds_ratio"] == pytest.approx(2 / 7, rel=1e-9)
    assert top["odds_ratio_low"] == pytest.approx(2 / 7 * math.exp(-z * log_se), rel=1e-7)
    assert (top["customers"], top["negative"], top["outcome_negative"], top["outcome_other"]) == (60, 20, 0.3, 0.6)
    second = got.row(1, named=True)
    assert second["effect"] == pytest.approx(-0.1, abs=1e-9) and second["effect_low"] < 0 < second["effect_high"]
    assert got.row(2, named=True)["note"] == "no negative experience"


def _sample(tmp_path: Path, seed: int) -> tuple[pl.LazyFrame, object]:
    generate(tmp_path, customers=12_000, seed=seed, formats=("parquet",))
    engine = get_engine("polars")
    tx = engine.load(scan_table(tmp_path / "transactions.parquet", "transactions"), CleanOptions())
    return scan_table(tmp_path / "touchpoints.parquet", "touchpoints").lf, tx


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_planted_moment_of_truth_ranks_first(tmp_path: Path, seed: int) -> None:
    # truth.json (TouchpointTruth): service satisfaction has mean 2.4 for customers who drop out
    # (BG/NBD) and 3.9 for the others; every other rated stage is uniform on 3, 4, 5 whatever the
    # customer does. So the service touchpoints, and only they, predict retention.
    tp, tx = _sample(tmp_path, seed)
    engine = get_engine("polars")
    result = journey(tp, tx, engine=engine)  # type: ignore[arg-type]
    assert result.moments is not None
    top = result.moments.row(0, named=True)
    assert top["stage"] == "service" and top["effect_high"] < 0  # negative experiences lower retention, beyond chance
    assert result.headline()["top_moment"] == f"service via {top['channel']}"
    # With 3 counted as negative too, every stage has negatives: service still ranks first, and the
    # non-service touchpoints' effects are near 0.
    wide = journey(tp, tx, engine=engine, negative_max=3)  # type: ignore[arg-type]
    assert wide.moments is not None
    ranked = wide.moments.filter(pl.col("rank").is_not_null())
    assert ranked["stage"][0] == "service"
    others = ranked.filter(pl.col("stage") != "service")
    assert others.height == 10 and others["effect"].abs().max() < 0.08  # type: ignore[operator]
    # The truth the simulation does define: consideration, purchase and loyalty satisfaction is
    # uniform on 3..5, mean 4 (SD sqrt(2/3)); service lies between the two planted means.
    m = result.matrix.filter(pl.col("stage") != "service", pl.col("rated") > 0)
    sat = (m["satisfaction"] * m["rated"]).sum() / m["rated"].sum()
    assert abs(sat - 4.0) < 1.96 * math.sqrt(2 / 3 / m["rated"].sum()) * 1.5
    service = result.matrix.filter(pl.col("stage") == "service")
    assert ((service["satisfaction"] > 2.4) & (service["satisfaction"] < 3.9)).all()
