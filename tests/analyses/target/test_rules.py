"""The rules of `target`: consent, suppression, capping, arbitration and the control draw, by hand."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from target_data import D, customers, inputs, summary

from fidelcli.analyses.target import capped_customers, control_draw, suppressed_ids, target_lists
from fidelcli.analyses.target.rules import arbitrate, fmix64, fnv1a, with_channel
from fidelcli.config import Target
from fidelcli.errors import InputError


def test_channel_is_the_first_consented_one():
    rows = pl.DataFrame({"customer_id": ["A", "B", "C", "D"], "scenario": ["birthday"] * 4})
    consents = pl.DataFrame({"customer_id": ["A", "B", "C"], "email_ok": [True, False, False], "sms_ok": [True, True, False]})
    got = with_channel(rows, consents, {"birthday": ["email", "sms"]})
    # A: email first; B: no email, SMS; C: neither; D: not in the customers table (unknown is no consent).
    assert got["channel"].to_list() == ["email", "sms", None, None]


def test_unknown_consent_or_empty_contact_is_no_consent():
    table = customers(["A", "B", "C", "D"], email_opt_in=[True, None, True, False], sms_opt_in=[None, None, None, None],
                      email=["a@x.org", "b@x.org", "  ", "d@x.org"])
    history = summary([(c, D(2024, 12, 25), D(2024, 12, 25), 1, 1.0) for c in "ABCDE"])  # E: not in the customers table
    result = target_lists(inputs(history, table, D(2025, 1, 1)), scenarios=["welcome"], settings=Target(control_share=0))
    # Only A consented with an email address; C's address is blank.
    assert result.targets["customer_id"].to_list() == ["A"]
    assert result.funnel.row(0, named=True) | {} == {
        "scenario": "welcome", "priority": 60, "eligible": 5, "consented": 1, "not_suppressed": 1, "under_cap": 1, "outranked": 0,
        "after_arbitration": 1, "targeted": 1, "control": 0}


def test_a_customer_listed_twice_consents_only_if_every_row_does():
    table = customers(["A", "A", "B"], email_opt_in=[True, False, True])
    history = summary([(c, D(2024, 12, 25), D(2024, 12, 25), 1, 1.0) for c in "AB"])
    result = target_lists(inputs(history, table, D(2025, 1, 1)), scenarios=["welcome"], settings=Target(control_share=0))
    assert result.targets["customer_id"].to_list() == ["B"]
    assert "1 rows of the customers table repeat a customer id" in result.warnings[0]


def test_suppression_by_id_email_and_phone():
    table = customers(["A", "B", "C", "D"], email=["Ann@X.org", "b@x.org", None, "d@x.org"],
                      phone=["+33 6 12 34 56 78", None, "06 99 88 77 66", "0611"])
    lists = [pl.DataFrame({"customer_id": [" D ", None]}), pl.DataFrame({"email": ["  ann@x.ORG"]}),
             pl.DataFrame({"phone": ["0699887766", "11"]})]
    # A by email (case and spaces ignored), C by phone (the last 9 digits, 699887766), D by id; "11" is too short to match.
    assert suppressed_ids(lists, table).to_list() == ["A", "C", "D"]


def test_capping_counts_the_window_and_not_the_control():
    history = pl.DataFrame({
        "customer_id": ["A", "A", "A", "B", "B", "B", "C"],
        "variant": ["A", "B", "A", "control", "A", "A", "A"],
        "sent_at": [D(2025, 1, 4), D(2025, 1, 10), D(2025, 1, 3), D(2025, 1, 8), D(2025, 1, 9), None, D(2025, 1, 11)],
    })
    capped, warnings = capped_customers(history.lazy(), as_of=D(2025, 1, 10), max_messages=2, cap_days=7, control_variant="control")
    # Window: 2025-01-04 .. 2025-01-10. A: 01-04 and 01-10 (01-03 is before) = 2 >= 2: capped.
    # B: its control row does not count, the undated one cannot: 1. C: 01-11 is after the analysis date.
    assert_frame_equal(capped, pl.DataFrame({"customer_id": ["A"], "messages": [2]}))
    assert warnings == ["1 campaign rows have no sent_at date: left out of the frequency cap"]


def test_arbitration_highest_priority_then_scenario_order():
    rows = pl.DataFrame({"customer_id": ["A", "A", "B", "B"], "scenario": ["vip", "birthday", "welcome", "second_purchase"],
                         "priority": [40, 80, 50, 50]})
    got = arbitrate(rows, ["welcome", "second_purchase", "vip", "birthday"])
    assert got.select("customer_id", "scenario").rows() == [("A", "birthday"), ("B", "welcome")]


def _fnv1a_mix(key: bytes) -> float:
    """The draw of docs/target.md in plain Python integers: FNV-1a 64 over the bytes, the
    MurmurHash3 finaliser, the top 53 bits over 2^53."""
    h = 0xCBF29CE484222325
    for byte in key:
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) % 2**64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) % 2**64
    h ^= h >> 33
    return (h >> 11) / 2**53


def test_control_draw_is_fnv1a_mixed_of_seed_scenario_and_id():
    # Keys of different lengths in one call (the vectorised loop runs over byte positions), and a
    # non-ASCII id (its UTF-8 bytes: c3 a9).
    ids, scenarios = ["C1", "C1", "C12345678901", "é"], ["welcome", "welcome", "reactivation", "vip"]
    got = control_draw(ids, scenarios, 0).to_list()
    assert got == [_fnv1a_mix(f"0\x1f{s}\x1f{c}".encode()) for c, s in zip(ids, scenarios, strict=True)]
    # Pinned: a change of hash would move every customer between groups (docs/target.md).
    assert got[0] == got[1] == 0.4152378395704338
    assert got[3] == 0.0364886048196269
    assert control_draw(["C1"], ["welcome"], 1).item() == _fnv1a_mix(b"1\x1fwelcome\x1fC1") != got[0]


def test_fnv1a_matches_the_published_test_vectors():
    # FNV-1a 64 test vectors (Fowler, Noll & Vo, http://www.isthe.com/chongo/src/fnv/test_fnv.c):
    # "" -> cbf29ce484222325 (the offset basis), "a" -> af63dc4c8601ec8c, "foobar" -> 85944171f73967e8.
    got = fnv1a(pl.Series(["", "a", "foobar"])).tolist()
    assert got == [0xCBF29CE484222325, 0xAF63DC4C8601EC8C, 0x85944171F73967E8]
    # The finaliser maps 0 to 0 and is a bijection: distinct inputs stay distinct.
    assert fmix64(np.array([0, 1, 2], dtype=np.uint64)).tolist()[0] == 0
    assert len(set(fmix64(np.arange(1000, dtype=np.uint64)).tolist())) == 1000


def test_unknown_scenario_and_missing_input_named_one_by_one():
    facts_in = inputs(summary([]), customers(["A"]), D(2025, 1, 1))
    with pytest.raises(InputError, match="unknown scenario 'winback'"):
        target_lists(facts_in, scenarios=["winback"])
    with pytest.raises(InputError, match=r"scenario abandoned_cart needs a touchpoints table \(--touchpoints\)"):
        target_lists(facts_in, scenarios=["abandoned-cart"])
    result = target_lists(facts_in, scenarios=["all"])
    assert result.skipped == {
        "at_risk": "at_risk needs churn risk: a churn model (--churn-model) or a CLV model (--clv-model)",
        "birthday": "birthday needs the birth_date column of the customers table",
        "anniversary": "anniversary needs the enrollment_date column of the customers table",
        "abandoned_cart": "abandoned_cart needs a touchpoints table (--touchpoints)",
        "cross_sell": "cross_sell needs recommendations (transactions with a product_id column)",
    }
