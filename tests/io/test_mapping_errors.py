"""A column-mapping problem is a `MappingError` that carries its data: a stable kebab-case `code`, the
canonical `field` and the `candidates` (source columns as written). `validate` builds its findings
from these attributes, never from the message."""

from pathlib import Path

import pytest

from fidelcli.errors import FidelError, InputError, MappingError, OutputError
from fidelcli.io.columns import KINDS, fields, parse_map_options, resolve_columns
from fidelcli.io.read import scan_table


def resolve_error(columns: str, **kw: object) -> MappingError:
    with pytest.raises(MappingError) as err:
        resolve_columns(columns.split(","), "transactions", file="tx.csv", **kw)  # type: ignore[arg-type]
    return err.value


def test_a_missing_required_field_names_the_field_and_the_free_columns():
    err = resolve_error("client_name,date,amount")
    assert (err.code, err.field, err.candidates, err.file) == ("missing-column", "customer_id", ("client_name",), "tx.csv")
    assert err.message == "no column for required field 'customer_id' of transactions; candidates: 'client_name'"


def test_two_columns_matching_one_field_are_its_candidates_in_file_order():
    err = resolve_error("customer_id,Customer ID,date,amount")
    assert (err.code, err.field, err.candidates) == ("ambiguous-column", "customer_id", ("customer_id", "Customer ID"))


def test_map_mistakes_have_their_own_codes():
    err = resolve_error("id,date,amount", explicit={"cust": "id"})
    # difflib: ratio("cust", "cost") = 2 x 3 / 8 = 0.75, the only field above the 0.6 cut-off.
    assert (err.code, err.field, err.candidates, err.hint) == ("unknown-field", "cust", ("cost",), "did you mean 'cost'?")
    err = resolve_error("id,date,amount", explicit={"customer_id": "Client"})
    assert (err.code, err.field, err.candidates) == ("no-such-column", "customer_id", ("id", "date", "amount"))
    err = resolve_error("column_1,column_2", explicit={"customer_id": "1", "date": "3"}, positional=True)
    assert (err.code, err.field, err.candidates) == ("no-such-column", "date", ("column_1", "column_2"))
    assert err.message == "--map date=3: the file has 2 columns"


def test_a_money_column_that_may_be_either_lists_both_candidates():
    err = resolve_error("Customer ID,InvoiceDate,Quantity,UnitPrice,Price")
    assert (err.code, err.field, err.candidates) == ("ambiguous-money", None, ("UnitPrice", "Price"))


def test_option_syntax_and_unknown_kind():
    with pytest.raises(MappingError) as err:
        parse_map_options(["customer_id"])
    assert (err.value.code, err.value.field, err.value.candidates) == ("map-syntax", None, ())
    with pytest.raises(MappingError) as err:
        fields("sales")
    assert (err.value.code, err.value.candidates) == ("unknown-kind", KINDS)


def test_the_workbook_hint_keeps_the_data(tmp_path: Path):
    xlsxwriter = pytest.importorskip("xlsxwriter")
    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Notes").write(0, 0, "see the next sheet")
    wb.add_worksheet("Ventes").write_row(0, 0, ["customer_id", "date", "amount"])
    wb.close()
    with pytest.raises(MappingError) as err:
        scan_table(path, "transactions")
    assert (err.value.code, err.value.field, err.value.candidates) == ("missing-column", "customer_id", ("see the next sheet",))
    assert err.value.hint == "sheet 'Notes' was read; the workbook has sheets 'Notes', 'Ventes': choose one with --sheet NAME"


def test_error_classes():
    # A mapping problem is an input problem; a write failure is not, though both exit 2.
    assert issubclass(MappingError, InputError)
    assert issubclass(OutputError, FidelError) and not issubclass(OutputError, InputError)
    assert (MappingError("m", code="missing-column").exit_code, OutputError("o").exit_code) == (2, 2)
