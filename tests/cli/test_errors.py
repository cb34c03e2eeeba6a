"""Exit codes and one-line errors (SPEC section 3), through the root group's error handler."""

from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from fidelcli.cli import options, render
from fidelcli.cli.app import FidelGroup, app
from fidelcli.errors import InputError

IO = Path(__file__).parents[1] / "fixtures" / "io"

probe = typer.Typer(cls=FidelGroup)


@probe.command("load")
def load(
    transactions: options.TransactionsOpt = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    fmt: options.FormatOpt = None,
) -> None:
    """Load transactions and print the customer count."""
    from fidelcli.engine import DEFAULT_ENGINE

    tx = options.transactions(transactions, maps=maps, date_format=date_format)
    render.mapping({"customers": DEFAULT_ENGINE.customer_summary(tx).height}, fmt=fmt)


@probe.command("crash")
def crash() -> None:
    """Raise a bug."""
    raise ZeroDivisionError("boom")


@probe.command("leak")
def leak(what: str) -> None:
    """Raise an error whose message echoes personal values, as a reader or a library may."""
    if what == "input":
        raise InputError("'jean.dupont@example.com' is not a valid number", file="tx.csv", column="amount", row=3,
                         hint="customer +33 6 12 34 56 78 wrote it")
    if what == "polars":
        raise pl.exceptions.ComputeError('conversion from `str` to `f64` failed in column \'amount\' for 1 out of 3 values: ["Jean Dupont"]')
    raise ValueError("unexpected 'jean.dupont@example.com' from FR7630006000011234567890189")


@probe.callback()
def root(verbose: bool = typer.Option(False, "-v"), show_values: bool = typer.Option(False, "--show-values")) -> None:
    render.settings.verbose = verbose
    render.settings.show_values = show_values
    render.settings.quiet = False
    options.context.tables = []
    options.context.transactions = []


def run(*args: str):
    return CliRunner().invoke(probe, list(args))


def last_lines(result, n=2):
    return result.stderr.strip().splitlines()[-n:]


def test_ok_csv_when_piped():
    result = run("load", "-t", str(IO / "retail.csv"))
    assert result.exit_code == 0
    assert result.stdout == "name,value\ncustomers,2\n"
    assert last_lines(result, 1) == ["warning: 1 rows without a customer id were dropped"]


def test_missing_file():
    result = run("load", "-t", str(IO / "nope.csv"))
    assert result.exit_code == 2
    assert last_lines(result) == [f"error: {IO / 'nope.csv'}: no such file", "hint: check the path"]


def test_missing_column_lists_candidates():
    result = run("load", "-t", str(IO / "no_customer.csv"))
    assert result.exit_code == 2
    assert last_lines(result) == [
        "error: no_customer.csv: no column for required field 'customer_id' of transactions; candidates: 'client_name'",
        "hint: name it with --map customer_id=COLUMN",
    ]


def test_map_option_fixes_it():
    result = run("load", "-t", str(IO / "no_customer.csv"), "--map", "customer_id=client_name")
    assert result.exit_code == 0
    assert result.stdout == "name,value\ncustomers,1\n"


def test_ambiguous_dates():
    result = run("load", "-t", str(IO / "ambiguous_dates.csv"))
    assert result.exit_code == 2
    assert last_lines(result) == [
        "error: ambiguous_dates.csv, column \"date\": dates are ambiguous: '01/02/2024' may be day/month or month/day",
        "hint: use --date-format %d/%m/%Y (or %m/%d/%Y)",
    ]


def test_unparseable_amount_with_row():
    result = run("load", "-t", str(IO / "bad_amount.csv"))
    assert result.exit_code == 2
    assert last_lines(result) == [
        "error: bad_amount.csv, column \"amount\", row 3: 'douze' is not a valid number",
        "hint: write numbers like 1234.56 or 1 234,56, or fix the value",
    ]
    assert "Traceback" not in result.stderr


def test_traceback_only_with_verbose():
    result = run("-v", "load", "-t", str(IO / "bad_amount.csv"))
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr


def test_internal_error_exit_3():
    result = run("crash")
    assert result.exit_code == 3
    assert last_lines(result) == [
        "error: internal error (ZeroDivisionError): boom",
        "hint: this is a bug; please report it with the output of the same command with -v",
    ]


def test_usage_error_exit_2():
    result = run("load", "--no-such-option")
    assert result.exit_code == 2


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == "fidelcli 0.1.0\n"


def test_bad_config_is_exit_2(tmp_path):
    cfg = tmp_path / "fidelcli.toml"
    cfg.write_text("[analysis]\ncurency = 'EUR'\n")
    options.context.config_path = cfg
    options.context._config = None
    try:
        result = run("load", "-t", str(IO / "retail.csv"))
    finally:
        options.context.config_path = None
        options.context._config = None
    assert result.exit_code == 2
    assert last_lines(result) == [
        f"error: {cfg}: unknown key 'analysis.curency'",
        "hint: did you mean 'analysis.currency'?",
    ]


def test_usage_errors_are_one_line_with_a_hint():
    result = CliRunner().invoke(app, ["rfm", "--no-such-option"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: No such option: --no-such-option (Possible options: --no-color, --transactions)",
        "hint: see fidelcli rfm --help",
    ]


def test_bad_output_extension_is_refused_before_any_work():
    result = CliRunner().invoke(app, ["rfm", "-t", str(IO / "nope.csv"), "-o", "out.txt"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "error: Invalid value for '-o' / '--output': cannot write 'txt'; use one of: csv, parquet, json, jsonl, xlsx"
    )


def test_unwritable_output_is_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(app, ["rfm", "-t", str(IO / "retail.csv"), "-o", str(blocker / "out.csv")])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2:] == [
        f"error: {blocker / 'out.csv'}: cannot write here: {blocker} is not a directory",  # the parent is a file
        "hint: choose a writable directory",
    ]


def _into_closed_pipe(*args: str) -> tuple[int, bytes]:
    """Run `python -m fidelcli ARGS` with its stdout a pipe closed before it writes (`... | head`)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "fidelcli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the interpreter takes far longer to start than this
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.slow
def test_a_reader_that_goes_away_is_not_an_error() -> None:
    sample = Path(__file__).parents[2] / "sample_data" / "transactions.csv"
    for args in (["cohort", "--help"], ["--help"], ["rfm", "-t", str(sample), "--format", "csv"]):
        code, err = _into_closed_pipe(*args)
        assert code == 0 and b"error" not in err and b"Traceback" not in err, (args, err)


# Personal values never reach stderr (SPEC section 3) unless --show-values ---------------------------


@pytest.mark.parametrize(
    ("what", "code", "lines"),
    [
        ("input", 2, [
            'error: tx.csv, column "amount", row 3: an email address is not a valid number',
            "hint: customer <phone> wrote it",
        ]),
        ("polars", 2, [
            "error: conversion from `str` to `f64` failed in column 'amount' for 1 out of 3 values: [a name]",
            "hint: run `fidelcli validate` on the input to locate the bad rows",
        ]),
        ("bug", 3, [
            "error: internal error (ValueError): unexpected an email address from <iban>",
            "hint: this is a bug; please report it with the output of the same command with -v",
        ]),
    ],
)
def test_error_lines_are_scrubbed(what: str, code: int, lines: list[str]):
    result = run("leak", what)
    assert result.exit_code == code
    assert last_lines(result) == lines


def test_verbose_traceback_is_scrubbed_too():
    result = run("-v", "leak", "bug")
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert "jean.dupont" not in result.stderr and "FR76" not in result.stderr


def test_show_values_prints_them():
    result = run("--show-values", "leak", "input")
    assert result.exit_code == 2
    assert last_lines(result) == [
        "error: tx.csv, column \"amount\", row 3: 'jean.dupont@example.com' is not a valid number",
        "hint: customer +33 6 12 34 56 78 wrote it",
    ]


def test_analysis_error_names_the_row_not_the_value(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,jean.dupont@example.com\n")
    result = CliRunner().invoke(app, ["rfm", "-t", str(path), "--format", "csv"])
    assert result.exit_code == 2
    assert last_lines(result) == [
        'error: tx.csv, column "amount", row 2: an email address is not a valid number',
        "hint: write numbers like 1234.56 or 1 234,56, or fix the value",
    ]


def test_warnings_are_scrubbed(capsys: pytest.CaptureFixture[str]):
    render.settings.quiet, render.settings.show_values = False, False
    render.warnings(["customer jean.dupont@example.com (06 12 34 56 78) has data after --as-of"])
    assert capsys.readouterr().err == "warning: customer <email> (<phone>) has data after --as-of\n"
    render.settings.show_values = True
    try:
        render.warn("jean.dupont@example.com")
    finally:
        render.settings.show_values = False
    assert capsys.readouterr().err == "warning: jean.dupont@example.com\n"
