"""`roi program`: the difference in differences on a hand-computed panel, then its coverage of the
sample's true member uplift over 20 seeds, with the naive comparison shown biased."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fidelcli.analyses.roi.program import ProgramCosts, program_effect
from fidelcli.clean import CleanOptions
from fidelcli.engine import get_engine
from fidelcli.errors import InputError
from fidelcli.io.read import scan_table
from fidelcli.sample import generate

D = dt.date


def activity(rows: list[tuple[str, dt.date, int, float]]) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": [r[0] for r in rows], "period_start": [r[1] for r in rows],
                         "orders": [r[2] for r in rows], "revenue": [r[3] for r in rows]},
                        schema={"customer_id": pl.String, "period_start": pl.Date, "orders": pl.Int64, "revenue": pl.Float64})


# M enrolls on 2024-03-15 (first purchase in January): window 1 compares February with April.
# C1 and C2: non-members of the same first-purchase month with one February order (M's stratum);
# C3 first bought in February: another stratum, unused by the estimate.
ACTIVITY = activity([
    ("M", D(2024, 1, 1), 1, 10.0), ("M", D(2024, 2, 1), 1, 100.0), ("M", D(2024, 4, 1), 1, 150.0),
    ("C1", D(2024, 1, 1), 1, 10.0), ("C1", D(2024, 2, 1), 1, 80.0), ("C1", D(2024, 4, 1), 1, 100.0),
    ("C2", D(2024, 1, 1), 1, 10.0), ("C2", D(2024, 2, 1), 1, 120.0), ("C2", D(2024, 4, 1), 1, 120.0),
    ("C3", D(2024, 2, 1), 1, 50.0), ("C3", D(2024, 4, 1), 1, 50.0),
])
CUSTOMERS = pl.DataFrame({"customer_id": ["M", "C1", "C2", "C3"], "loyalty_member": [True, False, False, False],
                          "enrollment_date": [D(2024, 3, 15), None, None, None]})


def test_difference_in_differences_by_hand() -> None:
    result = program_effect(ACTIVITY, CUSTOMERS, as_of=D(2024, 6, 1), window=1, margin=0.3, costs=ProgramCosts(fixed=10.0),
                            n_boot=50, seed=1)
    summary = {r["measure"]: r["estimate"] for r in result.summary.to_dicts()}
    # Controls weighted 1/2 each: pre (80 + 120) / 2 = 100, post (100 + 120) / 2 = 110. Counterfactual of
    # M's April = 100 x 110 / 100 = 110; uplift = 150 / 110 - 1 = 4 / 11.
    assert summary["uplift (difference in differences)"] == pytest.approx(4 / 11)
    # Every post-enrollment month's revenue (April's 150) x u / (1 + u) = 150 x 40 / 150 = 40; margin 0.3 -> 12.
    assert summary["incremental_revenue"] == pytest.approx(40.0)
    assert summary["incremental_margin"] == pytest.approx(12.0)
    # ROI = (12 - 10) / 10 x 100 = 20 %; the fixed cost falls in March, the margin in April: payback month 2.
    assert summary["program_cost"] == 10.0
    assert summary["roi_percent"] == pytest.approx(20.0)
    assert result.figures["payback_months"] == 2
    assert (result.figures["matched_members"], result.figures["matched_non_members"]) == (1, 2)
    # Balance: M's pre orders (1) and revenue (100) equal the controls' means: SMD 0 before and after.
    balance = result.balance.select("covariate", "smd_before", "smd_after").rows()
    assert balance[:2] == [("orders in the 1 months before", 0.0, 0.0), ("revenue in the 1 months before", 0.0, 0.0)]
    # Naive: M spent 260; non-members (190 + 250 + 100) / 3 = 180: +44.4 %.
    naive = result.naive.filter(pl.col("measure") == "revenue_per_customer").row(0, named=True)
    assert (naive["members"], naive["non_members"]) == (260.0, 180.0)
    assert naive["relative_difference"] == pytest.approx(260 / 180 - 1)
    assert naive["label"].startswith("naive")


def test_costs_and_json() -> None:
    costs = ProgramCosts(per_member_year=12.0, rewards=3.0, fees=1.0)
    result = program_effect(ACTIVITY, CUSTOMERS, as_of=D(2024, 6, 1), window=1, margin=0.3, costs=costs, n_boot=50, seed=1)
    # Months March and April: 1 member x 12 / 12 = 1 a month; rewards 3 and fees 1 spread over the two
    # months: 1 + 1.5 - 0.5 = 2 a month, 4 in all.
    assert result.figures["program_cost"] == pytest.approx(4.0)
    assert result.monthly["cost"].to_list() == pytest.approx([2.0, 2.0])
    assert result.to_json() == program_effect(ACTIVITY, CUSTOMERS, as_of=D(2024, 6, 1), window=1, margin=0.3, costs=costs,
                                              n_boot=50, seed=1).to_json()


def test_no_member_with_history_is_an_error() -> None:
    with pytest.raises(InputError, match="no loyalty member has 3 months of purchases"):
        program_effect(ACTIVITY, CUSTOMERS, as_of=D(2024, 6, 1), window=3)
    with pytest.raises(InputError, match="no loyalty_member column"):
        program_effect(ACTIVITY, CUSTOMERS.drop("loyalty_member"), as_of=D(2024, 6, 1))


@pytest.mark.slow
def test_intervals_cover_the_true_uplift_and_the_naive_gap_is_biased(tmp_path: Path) -> None:
    # 20 seeded samples of 5,000 customers: the members' orders after enrollment are worth
    # spend_uplift = 1.15 times more (truth.json), and big-basket customers join more often
    # (LoyaltyTruth.selection): the relative uplift of member spend is 0.15 exactly.
    engine = get_engine("polars")
    covered, estimates, naive = 0, [], []
    for seed in range(20):
        out = tmp_path / str(seed)
        truth = generate(out, customers=5000, seed=seed, formats=("parquet",))
        tx = engine.load(scan_table(out / "transactions.parquet", "transactions"), CleanOptions())
        customers = scan_table(out / "customers.parquet", "customers").lf.collect()
        result = program_effect(engine.activity(tx, period="month"), customers, as_of=tx.as_of, window=3, n_boot=200, seed=seed)
        f = result.figures
        true = truth.loyalty.spend_uplift - 1
        assert isinstance(f["uplift_low"], float) and isinstance(f["uplift_high"], float)
        covered += f["uplift_low"] <= true <= f["uplift_high"]
        estimates.append(f["uplift"])
        naive.append(f["naive_revenue_difference"])
    assert covered >= 17
    # The estimates centre on the truth (mean of 20 within 0.1); the naive member vs non-member
    # revenue gap is twice the truth or more on every seed (members self-select on basket size).
    assert abs(np.mean(estimates) - 0.15) < 0.1
    assert min(naive) > 0.3
