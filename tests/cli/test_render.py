"""The render step: numbers for a person on the terminal and in Markdown, plain rounded numbers in
CSV/JSON, tables that fit the terminal (issue 11, items 6 and 9; docs/output.md)."""

from __future__ import annotations

import io
import json
import sys
import warnings

import polars as pl
import pytest
from rich.console import Console

from fidelcli.cli import labels, render
from fidelcli.io.rounding import NonFiniteValueWarning

NNBSP = "\u202f"


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.setattr(render, "settings", render.Settings(color=False))


def table(df: pl.DataFrame, monkeypatch, *, width: int = 80, **kwargs) -> list[str]:
    """The Rich table as printed on a terminal `width` columns wide."""
    buf = io.StringIO()
    monkeypatch.setattr(render, "stdout", lambda: Console(file=buf, width=width, no_color=True, highlight=False, soft_wrap=False))
    render.frame(df, fmt="table", **kwargs)
    return buf.getvalue().splitlines()


def body(lines: list[str]) -> list[list[str]]:
    """The cells of the rows under the header rule, split on spaces."""
    start = next(i for i, line in enumerate(lines) if line.startswith("─"))
    return [line.split() for line in lines[start + 1:] if line.strip() and not line.startswith("…")]


def test_numbers_are_right_aligned_and_text_left_aligned(monkeypatch):
    df = pl.DataFrame({"segment": ["Champions", "At Risk"], "customers": [1234, 7], "revenue": [98260.77, 5.5]})
    lines = table(df, monkeypatch)
    assert lines[:4] == ["segment   customers   revenue",
                         "─────────────────────────────",
                         "Champions     1,234 98,260.77",
                         "At Risk           7      5.50"]


def test_counts_print_as_integers_with_thousands_separators(monkeypatch):
    # A count computed as a float (a sum of weights) is still a count: 73, not 73.00.
    df = pl.DataFrame({"kpi": ["x"], "customers": [4128090.0], "orders": [73.0], "retained": [12]})
    assert body(table(df, monkeypatch)) == [["x", "4,128,090", "73", "12"]]


def test_rates_print_as_percentages_with_one_decimal(monkeypatch):
    df = pl.DataFrame({"p_alive": [0.0481, 0.00262, 1.0], "repeat_purchase_rate": [0.5, 0.125, None]})
    assert body(table(df, monkeypatch)) == [["4.8%", "50.0%"], ["0.3%", "12.5%"], ["100.0%"]]


def test_booleans_print_yes_no_and_oui_non(monkeypatch):
    df = pl.DataFrame({"segment": ["a", "b"], "partial": [True, False]})
    assert body(table(df, monkeypatch)) == [["a", "yes"], ["b", "no"]]
    render.settings.lang = "fr"
    assert body(table(df, monkeypatch)) == [["a", "oui"], ["b", "non"]]


def test_french_number_format():
    assert labels.number(4128090.256, 2, "fr") == f"4{NNBSP}128{NNBSP}090,26"
    assert labels.money(4128090.26, "fr", "EUR") == f"4{NNBSP}128{NNBSP}090,26{NNBSP}€"
    assert labels.money(4128090.26, "en", "EUR") == "€4,128,090.26"
    assert labels.money(-3.2, "en", "USD") == "-$3.20"
    assert labels.money(1234.5, "en", "CHF") == "1,234.50 CHF"
    assert labels.percent(0.0481, "fr") == f"4,8{NNBSP}%"
    assert labels.integer(4128090, "fr") == f"4{NNBSP}128{NNBSP}090"
    assert labels.number(-0.001, 2, "en") == "0.00"  # never a negative zero


def test_french_table_translates_labels_title_kpi_names_and_numbers(monkeypatch):
    render.settings.lang = "fr"
    render.settings.currency = lambda: "EUR"
    df = pl.DataFrame({"kpi": ["revenue", "active_customers"], "previous": [4128090.26, 297.0], "current": [1.5, 322.0]})
    lines = table(df, monkeypatch, width=80, title="KPIs per month")
    assert lines[0] == "indicateurs par mois"
    assert lines[1].split() == ["indicateur", "précédent", "actuel"]
    assert lines[3] == f"chiffre d'affaires 4{NNBSP}128{NNBSP}090,26{NNBSP}€ 1,50{NNBSP}€"
    assert lines[4].split()[-2:] == ["297", "322"]  # counts, per row


@pytest.mark.parametrize("width", [80, 160])
def test_wide_tables_fit_the_terminal(monkeypatch, width):
    df = pl.DataFrame({"period_start": ["2024-01-01"], "customer_id": ["C000001"],
                       **{f"kpi_{i:02d}_revenue": [1234567.89] for i in range(20)}, "action": ["a long sentence " * 8]})
    df = df.with_columns(pl.col("period_start").str.to_date())
    lines = table(df, monkeypatch, width=width)
    assert lines and max(len(line) for line in lines) <= width
    assert body(lines)[0][0] == "2024-01-01"  # the first column stays
    hidden = next(line for line in lines if "more columns" in line)
    shown = 6 if width == 80 else 12
    assert hidden.startswith(f"… {23 - shown} more columns (")
    assert "€" not in "\n".join(lines)  # no currency without a configured one


def test_a_narrow_table_wraps_text_and_keeps_numbers_whole(monkeypatch):
    df = pl.DataFrame({"segment": ["Hibernating", "Loyal Customers"], "action": ["Low-cost reactivation only " * 4] * 2,
                       "clv": [123456.78, 1.0]})
    lines = table(df, monkeypatch, width=40)
    assert max(len(line) for line in lines) <= 40
    text = "\n".join(lines)
    assert "123,456.78" in text and "Hibernating" in text and "…" not in text


def test_markdown_right_aligns_numbers_and_formats_them(capsys):
    render.frame(pl.DataFrame({"segment": ["a"], "revenue": [892.8000000000001], "share": [0.0355]}), fmt="markdown", title="t")
    assert capsys.readouterr().out == "\n**t**\n\n| segment | revenue | share |\n|---|---:|---:|\n| a | 892.80 | 3.5% |\n"


def test_csv_and_json_print_rounded_plain_numbers(capsys):
    df = pl.DataFrame({"customer_id": ["a"], "revenue": [892.8000000000001], "p_alive": [0.035500000000000004], "frequency": [4.0]})
    render.frame(df, fmt="csv")
    assert capsys.readouterr().out == "customer_id,revenue,p_alive,frequency\na,892.8,0.0355,4\n"
    render.frame(df, fmt="json")
    assert json.loads(capsys.readouterr().out) == [{"customer_id": "a", "revenue": 892.8, "p_alive": 0.0355, "frequency": 4}]


def test_mapping_formats_each_figure_by_its_name(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(render, "stdout", lambda: Console(file=buf, width=80, no_color=True))
    render.mapping({"customers": 2000, "annual_discount_rate": 0.1, "total_clv": 27043.971, "converged": True, "model": "bgnbd"},
                   fmt="table")
    rows = [line.split() for line in buf.getvalue().splitlines()[2:7]]
    assert rows == [["customers", "2,000"], ["annual_discount_rate", "10.0%"], ["total_clv", "27,043.97"],
                    ["converged", "yes"], ["model", "bgnbd"]]


def test_mapping_json_rounds_by_name(capsys):
    render.mapping({"total_clv": 27043.971234, "correlation": 0.123456789}, fmt="json")
    assert json.loads(capsys.readouterr().out) == {"total_clv": 27043.97, "correlation": 0.123457}


def test_non_finite_value_is_a_bug_under_the_tests(capsys):
    # The suite runs with filterwarnings = error: a NaN that reaches an output fails the test.
    with pytest.raises(NonFiniteValueWarning, match="column 'clv': 1 value"):
        render.frame(pl.DataFrame({"clv": [float("nan"), 1.0]}), fmt="csv")


def test_non_finite_value_is_written_empty_with_a_warning_line(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("default", NonFiniteValueWarning)
        render.frame(pl.DataFrame({"clv": [float("nan"), float("inf"), 1.0]}), fmt="csv")
    out = capsys.readouterr()
    assert out.out == "clv\n\n\n1.0\n"
    assert out.err.splitlines() == ["warning: column 'clv': 2 value(s) that are not finite (NaN or infinite) are written as "
                                    "empty; this is a bug, please report it"]


def test_caption_of_pseudonymised_ids(monkeypatch):
    lines = table(pl.DataFrame({"customer": ["d87be6b3ab"], "clv": [1.0]}), monkeypatch, caption=render.pseudonym_caption(keyed=False))
    assert "ids: hashes with a key drawn for this run (FIDELCLI_PSEUDONYM_KEY is not set); they change at every run" in " ".join(
        " ".join(lines).split())
    assert render.pseudonym_caption(keyed=True) == "ids: HMAC hashes keyed by FIDELCLI_PSEUDONYM_KEY, stable across runs"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_warnings_never_share_a_line_with_the_spinner(monkeypatch):
    err = _Tty()
    monkeypatch.setattr(sys, "stderr", err)
    with render.progress("summarising purchases"):
        assert render.stderr() is render._live  # what is said meanwhile goes through the spinner's console
        render.warn("9,532 rows dated on or after the analysis date were ignored")
        render.info("a note")
    lines = [part for line in err.getvalue().split("\n") for part in line.split("\r")]
    said = [line for line in lines if "warning:" in line or "a note" in line]
    assert len(said) == 2 and not any("summarising" in line for line in said)
    assert render.stderr() is not render._live or render._live is None
