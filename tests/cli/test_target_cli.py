"""`fidelcli target`: exact funnel, files, exit codes and messages on a five-customer shop; the
contact fields reach the output file and never the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.analyses.target import target_analysis
from fidelcli.clean import CleanOptions
from fidelcli.cli import options
from fidelcli.cli.app import app
from fidelcli.config import Target
from fidelcli.engine import get_engine
from fidelcli.io.read import scan_table

# As of 2025-01-01 (the day after the last line). A, B, E: first purchase in the last 14 days (welcome);
# C too, but without email consent; D lapsed (gap 30 days, 154 days since: reactivation) and at the
# cap (2 messages in the 7 days to 2025-01-01); E's birthday is on 2025-01-03 (birthday beats welcome).
SALES = """customer_id,date,amount
A,2024-12-20,10.00
B,2024-12-22,20.00
C,2024-12-31,30.00
D,2024-06-01,5.00
D,2024-07-01,5.00
D,2024-07-31,5.00
E,2024-12-25,8.00
"""
CUSTOMERS = """customer_id,name,email,phone,birth_date,email_opt_in,sms_opt_in
A,Alice Martin,alice@example.org,+33 6 11 11 11 11,1980-05-05,true,false
B,Bruno Petit,bruno@example.org,+33 6 22 22 22 22,1981-06-06,true,true
C,Chloé Simon,chloe@example.org,+33 6 33 33 33 33,1982-07-07,false,true
D,David Roux,david@example.org,+33 6 44 44 44 44,1983-08-08,true,true
E,Emma Blanc,emma@example.org,+33 6 55 55 55 55,1990-01-03,true,true
"""
OPTOUTS = "Email\nBRUNO@example.org\n"
CAMPAIGNS = """campaign_id,customer_id,variant,sent_at
K1,D,A,2024-12-28
K2,D,B,2024-12-30
K2,A,control,2024-12-30
"""
PERSONAL = ("@example.org", "+33 6", "Alice", "Emma", "Martin", "Blanc")


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray fidelcli.toml
    monkeypatch.setattr(options.context, "_config", None)
    monkeypatch.setattr(options.context, "config_path", None)
    for name, text in {"sales.csv": SALES, "customers.csv": CUSTOMERS, "optouts.csv": OPTOUTS, "campaigns.csv": CAMPAIGNS}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, ["target", "-t", "sales.csv", "-c", "customers.csv", *args])


BASE = ("--scenario", "welcome", "--scenario", "reactivation", "--scenario", "birthday", "--campaigns", "campaigns.csv",
        "--suppress", "optouts.csv", "--control-share", "0")


def test_funnel_and_file(shop: Path) -> None:
    result = run(*BASE, "-o", "targets.csv", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "scenario,priority,eligible,consented,not_suppressed,under_cap,outranked,after_arbitration,targeted,control",
        # welcome: A, B, C, E eligible; C has no email consent; B is suppressed (by email, case ignored); E goes to birthday.
        "welcome,60,4,3,2,2,1,1,1,0",
        # reactivation: D, at the cap (the control row of A does not count).
        "reactivation,70,1,1,1,0,0,0,0,0",
        "birthday,80,1,1,1,1,0,1,1,0",
        "all,,5,4,3,2,0,2,2,0",
    ]
    assert (shop / "targets.csv").read_text(encoding="utf-8").splitlines() == [
        "customer_id,email,phone,name,scenario,reason,priority,offer,channel",
        'A,alice@example.org,+33 6 11 11 11 11,Alice Martin,welcome,"first purchase on 2024-12-20, 12 days ago",60,'
        "welcome: 10% off the next order,email",
        'E,emma@example.org,+33 6 55 55 55 55,Emma Blanc,birthday,"birthday on 2025-01-03, in 2 days",80,birthday gift,email',
    ]
    assert (shop / "targets_control.csv").read_text().splitlines() == ["customer_id,scenario,reason,priority,offer,channel"]
    err = result.stderr.splitlines()
    assert "optouts.csv: suppression by email" in err
    assert "as of 2025-01-01, seed 0: 2 customers to contact, 0 held out as control" in err
    for text in PERSONAL:
        assert text not in result.stdout and text not in result.stderr


def test_json_is_the_library_funnel(shop: Path) -> None:
    result = run(*BASE, "--format", "json")
    assert result.exit_code == 0, result.stderr
    engine = get_engine("polars")
    tx = engine.load(scan_table("sales.csv", "transactions"), CleanOptions())
    lib = target_analysis(tx, engine=engine, customers=scan_table("customers.csv", "customers").lf.collect(),
                          scenarios=["welcome", "reactivation", "birthday"], settings=Target(control_share=0),
                          campaigns=scan_table("campaigns.csv", "campaigns").lf, suppressed=pl.Series(["B"]))
    assert json.loads(result.stdout) == lib.funnel.to_dicts()


def test_control_group_written_apart_without_contacts(shop: Path) -> None:
    # Control share 0.5, seed 1: the draws (FNV-1a of "1\x1f<scenario>\x1f<id>", mixed, top 53 bits / 2^53, see
    # test_rules) are 0.447 for welcome/A, 0.868 for welcome/B and 0.390 for birthday/E: A and E are held out.
    result = run("--scenario", "welcome", "--scenario", "birthday", "--control-share", "0.5", "--seed", "1", "-o", "out.csv",
                 "--control-output", "holdout.csv")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[0] for line in (shop / "out.csv").read_text().splitlines()] == ["customer_id", "B"]
    assert (shop / "holdout.csv").read_text().splitlines() == [
        "customer_id,scenario,reason,priority,offer,channel",
        'A,welcome,"first purchase on 2024-12-20, 12 days ago",60,welcome: 10% off the next order,email',
        'E,birthday,"birthday on 2025-01-03, in 2 days",80,birthday gift,email']


def test_per_scenario_files_and_configured_columns(shop: Path) -> None:
    (shop / "fidelcli.toml").write_text(
        '[target.output]\ncolumns = ["customer_id", "email", "offer"]\nheaders = {customer_id = "ID", email = "Email"}\nbom = true\n')
    result = run(*BASE, "--per-scenario", "-o", "lists")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (shop / "lists").iterdir()) == ["birthday.csv", "reactivation.csv", "welcome.csv"]
    assert (shop / "lists" / "welcome.csv").read_text(encoding="utf-8") == "\ufeffID,Email,offer\nA,alice@example.org,welcome: 10% off the next order\n"
    assert (shop / "lists" / "reactivation.csv").read_text(encoding="utf-8") == "\ufeffID,Email,offer\n"
    assert sorted(p.name for p in (shop / "lists_control").iterdir()) == ["birthday.csv", "reactivation.csv", "welcome.csv"]


def test_unknown_scenario(shop: Path) -> None:
    result = run("--scenario", "winback")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2:] == [
        "error: unknown scenario 'winback'",
        "hint: use all or one of: welcome, second_purchase, reactivation, at_risk, vip, birthday, anniversary, abandoned_cart, cross_sell",
    ]


def test_a_scenario_named_without_its_input(shop: Path) -> None:
    result = run("--scenario", "abandoned-cart")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2:] == [
        "error: scenario abandoned_cart needs a touchpoints table (--touchpoints)", "hint: give the input, or leave the scenario out"]


def test_all_skips_what_cannot_run_with_a_warning(shop: Path) -> None:
    result = run("--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert ("warning: scenario abandoned_cart needs a touchpoints table (--touchpoints): left out" in result.stderr.splitlines())
    assert [line.split(",")[0] for line in result.stdout.splitlines()[1:]] == [
        "welcome", "second_purchase", "reactivation", "vip", "birthday", "all"]


def test_the_list_is_csv(shop: Path) -> None:
    result = run("-o", "targets.parquet")
    assert result.exit_code == 2
    assert "the target list is a CSV file (or a directory with --per-scenario)" in result.stderr
