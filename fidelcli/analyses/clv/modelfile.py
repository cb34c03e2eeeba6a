"""CLV model files (`--save-model`, `--load-model`): the JSON document, its schema, and loading it
back as a `Fit` without ever executing anything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from fidelcli.analyses.clv.fit import Fit, comparison_row, purchase_models
from fidelcli.engine.periods import TimeUnit
from fidelcli.errors import ModelFileError
from fidelcli.io.jsonfile import read_json, schema_problem

if TYPE_CHECKING:
    from fidelcli.models.base import Fitted

ModelT = TypeVar("ModelT", bound="Fitted")


def _count(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def model_document(fit: Fit, *, time_unit: TimeUnit, calibration_end: dt.date | None, version: str) -> dict[str, Any]:
    """The `--save-model` JSON document (the shape of issue #5; `ClvModelDoc` is its schema)."""
    p = fit.purchase.to_dict()
    doc: dict[str, Any] = {
        "fidelcli_version": version,
        "time_unit": time_unit,
        "calibration_end": calibration_end.isoformat() if calibration_end else None,
        "purchase_model": {"name": p["name"], "params": p["params"], "log_likelihood": p["log_likelihood"],
                           "n_customers": _count(p["n_customers"]), "std_errors": p["std_errors"]},
        "spend_model": None,
    }
    if fit.spend is not None:
        s = fit.spend.to_dict()
        doc["spend_model"] = {"name": s["name"], "params": s["params"], "log_likelihood": s["log_likelihood"],
                              "n_customers": _count(s["n_customers"])}
    return doc


class _StrictDoc(BaseModel):
    """Exact JSON types, no unknown field, finite numbers only."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, frozen=True)


_Name = Annotated[str, StringConstraints(max_length=40)]
_Params = Annotated[dict[_Name, Annotated[float, Field(gt=0)]], Field(max_length=10)]


class SavedModel(_StrictDoc):
    """A saved model; its name is narrowed by each kind below (declared here, so it stays the first field)."""

    name: str
    params: _Params
    log_likelihood: float | None
    n_customers: Annotated[float, Field(ge=0)] | None


class SavedSpendModel(SavedModel):
    name: Literal["gamma_gamma"]


class SavedPurchaseModel(SavedModel):
    name: Literal["bgnbd", "pnbd", "mbgnbd", "bgbb"]
    std_errors: Annotated[dict[_Name, float | None], Field(max_length=10)] = {}


class ClvModelDoc(_StrictDoc):
    """Schema of the `--save-model` document, format 1 (`format_version` absent or 1)."""

    format_version: Literal[1] | None = None
    fidelcli_version: Annotated[str, StringConstraints(max_length=40)]
    time_unit: TimeUnit
    calibration_end: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None
    purchase_model: SavedPurchaseModel
    spend_model: SavedSpendModel | None


CLV_MODEL_FILE = "CLV model file"
SAVE_HINT = "write one with fidelcli clv --save-model FILE.json"


def fit_from_document(doc: object, *, file: str | None = None) -> tuple[Fit, TimeUnit, dt.date | None]:
    """Restore the models of a `--save-model` document: (fit, time unit, calibration end).

    The document is checked against `ClvModelDoc` (no unknown field, finite positive parameters,
    bounded sizes) before any model is built.

    Raises
    ------
    ModelFileError
        The document is not a CLV model (a churn model, say), another format version, or does not
        have the expected shape (named after `file` when given).
    """
    if isinstance(doc, dict) and doc.get("format") == "fidelcli-churn-model":
        raise ModelFileError("a churn model file (written by fidelcli churn train), not a CLV model", file=file,
                             hint="give the file written by fidelcli clv --save-model")
    if not isinstance(doc, dict) or "purchase_model" not in doc or "time_unit" not in doc:
        raise ModelFileError("not a fidelcli CLV model file (no purchase_model / time_unit)", file=file, hint=SAVE_HINT)
    if doc.get("format_version", 1) != 1 or isinstance(doc.get("format_version"), bool):
        raise ModelFileError(f"CLV model file format {doc['format_version']!r} is not supported (this fidelcli reads format 1)",
                             file=file, hint="save the model again with this version: fidelcli clv ... --save-model FILE.json")
    from fidelcli.models import GammaGamma

    models = purchase_models()
    pm = doc["purchase_model"]
    name = pm.get("name") if isinstance(pm, dict) else None
    if name not in models:
        raise ModelFileError(f"unknown purchase model {name!r} in the model file", file=file, hint="expected bgnbd, pnbd, mbgnbd or bgbb")
    if doc["time_unit"] not in ("day", "week", "month", "year"):
        raise ModelFileError(f"unknown time unit {doc['time_unit']!r} in the model file", file=file, hint="expected day, week, month or year")
    try:
        checked = ClvModelDoc.model_validate(doc)
        cal_date = dt.date.fromisoformat(checked.calibration_end) if checked.calibration_end else None
    except ValidationError as exc:
        raise ModelFileError(schema_problem(exc, CLV_MODEL_FILE), file=file, hint=SAVE_HINT) from None
    except ValueError:
        raise ModelFileError(f"calibration_end {doc['calibration_end']!r} in the model file is not a YYYY-MM-DD date",
                             file=file, hint=SAVE_HINT) from None
    purchase = _restore(models[name], checked.purchase_model, file=file)
    spend = _restore(GammaGamma, checked.spend_model, file=file) if checked.spend_model is not None else None
    n = float(checked.purchase_model.n_customers or 1)
    comparison = pl.DataFrame([comparison_row(purchase, max(n, 1.0))]).with_columns(error=pl.lit(None, dtype=pl.String), best=pl.lit(True))
    return Fit(purchase=purchase, spend=spend, comparison=comparison, ranked=[purchase]), checked.time_unit, cal_date


def _restore(cls: type[ModelT], m: SavedModel, *, file: str | None) -> ModelT:
    """The model of class `cls` saved as `m` (schema-checked); ModelFileError for other parameters."""
    if set(m.params) != set(cls.param_names) or not set(getattr(m, "std_errors", {})) <= set(cls.param_names):
        raise ModelFileError(f"{m.name} parameters must be {', '.join(cls.param_names)}; found {', '.join(m.params)}",
                             file=file, hint=SAVE_HINT)
    try:
        return cls.from_dict({**m.model_dump(), "converged": True})
    except ModelFileError as exc:  # the schema checks the same: kept as a second line of defence
        raise ModelFileError(exc.message, file=file, hint=exc.hint) from None


def load_model_file(path: str | Path) -> tuple[Fit, TimeUnit, dt.date | None]:
    """Read a `--save-model` file: parsed as bounded JSON, checked against `ClvModelDoc`, never executed.

    Returns (fit, time unit, calibration end), as `fit_from_document`.

    Raises
    ------
    ModelFileError
        Naming the file: missing, unreadable, larger than 50 MiB, a pickle, not UTF-8 JSON, nested
        too deep, holding NaN, Infinity or an overlong integer, a churn model, or content outside the
        schema.
    """
    file = str(path)
    doc = read_json(path, what=CLV_MODEL_FILE, hint=SAVE_HINT, error=ModelFileError)
    return fit_from_document(doc, file=file)
