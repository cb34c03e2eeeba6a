"""Comparable groups for the loyalty-program evaluation: coarsened exact matching of members with
non-members, the difference in differences over the matched groups, its balance table and its
customer bootstrap.

Each member is compared with the non-members of the same stratum (same first-purchase month, same
enrollment month - the non-members' pseudo-enrollment - and the same coarsened pre-enrollment
behaviour). Within a stratum the non-members are weighted so that they count as many times as the
members (`ATT` weights of coarsened exact matching, Iacus, King & Porro 2012): a stratum with
members and no non-member is left out and counted.

The estimate is a ratio-in-ratios difference in differences (proportional parallel trends): the
members' counterfactual spend after enrollment is their spend before times the matched non-members'
growth over the same calendar months,

    counterfactual = M_pre x (C_post / C_pre),   uplift = M_post / counterfactual - 1,

with M the members' totals and C the weighted non-members' totals (docs/roi.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from fidelcli.stats import standardized_mean_difference

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Panel:
    """The members and their candidate controls, one row per (customer, stratum).

    `member_*` arrays have one entry per eligible member; `control_*` one per (non-member,
    pseudo-enrollment) pair; `control_customer` numbers the non-members 0..n-1 (a non-member can
    stand in several strata: one per enrollment month of its first-purchase month)."""

    member_stratum: IntArray
    member_pre: FloatArray
    member_post: FloatArray
    control_stratum: IntArray
    control_customer: IntArray
    control_pre: FloatArray
    control_post: FloatArray
    n_strata: int

    @property
    def n_controls(self) -> int:
        return int(self.control_customer.max()) + 1 if self.control_customer.size else 0


@dataclass(frozen=True)
class Estimate:
    """One difference in differences: relative uplift and the totals it is made of (None: no
    matched member, or no spend to compare)."""

    uplift: float | None
    members: int  # matched members
    unmatched: int  # members of a stratum without a non-member
    controls: int  # distinct non-members with a positive weight
    member_pre: float
    member_post: float
    control_pre: float
    control_post: float


def panel(members: pl.DataFrame, controls: pl.DataFrame, *, value: str = "revenue") -> Panel:
    """A `Panel` from the members' and controls' window totals.

    `members`: stratum (int), pre_<value>, post_<value>; `controls`: customer_id, stratum,
    pre_<value>, post_<value>."""
    ids = controls.get_column("customer_id").rank("dense").cast(pl.Int64).to_numpy() - 1 if controls.height else np.zeros(0, np.int64)
    top = [int(x) for x in (members["stratum"].max(), controls["stratum"].max()) if isinstance(x, int)]
    strata = max(top, default=0) + 1
    return Panel(
        member_stratum=members["stratum"].to_numpy().astype(np.int64),
        member_pre=members[f"pre_{value}"].to_numpy().astype(np.float64),
        member_post=members[f"post_{value}"].to_numpy().astype(np.float64),
        control_stratum=controls["stratum"].to_numpy().astype(np.int64),
        control_customer=np.asarray(ids, dtype=np.int64),
        control_pre=controls[f"pre_{value}"].to_numpy().astype(np.float64),
        control_post=controls[f"post_{value}"].to_numpy().astype(np.float64),
        n_strata=strata,
    )


def control_weights(p: Panel, member_count: FloatArray, control_count: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(weight of each control row, matched members per member row as 0/1 x its count).

    `member_count`: how many times each member is drawn (1 without resampling); `control_count`: the
    same per distinct non-member. A control row's weight is its draws x M_s / C_s (members over
    non-members drawn in its stratum); members of a stratum with C_s = 0 get weight 0."""
    m_s = np.bincount(p.member_stratum, weights=member_count, minlength=p.n_strata)
    drawn = control_count[p.control_customer] if p.control_customer.size else np.zeros(0)
    c_s = np.bincount(p.control_stratum, weights=drawn, minlength=p.n_strata)
    ratio = np.divide(m_s, c_s, out=np.zeros_like(m_s), where=c_s > 0)
    matched = member_count * (c_s[p.member_stratum] > 0)
    return drawn * ratio[p.control_stratum], matched


def _dot(w: FloatArray, x: FloatArray) -> float:
    # An elementwise sum, not BLAS: tiny vectors, called per bootstrap sample (BLAS threads spin on a busy machine).
    return float(np.sum(w * x))


def did(p: Panel, member_count: FloatArray | None = None, control_count: FloatArray | None = None, *, count: bool = True) -> Estimate:
    """The ratio-in-ratios difference in differences of the panel, each member and non-member
    counted as many times as `member_count` / `control_count` say (default once); `count=False`
    skips counting the distinct non-members used (controls = 0)."""
    mc = np.ones(p.member_pre.size) if member_count is None else member_count
    cc = np.ones(p.n_controls) if control_count is None else control_count
    w_c, w_m = control_weights(p, mc, cc)
    m_pre, m_post = _dot(w_m, p.member_pre), _dot(w_m, p.member_post)
    c_pre, c_post = _dot(w_c, p.control_pre), _dot(w_c, p.control_post)
    uplift = None
    if w_m.sum() > 0 and c_pre > 0 and m_pre > 0 and c_post > 0:
        uplift = m_post / (m_pre * c_post / c_pre) - 1.0
    controls = int(np.unique(p.control_customer[w_c > 0]).size) if count and w_c.size else 0
    return Estimate(uplift=uplift, members=int((w_m > 0).sum()), unmatched=int(((w_m == 0) & (mc > 0)).sum()), controls=controls,
                    member_pre=m_pre, member_post=m_post, control_pre=c_pre, control_post=c_post)


def bootstrap(p: Panel, *, n_boot: int, seed: int) -> FloatArray:
    """Uplifts of `n_boot` customer bootstrap samples: members and non-members are each resampled
    with replacement (a non-member drawn k times counts k times in every stratum it stands in), the
    matching weights recomputed on each sample. Samples without an estimate are left out."""
    rng = np.random.default_rng(seed)
    n_m, n_c = p.member_pre.size, p.n_controls
    out = np.empty(n_boot)
    for b in range(n_boot):  # one vectorised estimate per bootstrap sample
        mc = np.bincount(rng.integers(0, n_m, n_m), minlength=n_m).astype(np.float64)
        cc = np.bincount(rng.integers(0, n_c, n_c), minlength=n_c).astype(np.float64) if n_c else np.zeros(0)
        est = did(p, mc, cc, count=False).uplift
        out[b] = np.nan if est is None else est
    kept: FloatArray = out[np.isfinite(out)]
    return kept


def balance(members: pl.DataFrame, controls: pl.DataFrame, p: Panel, covariates: dict[str, str]) -> pl.DataFrame:
    """Balance of the covariates before and after matching: one row per covariate with the members'
    mean, the non-members' mean before (every candidate pair once) and after (matching weights), and
    the standardised mean difference (SMD, Austin 2009) before and after. `covariates`: column ->
    label. An |SMD| under 0.1 is the usual sign of balance."""
    w_c, w_m = control_weights(p, np.ones(p.member_pre.size), np.ones(p.n_controls))
    rows = []
    ones = np.ones(p.control_pre.size)
    for column, label in covariates.items():
        xm = members[column].to_numpy().astype(np.float64)
        xc = controls[column].to_numpy().astype(np.float64)
        rows.append({
            "covariate": label,
            "members_mean": float(xm.mean()) if xm.size else None,
            "non_members_mean_before": float(xc.mean()) if xc.size else None,
            "non_members_mean_after": _dot(w_c, xc) / float(w_c.sum()) if w_c.sum() > 0 else None,
            "smd_before": standardized_mean_difference(xm, xc, np.ones(xm.size), ones),
            "smd_after": standardized_mean_difference(xm, xc, w_m, w_c),
        })
    schema = {"covariate": pl.String, "members_mean": pl.Float64, "non_members_mean_before": pl.Float64,
              "non_members_mean_after": pl.Float64, "smd_before": pl.Float64, "smd_after": pl.Float64}
    return pl.DataFrame(rows, schema=schema)
