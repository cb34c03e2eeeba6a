"""`write_target_lists`: contact fields joined in the file only, the control group apart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from fidelcli.analyses.target import TargetResult, write_target_lists
from fidelcli.analyses.target.funnel import FUNNEL_COLUMNS
from fidelcli.config import TargetOutput
from fidelcli.errors import ConfigError

ROW = {"scenario": "welcome", "reason": "r", "priority": 60, "offer": "o", "channel": "email"}


def result() -> TargetResult:
    targets = pl.DataFrame([{"customer_id": "A", **ROW}, {"customer_id": "B", **ROW}])
    control = pl.DataFrame([{"customer_id": "C", **ROW}])
    return TargetResult(targets=targets, control=control, funnel=pl.DataFrame(schema=FUNNEL_COLUMNS), as_of=dt.date(2025, 1, 1), seed=0,
                        scenarios=["welcome"])


def test_contacts_in_the_target_file_only(tmp_path: Path) -> None:
    # A is listed twice (its smallest non-empty email is kept); the table has no phone column.
    customers = pl.DataFrame({"customer_id": ["A", "A", "B", "C"], "email": [None, "a@x.org", "b@x.org", "c@x.org"],
                              "name": ["Ann", "Ann", "Bob", "Cy"]})
    written = write_target_lists(result(), tmp_path / "t.csv", customers=customers,
                                 settings=TargetOutput(columns=["customer_id", "email", "phone", "name", "offer"]))
    assert (tmp_path / "t.csv").read_text().splitlines() == ["customer_id,email,phone,name,offer", "A,a@x.org,,Ann,o", "B,b@x.org,,Bob,o"]
    assert (tmp_path / "t_control.csv").read_text().splitlines() == ["customer_id,scenario,reason,priority,offer,channel",
                                                                     "C,welcome,r,60,o,email"]
    assert written.warnings == ["the customers table has no phone column: the phone column of the target file is empty"]
    assert result().tables()["targets"].columns == ["customer_id", "scenario", "reason", "priority", "offer", "channel"]


def test_a_header_for_a_column_not_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="headers names 'email', which is not one of the columns written"):
        write_target_lists(result(), tmp_path / "t.csv", customers=pl.DataFrame({"customer_id": ["A"]}),
                           settings=TargetOutput(columns=["customer_id"], headers={"email": "E-mail"}))
    assert not (tmp_path / "t.csv").exists()
