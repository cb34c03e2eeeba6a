"""Churn model files are data, checked before use; churn refusals are one error line naming the file.

Every case goes through the real CLI (`typer.testing.CliRunner` on `fidelcli.cli.app.app`) and
asserts exit code 2 and the exact `error:` line: never 3 (an internal error), never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from churn_data import load
from churn_sim import simulate
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from fidelcli.churn import ChurnModel, TrainResult, score_churn
from fidelcli.churn.modelfile import digest
from fidelcli.cli.app import app
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import ModelFileError

runner = CliRunner()
RETRAIN = "hint: use the file written by fidelcli churn train, or train again: fidelcli churn train ... --model-out FILE"
TRAIN = "hint: train one with fidelcli churn train --model-out FILE"
# the spend features of a model trained on amounts, in the order of the feature frame
SPEND = ["spend_30d", "spend_90d", "spend_180d", "spend_365d", "monetary", "spend_prev_90d", "avg_order_value",
         "spend_trend", "returns_share"]


def problems(stderr: str) -> list[str]:
    """The error and hint lines (progress and warning lines aside)."""
    return [line for line in stderr.splitlines() if line.startswith(("error:", "hint:"))]


def score(tx: Path, model: Path, *extra: str):  # noqa: ANN201
    return runner.invoke(app, ["churn", "score", "-t", str(tx), "--model", str(model), *extra])


def rehashed(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with a SHA-256 matching its (edited) body: a crafted file, not a damaged one."""
    return {**doc, "sha256": digest(doc["body"])}


def write_json_text(path: Path, doc: Any) -> Path:
    """`doc` as JSON, NaN and Infinity written as Python's json writes them."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# ------------------------------------------------------------------ a bad file, exit 2 naming it
def _pickle(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "model.pkl"
    path.write_bytes(pickle.dumps(good))
    return path


def _latin1(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "latin1.json"
    path.write_bytes('{"format": "fidelcli-churn-model", "tier": "\u00e9t\u00e9"}'.encode("latin-1"))
    return path


def _not_json(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "notes.json"
    path.write_text("format: churn\n", encoding="utf-8")
    return path


def _deep(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "deep.json"  # Python's json raises RecursionError on it
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    return path


def _moderately_deep(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "deep40.json"  # parses, but deeper than any model file
    path.write_text('{"format": ' + "[" * 40 + "]" * 40 + "}", encoding="utf-8")
    return path


def _long_int(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "digits.json"  # int() refuses more than 4,300 digits with a ValueError
    text = json.dumps(good).replace('"format_version":1', '"format_version":' + "7" * 5000).replace(
        '"format_version": 1', '"format_version": ' + "7" * 5000)
    path.write_text(text, encoding="utf-8")
    return path


def _index_2_70(tmp: Path, good: dict[str, Any]) -> Path:
    doc = json.loads(json.dumps(good))
    doc["body"]["model"]["trees"][0]["feature"][0] = 2**70  # beyond int64 as well as beyond the features
    return write_json_text(tmp / "index.json", rehashed(doc))


def _index_out_of_range(tmp: Path, good: dict[str, Any]) -> Path:
    doc = json.loads(json.dumps(good))
    doc["body"]["model"]["trees"][2]["feature"][1] = len(doc["body"]["model"]["features"])
    return write_json_text(tmp / "index.json", rehashed(doc))


def _nan_baseline(tmp: Path, good: dict[str, Any]) -> Path:
    doc = json.loads(json.dumps(good))
    doc["body"]["model"]["baseline"] = float("nan")  # would put every customer in the high band
    return write_json_text(tmp / "nan.json", rehashed(doc))


def _infinity(tmp: Path, good: dict[str, Any]) -> Path:
    doc = json.loads(json.dumps(good))
    doc["body"]["model"]["trees"][0]["value"][-1] = float("-inf")
    return write_json_text(tmp / "inf.json", rehashed(doc))


def _overflow(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "overflow.json"  # json reads 1e999 as inf
    path.write_text('{"format": "fidelcli-churn-model", "format_version": 1, "sha256": 1e999}', encoding="utf-8")
    return path


def _too_large(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "huge.json"
    with path.open("wb") as fh:
        fh.truncate(60 * 2**20)  # sparse: 60 MiB on paper, nothing on disk
    return path


def _clv_model(tmp: Path, good: dict[str, Any]) -> Path:
    doc = {"fidelcli_version": "0.1.0", "time_unit": "week", "calibration_end": None,
           "purchase_model": {"name": "bgnbd", "params": {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4},
                              "log_likelihood": -9582.4, "n_customers": 2357, "std_errors": {}},
           "spend_model": None}
    return write_json_text(tmp / "clv.json", doc)


def _unknown_field(tmp: Path, good: dict[str, Any]) -> Path:
    doc = json.loads(json.dumps(good))
    doc["body"]["model"]["code"] = "__import__('os').system('echo hi')"
    return write_json_text(tmp / "extra.json", rehashed(doc))


def _string_number(tmp: Path, good: dict[str, Any]) -> Path:
    doc = json.loads(json.dumps(good))
    doc["body"]["model"]["calibration"]["a"] = "1.0"
    return write_json_text(tmp / "text.json", rehashed(doc))


def _too_many_trees(tmp: Path, good: dict[str, Any]) -> Path:
    doc = json.loads(json.dumps(good))
    doc["body"]["model"]["trees"] = [doc["body"]["model"]["trees"][0]] * 10_001
    return write_json_text(tmp / "trees.json", rehashed(doc))


def _repeated_key(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "twice.json"
    path.write_text('{"format": "fidelcli-churn-model", "format": "other"}', encoding="utf-8")
    return path


def _future_version(tmp: Path, good: dict[str, Any]) -> Path:
    return write_json_text(tmp / "future.json", {**good, "format_version": 2})


def _no_digest(tmp: Path, good: dict[str, Any]) -> Path:
    return write_json_text(tmp / "nodigest.json", {k: v for k, v in good.items() if k != "sha256"})


def _directory(tmp: Path, good: dict[str, Any]) -> Path:
    path = tmp / "models"
    path.mkdir()
    return path


BAD_FILES: dict[str, tuple[Callable[[Path, dict[str, Any]], Path], str, str]] = {
    "pickle": (_pickle, "a Python pickle, not a churn model file (JSON): pickles are never loaded, since loading one can run code", TRAIN),
    "not-utf8": (_latin1, "not a churn model file: not UTF-8 text (byte 45)", TRAIN),
    "not-json": (_not_json, "not a churn model file: not JSON (Expecting value at line 1, column 1)", TRAIN),
    "deep-100000": (_deep, "churn model file nested deeper than 32 levels", TRAIN),
    "deep-41": (_moderately_deep, "churn model file nested deeper than 32 levels", TRAIN),
    "int-5000-digits": (_long_int, "integer of 5,000 digits in the churn model file (at most 40)", TRAIN),
    "index-2**70": (_index_2_70, "content outside the churn model file's schema at body.model: tree 1, node 0: "
                                 "feature index 1180591620717411303424 is out of range (the model has {n} features)", RETRAIN),
    "index-out-of-range": (_index_out_of_range, "content outside the churn model file's schema at body.model: tree 3, node 1: "
                                                "feature index {n} is out of range (the model has {n} features)", RETRAIN),
    "nan-baseline": (_nan_baseline, "NaN in the churn model file: only finite numbers are allowed", TRAIN),
    "infinity": (_infinity, "-Infinity in the churn model file: only finite numbers are allowed", TRAIN),
    "1e999": (_overflow, "number 1e999 in the churn model file is too large for a finite float", TRAIN),
    "60-MiB": (_too_large, "churn model file of 60 MiB, larger than the 50 MiB limit", TRAIN),
    "clv-model": (_clv_model, "a CLV model file (written by fidelcli clv --save-model), not a churn model",
                  "hint: give the file written by fidelcli churn train --model-out"),
    "unknown-field": (_unknown_field, "content outside the churn model file's schema at body.model.code: extra inputs are not permitted", RETRAIN),
    "number-as-text": (_string_number, "content outside the churn model file's schema at body.model.calibration.sigmoid.a: "
                                       "input should be a valid number", RETRAIN),
    "10001-trees": (_too_many_trees, "content outside the churn model file's schema at body.model.trees: "
                                     "list should have at most 10000 items after validation, not 10001", RETRAIN),
    "repeated-key": (_repeated_key, "key 'format' repeated in an object of the churn model file", TRAIN),
    "format-2": (_future_version, "model file format 2 is not supported (this fidelcli reads format 1)",
                 "hint: train the model again with this version: fidelcli churn train ... --model-out FILE"),
    "no-sha256": (_no_digest, "missing field(s) sha256 at the top level of the churn model file", RETRAIN),
    "directory": (_directory, "a directory, not a churn model file", TRAIN),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_model_file_exits_2_naming_it(case: str, sim_files: tuple[Path, pl.DataFrame], sim_model_file: Path,
                                          tmp_path: Path) -> None:
    make, message, hint = BAD_FILES[case]
    good = json.loads(sim_model_file.read_text(encoding="utf-8"))
    bad = make(tmp_path, good)
    res = score(sim_files[0], bad)
    assert res.exit_code == 2
    n = len(good["body"]["model"]["features"])
    # the model is read first: the error and its hint are all of stderr
    assert res.stderr.splitlines() == [f"error: {bad}: {message.format(n=n)}", hint]


def test_missing_model_file_exits_2(sim_files: tuple[Path, pl.DataFrame], tmp_path: Path) -> None:
    res = score(sim_files[0], tmp_path / "nope.json")
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {tmp_path / 'nope.json'}: churn model file not found", TRAIN]


def test_nan_baseline_is_refused_by_the_schema_too(sim_model_file: Path) -> None:
    """Built in Python (no file to parse), a NaN baseline still never reaches the scores."""
    doc = json.loads(sim_model_file.read_text(encoding="utf-8"))
    doc["body"]["model"]["baseline"] = float("nan")
    with pytest.raises(ModelFileError, match=r"^m\.json: content outside the churn model file's schema at "
                                             r"body\.model\.baseline: input should be a finite number$"):
        ChurnModel.from_dict(rehashed(doc), file="m.json")


def test_utf8_bom_is_accepted(sim_model_file: Path, tmp_path: Path) -> None:
    """An editor's byte-order mark is not a reason to refuse a model."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + sim_model_file.read_bytes())
    assert ChurnModel.load(path).to_dict() == ChurnModel.load(sim_model_file).to_dict()


# ------------------------------------------------------------------------------- round trip
def test_saved_model_loads_and_scores_identically(sim_files: tuple[Path, pl.DataFrame], sim_result: TrainResult,
                                                  sim_model_file: Path, tmp_path: Path) -> None:
    reloaded = ChurnModel.load(sim_model_file)
    assert reloaded.to_dict() == sim_result.model.to_dict()
    out = tmp_path / "scores.parquet"
    res = score(sim_files[0], sim_model_file, "--as-of", "2024-12-31", "-o", str(out))
    assert res.exit_code == 0, res.stderr
    tx = load(sim_files[0], as_of=dt.date(2024, 12, 31))
    in_memory = score_churn(tx, sim_result.model, engine=DEFAULT_ENGINE, cutoff=dt.date(2024, 12, 30)).frame
    # written files round probabilities to 6 decimals (fidelcli.io.rounding): half a unit of the 6th decimal apart at most
    assert_frame_equal(pl.read_parquet(out), in_memory, rel_tol=0, abs_tol=5e-7 + 1e-15)


# ------------------------------------------------------------------- training without amounts
@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """800 simulated customers (seed 11) without an amount column, and with every amount 0."""
    tx, _ = simulate(800, seed=11)
    folder = tmp_path_factory.mktemp("no_amounts")
    no_column, zeros = folder / "no_amount.csv", folder / "zero_amount.csv"
    tx.drop("amount").write_csv(no_column)
    tx.with_columns(amount=pl.lit(0.0)).write_csv(zeros)
    return no_column, zeros


def _train(tx: Path, model: Path):  # noqa: ANN202
    return runner.invoke(app, ["churn", "train", "-t", str(tx), "--model-out", str(model), "--format", "csv"])


@pytest.mark.slow
def test_all_amounts_zero_trains_without_the_spend_features(shop: tuple[Path, Path], tmp_path: Path) -> None:
    """Regression: scikit-learn's binning crashed on the all-missing spend trend (exit 3)."""
    model = tmp_path / "m.json"
    res = _train(shop[1], model)
    assert res.exit_code == 0, res.stderr
    assert (f"warning: no amounts in the transactions (no amount column, or every amount is 0): the model is trained "
            f"without the spend features ({', '.join(SPEND)})") in res.stderr.splitlines()
    body = json.loads(model.read_text(encoding="utf-8"))["body"]
    assert body["metadata"]["features_left_out"] == dict.fromkeys(SPEND, "no amounts in the transactions")
    assert not set(SPEND) & set(body["model"]["features"])
    assert body["model"]["features"] == body["metadata"]["features"]
    assert {"recency_days", "frequency", "orders_90d", "p_alive"} <= set(body["model"]["features"])


def test_no_amount_column_trains_without_the_spend_features(shop: tuple[Path, Path], tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    res = _train(shop[0], model)
    assert res.exit_code == 0, res.stderr
    left_out = json.loads(model.read_text(encoding="utf-8"))["body"]["metadata"]["features_left_out"]
    # returns_share is listed when the cleaned transactions keep an (empty) amount column
    assert set(left_out) - {"returns_share"} == set(SPEND) - {"returns_share"}
    assert (f"warning: no amounts in the transactions (no amount column, or every amount is 0): the model is trained "
            f"without the spend features ({', '.join(left_out)})") in res.stderr.splitlines()
    # the model scores the same kind of data
    scored = score(shop[0], model, "-o", str(tmp_path / "s.csv"))
    assert scored.exit_code == 0, scored.stderr
    assert pl.read_csv(tmp_path / "s.csv").height == 800


@pytest.mark.parametrize("kind", ["no amount column", "every amount 0"])
def test_spend_model_refuses_data_without_amounts(kind: str, shop: tuple[Path, Path], sim_model_file: Path) -> None:
    """Regression: it ran with a generic warning and gave other numbers."""
    tx = shop[0] if kind == "no amount column" else shop[1]
    features = json.loads(sim_model_file.read_text(encoding="utf-8"))["body"]["model"]["features"]
    spend = [f for f in features if f in SPEND]
    assert spend == [f for f in SPEND if f in features] and "monetary" in spend
    res = score(tx, sim_model_file)
    assert res.exit_code == 2
    assert problems(res.stderr) == [
        f"error: {tx.name}: the transactions have no amounts (no amount column, or every amount is 0), but the model "
        f"{sim_model_file} uses spend features: {', '.join(spend)}",
        "hint: score transactions with amounts, as in training, or train a model on these transactions "
        "(it then leaves the spend features out)",
    ]


# ------------------------------------------------------------- analysis refusals name the file
def test_too_few_customers_names_the_file(tiny: Path, tmp_path: Path) -> None:
    res = _train(tiny, tmp_path / "m.json")
    assert res.exit_code == 2
    # data end 2024-09-15, 90 days: validation at 2024-06-17, training at 2024-03-19, when only A had bought
    assert problems(res.stderr) == [
        "error: tx.csv: only 1 customers have a purchase on or before the training cutoff 2024-03-19",
        "hint: use a later --cutoff or a shorter --horizon (training needs data before 2024-03-19)",
    ]
    assert not (tmp_path / "m.json").exists()


def test_single_label_names_the_file(tmp_path: Path) -> None:
    """Thirty customers who all buy every month: nobody churns, nothing to learn."""
    lines = ["customer_id,date,amount"]
    for c in range(30):
        day = dt.date(2023, 1, 1) + dt.timedelta(days=c % 7)
        while day < dt.date(2024, 12, 31):
            lines.append(f"C{c:02d},{day},10")
            day += dt.timedelta(days=30)
    tx = tmp_path / "loyal.csv"
    tx.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = _train(tx, tmp_path / "m.json")
    assert res.exit_code == 2
    assert problems(res.stderr) == [
        "error: loyal.csv: every training customer has the same label (active), nothing to learn",
        "hint: use a longer history, another --cutoff or another --horizon",
    ]


def test_nobody_to_score_names_the_file(sim_files: tuple[Path, pl.DataFrame], sim_model_file: Path) -> None:
    res = score(sim_files[0], sim_model_file, "--as-of", "2022-01-01")
    assert res.exit_code == 2
    assert problems(res.stderr) == [
        "error: transactions.parquet: no customer has a purchase on or before 2021-12-31: nobody to score",
        "hint: use a later --as-of",
    ]


# ------------------------------------------------------------------ a saved logistic regression
def test_logistic_model_file_scores_through_the_cli(sim_files: tuple[Path, pl.DataFrame], linear_result: TrainResult,
                                                    linear_model_file: Path, tmp_path: Path) -> None:
    body = json.loads(linear_model_file.read_text(encoding="utf-8"))["body"]
    assert body["model"]["kind"] == "logistic_regression" and body["metadata"]["saved_model"] == "logistic_regression"
    n = len(body["model"]["features"])
    assert all(len(body["model"][k]) == n for k in ("medians", "lower", "upper", "center", "scale", "coef"))
    out = tmp_path / "scores.parquet"
    res = score(sim_files[0], linear_model_file, "--as-of", "2024-12-31", "-o", str(out))
    assert res.exit_code == 0, res.stderr
    tx = load(sim_files[0], as_of=dt.date(2024, 12, 31))
    in_memory = score_churn(tx, linear_result.model, engine=DEFAULT_ENGINE, cutoff=dt.date(2024, 12, 30)).frame
    assert_frame_equal(pl.read_parquet(out), in_memory, rel_tol=0, abs_tol=5e-7 + 1e-15)  # files round to 6 decimals


BAD_LINEAR: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "zero-scale": (lambda m: m["scale"].__setitem__(0, 0.0), "at body.model.scale[0]: input should be greater than 0"),
    "short-coef": (lambda m: m["coef"].pop(), "at body.model: coef has {m} numbers for {n} features"),
    "crossed-bounds": (lambda m: m.update(lower=[v + 1e9 for v in m["upper"]]), "at body.model: a feature's training range has lower > upper"),
    "tree-field": (lambda m: m.update(trees=[]), "at body.model.trees: extra inputs are not permitted"),
    "unknown-kind": (lambda m: m.update(kind="neural_net"), "at body.model.kind: unknown model kind 'neural_net' "
                                                            "(this fidelcli reads gradient_boosted_trees and logistic_regression)"),
}


@pytest.mark.parametrize("case", list(BAD_LINEAR))
def test_bad_logistic_model_is_refused(case: str, linear_model_file: Path) -> None:
    edit, message = BAD_LINEAR[case]
    doc = json.loads(linear_model_file.read_text(encoding="utf-8"))
    n = len(doc["body"]["model"]["features"])
    edit(doc["body"]["model"])
    doc = rehashed(doc)  # a crafted file: the hash matches, the content does not
    with pytest.raises(ModelFileError) as exc:
        ChurnModel.from_dict(doc, file="m.json")
    assert exc.value.message.startswith(f"content outside the churn model file's schema {message.format(n=n, m=n - 1)}")


def test_model_files_written_before_the_choice_still_load(sim_model_file: Path, sim_files: tuple[Path, pl.DataFrame]) -> None:
    """Files of the first format 1 (boosted trees, no saved_model / selection fields) load and score as before."""
    doc = json.loads(sim_model_file.read_text(encoding="utf-8"))
    for key in ("saved_model", "selection_metric", "selection"):
        del doc["body"]["metadata"][key]
    doc["body"]["metadata"]["metrics"].pop("rfm_logistic")
    old = ChurnModel.from_dict(rehashed(doc), file="old.json")
    assert old.kind == "gradient_boosted_trees"
    tx = load(sim_files[0])
    assert_frame_equal(score_churn(tx, old, engine=DEFAULT_ENGINE, cutoff=dt.date(2024, 12, 30)).frame,
                       score_churn(tx, ChurnModel.load(sim_model_file), engine=DEFAULT_ENGINE, cutoff=dt.date(2024, 12, 30)).frame)
