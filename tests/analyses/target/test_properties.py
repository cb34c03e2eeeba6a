"""Properties every target list must have, on random populations (hypothesis):

- no row without consent for its channel (an unknown consent is no consent, a blank contact is none);
- suppressed customers never appear (targeted or control);
- no customer appears twice in a run, so a control customer is never targeted;
- the frequency cap holds against the campaigns history;
- the control group is stable for a seed: the same whatever the row order and the other customers.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from target_data import customers, inputs, summary

from fidelcli.analyses.target import capped_customers, target_lists
from fidelcli.config import Target

AS_OF = dt.date(2025, 1, 1)
SCENARIOS = ["welcome", "second_purchase", "reactivation", "birthday", "anniversary"]
consent = st.sampled_from([True, False, None])


@st.composite
def customer(draw: st.DrawFn, i: int) -> dict[str, object]:
    frequency = draw(st.integers(0, 4))
    age = draw(st.one_of(st.integers(1, 40), st.integers(1, 800)))  # recent buyers too: welcome, second purchase
    first = AS_OF - dt.timedelta(days=age) if frequency else None
    last = first + dt.timedelta(days=draw(st.integers(0, age - 1))) if first and frequency > 1 else first
    birth = draw(st.one_of(st.none(), st.dates(dt.date(1950, 1, 1), dt.date(2005, 12, 31))))
    enrolled = draw(st.one_of(st.none(), st.dates(dt.date(2015, 1, 1), dt.date(2024, 12, 31))))
    return {
        "customer_id": f"C{i:03d}", "first": first, "last": last, "frequency": frequency, "birth_date": birth, "enrollment_date": enrolled,
        "email_opt_in": draw(consent), "sms_opt_in": draw(consent), "email": draw(st.sampled_from(["x@y.org", " ", None])),
        "phone": draw(st.sampled_from(["+33 6 12 34 56 78", None])), "suppressed": draw(st.booleans()),
        "sends": draw(st.lists(st.tuples(st.integers(-3, 12), st.sampled_from(["A", "control"])), max_size=4)),
    }


@st.composite
def population(draw: st.DrawFn) -> list[dict[str, object]]:
    n = draw(st.integers(1, 15))
    return [draw(customer(i)) for i in range(n)]


def run(people: list[dict[str, object]], *, seed: int, cap: tuple[int, int], order: list[int] | None = None):
    rows = [people[i] for i in (order or range(len(people)))]
    history = summary([(p["customer_id"], p["first"], p["last"], p["frequency"], 1.0) for p in rows])  # type: ignore[misc]
    cols = ("email_opt_in", "sms_opt_in", "birth_date", "enrollment_date", "email", "phone")
    table = customers([p["customer_id"] for p in rows], **{c: [p[c] for p in rows] for c in cols})  # type: ignore[misc]
    sends = pl.DataFrame(
        [(p["customer_id"], AS_OF - dt.timedelta(days=d), v) for p in rows for d, v in p["sends"]],  # type: ignore[attr-defined]
        schema={"customer_id": pl.String, "sent_at": pl.Date, "variant": pl.String}, orient="row")
    cfg = Target(control_share=0.3, max_messages=cap[0], cap_days=cap[1])
    capped, _ = capped_customers(sends.lazy(), as_of=AS_OF, max_messages=cap[0], cap_days=cap[1], control_variant="control")
    suppressed = pl.Series([p["customer_id"] for p in rows if p["suppressed"]], dtype=pl.String)
    return target_lists(inputs(history, table, AS_OF), scenarios=SCENARIOS, settings=cfg, seed=seed, suppressed=suppressed, capped=capped)


def outcome(result) -> dict[str, tuple[str, bool]]:
    """customer -> (scenario, held out)."""
    out = {c: (s, False) for c, s in result.targets.select("customer_id", "scenario").rows()}
    return out | {c: (s, True) for c, s in result.control.select("customer_id", "scenario").rows()}


caps = st.tuples(st.integers(1, 3), st.integers(1, 10))


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(people=population(), seed=st.integers(0, 2**31), cap=caps)
def test_consent_suppression_uniqueness_and_cap(people, seed, cap):
    result = run(people, seed=seed, cap=cap)
    by_id = {p["customer_id"]: p for p in people}
    both = pl.concat([result.targets, result.control])
    # One row per customer: a control customer is never targeted.
    assert both["customer_id"].n_unique() == both.height
    k, d = cap
    for cid, channel in both.select("customer_id", "channel").rows():
        p = by_id[cid]
        if channel == "email":
            assert p["email_opt_in"] is True and isinstance(p["email"], str) and p["email"].strip()
        else:
            assert channel == "sms" and p["sms_opt_in"] is True and p["phone"]
        assert not p["suppressed"]
        # Messages already sent in the d days ending on the analysis date (control rows sent nothing), plus this one.
        recent = sum(1 for days, variant in p["sends"] if 0 <= days <= d - 1 and variant != "control")
        assert recent + 1 <= k


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(people=population(), seed=st.integers(0, 2**31), cap=caps, data=st.data())
def test_control_group_is_stable_whatever_the_order_and_the_other_customers(people, seed, cap, data):
    first = outcome(run(people, seed=seed, cap=cap))
    kept = data.draw(st.lists(st.sampled_from(range(len(people))), unique=True, min_size=1), label="kept")
    shuffled = data.draw(st.permutations(kept), label="order")
    second = outcome(run(people, seed=seed, cap=cap, order=list(shuffled)))
    ids = {people[i]["customer_id"] for i in kept}
    assert second == {c: v for c, v in first.items() if c in ids}
