"""`clv --save-model/--load-model` files are data, checked before use; CLV refusals name their file.

Through the real CLI (`typer.testing.CliRunner` on `fidelcli.cli.app.app`): exit code 2 and the
exact `error:` line, never 3 (an internal error), never a traceback.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from fidelcli.analyses.clv import fit_from_document, load_model_file
from fidelcli.cli.app import app
from fidelcli.errors import ModelFileError

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "transactions.csv"
SAVE = "hint: write one with fidelcli clv --save-model FILE.json"


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args))


def problems(stderr: str) -> list[str]:
    """The error and hint lines (progress and warning lines aside)."""
    return [line for line in stderr.splitlines() if line.startswith(("error:", "hint:"))]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """BG/NBD + Gamma-Gamma fitted on the sample shop: the model file and the per-customer table."""
    folder = tmp_path_factory.mktemp("clv_model")
    model, out = folder / "clv.json", folder / "clv.csv"
    r = invoke("clv", "-t", str(SAMPLE), "--model", "bgnbd", "--save-model", str(model), "-o", str(out), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    return model, out


def edited(tmp: Path, good: dict[str, Any], edit: Callable[[dict[str, Any]], None], name: str = "edited.json") -> Path:
    doc = json.loads(json.dumps(good))
    edit(doc)
    path = tmp / name
    path.write_text(json.dumps(doc), encoding="utf-8")  # NaN and Infinity as Python's json writes them
    return path


def text(name: str, content: str | bytes) -> Callable[[Path, dict[str, Any]], Path]:
    def make(tmp: Path, good: dict[str, Any]) -> Path:
        path = tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path
    return make


def edit(fn: Callable[[dict[str, Any]], None]) -> Callable[[Path, dict[str, Any]], Path]:
    return lambda tmp, good: edited(tmp, good, fn)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set `doc[a][b]...` from a dotted path."""
    *parents, last = path.split(".")

    def apply(doc: dict[str, Any]) -> None:
        for p in parents:
            doc = doc[p]
        doc[last] = value
    return apply


def _pickle(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "clv.pkl"
    path.write_bytes(pickle.dumps(good))
    return path


def _too_large(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "huge.json"
    with path.open("wb") as fh:
        fh.truncate(60 * 2**20)  # sparse: 60 MiB on paper, nothing on disk
    return path


def _directory(tmp: Path, good: dict[str, Any]) -> Path:
    (tmp / "models").mkdir()
    return tmp / "models"


def _churn_model(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "churn.json"
    path.write_text(json.dumps({"format": "fidelcli-churn-model", "format_version": 1, "sha256": "0" * 64, "body": {}}),
                    encoding="utf-8")
    return path


SCHEMA = "content outside the CLV model file's schema at"
BAD_FILES: dict[str, tuple[Callable[[Path, dict[str, Any]], Path], str, str]] = {
    "pickle": (_pickle, "a Python pickle, not a CLV model file (JSON): pickles are never loaded, since loading one can run code", SAVE),
    "not-utf8": (text("latin1.json", '{"time_unit": "sem\u00e9"}'.encode("latin-1")), "not a CLV model file: not UTF-8 text (byte 19)", SAVE),
    "not-json": (text("notes.json", "time_unit = week"), "not a CLV model file: not JSON (Expecting value at line 1, column 1)", SAVE),
    "deep-100000": (text("deep.json", "[" * 100_000 + "]" * 100_000), "CLV model file nested deeper than 32 levels", SAVE),
    "int-5000-digits": (text("digits.json", '{"time_unit": ' + "9" * 5000 + "}"),
                        "integer of 5,000 digits in the CLV model file (at most 40)", SAVE),
    "nan-parameter": (edit(_set("purchase_model.params.r", float("nan"))), "NaN in the CLV model file: only finite numbers are allowed", SAVE),
    "infinity": (edit(_set("spend_model.params.v", float("inf"))), "Infinity in the CLV model file: only finite numbers are allowed", SAVE),
    "1e999": (text("overflow.json", '{"purchase_model": {"params": {"r": 1e999}}}'),
              "number 1e999 in the CLV model file is too large for a finite float", SAVE),
    "60-MiB": (_too_large, "CLV model file of 60 MiB, larger than the 50 MiB limit", SAVE),
    "churn-model": (_churn_model, "a churn model file (written by fidelcli churn train), not a CLV model",
                    "hint: give the file written by fidelcli clv --save-model"),
    "unknown-field": (edit(_set("purchase_model.code", "__import__('os')")),
                      f"{SCHEMA} purchase_model.code: extra inputs are not permitted", SAVE),
    "negative-parameter": (edit(_set("purchase_model.params.alpha", -1.0)),
                           f"{SCHEMA} purchase_model.params.alpha: input should be greater than 0", SAVE),
    "number-as-text": (edit(_set("spend_model.params.p", "3.2")), f"{SCHEMA} spend_model.params.p: input should be a valid number", SAVE),
    "extra-parameter": (edit(_set("purchase_model.params.s", 1.0)), "bgnbd parameters must be r, alpha, a, b; found r, alpha, a, b, s", SAVE),
    "unknown-model": (edit(_set("purchase_model.name", "xyz")), "unknown purchase model 'xyz' in the model file",
                      "hint: expected bgnbd, pnbd, mbgnbd or bgbb"),
    "format-2": (edit(_set("format_version", 2)), "CLV model file format 2 is not supported (this fidelcli reads format 1)",
                 "hint: save the model again with this version: fidelcli clv ... --save-model FILE.json"),
    "bad-date": (edit(_set("calibration_end", "2024-02-30")), "calibration_end '2024-02-30' in the model file is not a YYYY-MM-DD date", SAVE),
    "repeated-key": (text("twice.json", '{"time_unit": "week", "time_unit": "day"}'),
                     "key 'time_unit' repeated in an object of the CLV model file", SAVE),
    "not-a-model": (text("list.json", "[1, 2, 3]"), "not a fidelcli CLV model file (no purchase_model / time_unit)", SAVE),
    "directory": (_directory, "a directory, not a CLV model file", SAVE),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_model_file_exits_2_naming_it(case: str, saved: tuple[Path, Path], tmp_path: Path) -> None:
    make, message, hint = BAD_FILES[case]
    bad = make(tmp_path, json.loads(saved[0].read_text(encoding="utf-8")))
    r = invoke("clv", "-t", str(SAMPLE), "--load-model", str(bad), "-o", str(tmp_path / "out.csv"))
    assert r.exit_code == 2
    # the model is read before the transactions: the error and its hint are all of stderr
    assert r.stderr.splitlines() == [f"error: {bad}: {message}", hint]
    assert not (tmp_path / "out.csv").exists()


def test_missing_model_file_exits_2(tmp_path: Path) -> None:
    r = invoke("clv", "-t", str(SAMPLE), "--load-model", str(tmp_path / "nope.json"))
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [f"error: {tmp_path / 'nope.json'}: CLV model file not found", SAVE]


def test_library_raises_model_file_error_for_a_document_and_names_the_file_for_a_file(saved: tuple[Path, Path], tmp_path: Path) -> None:
    doc = json.loads(saved[0].read_text(encoding="utf-8"))
    doc["purchase_model"]["params"]["r"] = 0.0
    with pytest.raises(ModelFileError, match=r"^content outside the CLV model file's schema at purchase_model\.params\.r: "
                                          r"input should be greater than 0$"):
        fit_from_document(doc)
    bad = tmp_path / "zero.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"zero\.json: content outside"):
        load_model_file(bad)


# ------------------------------------------------------------------------------- round trip
def test_saved_model_loads_and_predicts_identically(saved: tuple[Path, Path], tmp_path: Path) -> None:
    model, fitted_out = saved
    doc = json.loads(model.read_text(encoding="utf-8"))
    assert list(doc) == ["fidelcli_version", "time_unit", "calibration_end", "purchase_model", "spend_model"]
    out = tmp_path / "reloaded.csv"
    r = invoke("clv", "-t", str(SAMPLE), "--load-model", str(model), "-o", str(out), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert_frame_equal(pl.read_csv(out), pl.read_csv(fitted_out))
    # and saving the loaded model writes the same document
    again = tmp_path / "again.json"
    r = invoke("clv", "-t", str(SAMPLE), "--load-model", str(model), "--save-model", str(again), "-o", str(tmp_path / "x.csv"))
    assert r.exit_code == 0, r.stderr
    assert json.loads(again.read_text(encoding="utf-8"))["purchase_model"]["params"] == doc["purchase_model"]["params"]


def test_format_version_1_is_accepted(saved: tuple[Path, Path], tmp_path: Path) -> None:
    doc = json.loads(saved[0].read_text(encoding="utf-8"))
    marked = tmp_path / "v1.json"
    marked.write_text(json.dumps({"format_version": 1, **doc}), encoding="utf-8")
    assert load_model_file(marked)[0].purchase.params_ == load_model_file(saved[0])[0].purchase.params_


# ------------------------------------------------------------- analysis refusals name the file
def test_no_purchase_model_names_the_file(tmp_path: Path) -> None:
    src = tmp_path / "once.csv"
    src.write_text("customer_id,date,amount\na,2024-01-01,10\nb,2024-01-05,20\nc,2024-02-01,5\n", encoding="utf-8")
    r = invoke("clv", "-t", str(src))
    assert r.exit_code == 2
    assert problems(r.stderr) == [
        "error: once.csv: no purchase model could be fitted (bgnbd, pnbd, mbgnbd); bgnbd: no customer made a repeat "
        "purchase (x = 0 for all), so the purchase rate cannot be estimated",
        "hint: use a longer calibration period, or a historical CLV",
    ]
    r = invoke("clv", "-t", str(src), "--model", "pnbd")
    assert r.exit_code == 2
    assert problems(r.stderr)[0].startswith("error: once.csv: pnbd: no customer made a repeat purchase")


def test_no_customer_to_model_names_the_file() -> None:
    r = invoke("clv", "-t", str(SAMPLE), "--calibration-end", "2020-01-01")
    assert r.exit_code == 2
    assert problems(r.stderr) == [
        "error: transactions.csv: calibration end 2020-01-01 is before the first purchase (2023-01-01): no customer to model",
        "hint: choose a --calibration-end inside the data",
    ]


def test_summary_table_refusal_names_the_file(tmp_path: Path) -> None:
    cbs = tmp_path / "cbs.csv"
    cbs.write_text("frequency,recency,T\n0,0,10\n0,0,12\n0,0,30\n", encoding="utf-8")
    r = invoke("clv", "--summary", str(cbs), "--model", "bgnbd")
    assert r.exit_code == 2
    assert problems(r.stderr)[0] == (f"error: {cbs}: bgnbd: no customer made a repeat purchase (x = 0 for all), "
                                     "so the purchase rate cannot be estimated")
