"""Hypothesis properties of the read layer's parsers: on any input they either answer or raise a
FidelError (never another exception), and what they accept round-trips: a number written with a
decimal comma and thousands separators parses back to the same float, a date written with a format
parses back to the same date, a table written with a delimiter is sniffed with that delimiter.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fidelcli.errors import FidelError, InputError
from fidelcli.io import values as V
from fidelcli.io.dialect import DELIMITERS, WHITESPACE, detect_separator, sniff
from fidelcli.io.read import scan_table

PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text made of what delimited files are made of, plus a few troublemakers.
CSV_CHARS = st.sampled_from(list("abcXYZ019 .,;\t|\"'\n\r-/:€é") + ["\x00", "\ufeff", "\u00a0", "NaN", "inf", "2024-01-05", "1e300"])
csv_text = st.lists(CSV_CHARS, max_size=300).map("".join)


def parse(values: list[str], expr: pl.Expr) -> list[object]:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr.alias("x"))["x"].to_list()


# --- nothing escapes but FidelError ----------------------------------------------------------------------------


@PROPS
@given(data=st.binary(max_size=2000) | csv_text.map(lambda t: t.encode("utf-8")))
def test_sniff_answers_or_raises_an_input_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(data)
        try:
            dialect = sniff(path)
        except InputError:
            return
        assert dialect.separator in (*DELIMITERS, WHITESPACE)


@FEW
@given(text=csv_text, kind=st.sampled_from(["transactions", "customers"]))
def test_reading_any_text_raises_only_fidel_errors(text, kind):
    header = "customer_id,date,amount\n" if kind == "transactions" else "customer_id,birth_date,email_opt_in\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_text(header + text, encoding="utf-8")
        try:
            table = scan_table(path, kind)
            table.check()
            with table.diagnosed():
                table.lf.collect()
        except FidelError:
            pass


@PROPS
@given(values=st.lists(st.text(max_size=20) | csv_text, max_size=12), separator=st.sampled_from(DELIMITERS))
def test_inference_answers_or_raises_an_input_error(values, separator):
    V.infer_decimal_comma(values, separator=separator)
    V.is_plain_numeric(values)
    V.needs_full_scan(values)
    try:
        fmt = V.infer_date_format(values, column="date", file="t.csv")
    except InputError:
        fmt = "%Y-%m-%d"
    for value in values:
        V.out_of_bounds(value, "number")
        V.out_of_bounds(value, "date", fmt=fmt)


@PROPS
@given(values=st.lists(st.text(max_size=30) | csv_text, min_size=1, max_size=12), comma=st.booleans(), plain=st.booleans(),
       fmt=st.sampled_from(["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y%m%d", "%d.%m.%y"]))
def test_lenient_parsers_give_a_usable_value_or_null(values, comma, plain, fmt):
    for x in parse(values, V.number_expr("v", decimal_comma=comma, plain=plain)):
        assert x is None or abs(x) < V.MAX_ABS_NUMBER  # never NaN or inf
    for d in parse(values, V.date_expr("v", fmt)) + [t and t.date() for t in parse(values, V.datetime_expr("v", fmt))]:
        assert d is None or V.YEARS[0] <= d.year < V.YEARS[1]


# --- round trips -------------------------------------------------------------------------------------------------

# (thousands separator, decimal mark) as exports write them.
STYLES = [(" ", ","), ("\u00a0", ","), ("\u202f", ","), (".", ","), ("", ","), (",", "."), ("'", "."), ("", "."), (" ", ".")]


def written(cents: int, thousands: str, mark: str, decoration: str) -> str:
    units, rest = divmod(abs(cents), 100)
    digits = f"{units:,}".replace(",", thousands)
    body = f"{digits}{mark}{rest:02d}"
    if decoration == "parentheses" and cents < 0:
        return f"({body})"
    sign = "-" if cents < 0 else ""
    return {"euro": f"{sign}{body} €", "dollar": f"{sign}${body}", "EUR": f"EUR {sign}{body}"}.get(decoration, sign + body)


@PROPS
@given(cents=st.integers(min_value=-(10**16), max_value=10**16), style=st.sampled_from(STYLES),
       decoration=st.sampled_from(["", "euro", "dollar", "EUR", "parentheses"]))
def test_numbers_round_trip(cents, style, decoration):
    text = written(cents, *style, decoration)
    comma = V.infer_decimal_comma([text], separator=";" if style[1] == "," else ",")
    assert comma == (style[1] == ",")
    value = parse([text], V.number_expr("v", decimal_comma=comma, plain=V.is_plain_numeric([text])))[0]
    expected = cents / 100
    assert value == (expected if abs(expected) < V.MAX_ABS_NUMBER else None), text


FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%d.%m.%Y"]
dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2199, 12, 31))


@PROPS
@given(days=st.lists(dates, min_size=1, max_size=8), fmt=st.sampled_from(FORMATS), time=st.booleans())
def test_dates_round_trip(days, fmt, time):
    texts = [d.strftime(fmt) + (" 13:45" if time else "") for d in days]
    assert parse(texts, V.date_expr("v", fmt)) == days
    try:
        inferred = V.infer_date_format(texts, column="date", file="t.csv")
    except InputError as exc:
        # Only day/month order can stay undecided, when no day is above 12.
        assert "ambiguous" in exc.message
        assert all(d.day <= 12 for d in days)
        return
    assert parse(texts, V.date_expr("v", inferred)) == days


# Exports write day, month and hour without zero padding (`1/4/2011 9:05`): every width reads alike.
UNPADDED = ["%-m/%-d/%Y", "%-d/%-m/%Y", "%Y-%-m-%-d", "%-d.%-m.%Y"]


@PROPS
@given(times=st.lists(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2199, 12, 31)), min_size=1, max_size=8),
       fmt=st.sampled_from(UNPADDED), time=st.sampled_from(["", " %-H:%M", " %-H:%M:%S", " %H:%M", "T%H:%M:%S"]))
def test_unpadded_dates_and_times_round_trip(times, fmt, time):
    times = [t.replace(microsecond=0, second=t.second if "%S" in time else 0) for t in times]
    texts = [t.strftime(fmt + time) for t in times]
    padded = fmt.replace("%-", "%")
    assert parse(texts, V.date_expr("v", padded)) == [t.date() for t in times]
    expected = times if time else [dt.datetime.combine(t.date(), dt.time()) for t in times]
    assert parse(texts, V.datetime_expr("v", padded)) == expected


@PROPS
@given(day=st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_implausible_years_do_not_parse(day):
    expected = day if V.YEARS[0] <= day.year < V.YEARS[1] else None
    assert parse([day.isoformat()], V.date_expr("v", "%Y-%m-%d")) == [expected]


cells = st.text(alphabet="abcdefXYZ0123456789 .-_", max_size=8)


@PROPS
@given(rows=st.integers(min_value=1, max_value=30).flatmap(
    lambda n: st.integers(min_value=2, max_value=6).flatmap(lambda k: st.lists(st.lists(cells, min_size=k, max_size=k), min_size=n + 1, max_size=n + 1))),
    delimiter=st.sampled_from(DELIMITERS))
def test_sniffed_delimiter_round_trips(rows, delimiter):
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    assert detect_separator(buf.getvalue()) == delimiter
