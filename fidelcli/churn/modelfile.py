"""The churn model and its file: JSON data, checked against a schema before use, never code.

A model file is `{"format": "fidelcli-churn-model", "format_version": 1, "sha256": ..., "body":
{"metadata": {...}, "model": {...}}}`: the model as numbers (`"kind": "gradient_boosted_trees"`:
the trees as arrays; `"kind": "logistic_regression"`: medians, means, standard deviations and
coefficients), the calibration as two numbers (or a table), and a SHA-256 of the body. Loading reads it with
`fidelcli.io.jsonfile.read_json` (size, depth, finite numbers, integer length), checks the format,
the version and the hash, then validates the body against the Pydantic models below (no unknown
field, finite numbers only, bounded lengths, every tree index in range) before anything is built
from it. A bad file is a `ModelFileError` naming it.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from fidelcli.churn.features import NON_FEATURES
from fidelcli.churn.linear import Linear
from fidelcli.churn.trees import Tree, raw_scores
from fidelcli.errors import InputError, ModelFileError
from fidelcli.io.jsonfile import read_json, schema_problem
from fidelcli.stats import FloatArray

FORMAT = "fidelcli-churn-model"
FORMAT_VERSION = 1
WHAT = "churn model file"
TRAIN_HINT = "train one with fidelcli churn train --model-out FILE"
RETRAIN_HINT = "use the file written by fidelcli churn train, or train again: fidelcli churn train ... --model-out FILE"
VERSION_HINT = "train the model again with this version: fidelcli churn train ... --model-out FILE"
TOP_LEVEL = ("format", "format_version", "sha256", "body")
# Bounds far above what `churn train` writes (200 trees of 15 nodes, depth 3, ~40 features).
MAX_FEATURES = 1_000
MAX_TREES = 10_000
MAX_NODES = 65_536
MAX_TREE_DEPTH = 64
MAX_CALIBRATION_POINTS = 100_000
# Features computed from amounts: without amounts they are all 0 (or undefined), not the customers' spend.
SPEND_PREFIXES = ("monetary", "avg_order_value", "spend_", "returns_share")


def spend_features(features: list[str]) -> list[str]:
    """The features of `features` computed from amounts."""
    return [f for f in features if f.startswith(SPEND_PREFIXES)]


# ---------------------------------------------------------------------------------------- schema
class Strict(BaseModel):
    """Exact JSON types, no unknown field, finite numbers only."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, frozen=True)


Text = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=2_000)]
DateText = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Index = Annotated[int, Field(ge=0)]


class TreeDoc(Strict):
    """One tree (see `fidelcli.churn.trees.Tree`); `threshold` null is +infinity (a leaf)."""

    feature: Annotated[list[Index], Field(min_length=1, max_length=MAX_NODES)]
    threshold: Annotated[list[float | None], Field(max_length=MAX_NODES)]
    missing_left: Annotated[list[Literal[0, 1]], Field(max_length=MAX_NODES)]
    left: Annotated[list[Index], Field(max_length=MAX_NODES)]
    value: Annotated[list[float], Field(max_length=MAX_NODES)]
    depth: Annotated[int, Field(ge=0, le=MAX_TREE_DEPTH)]

    @model_validator(mode="after")
    def _consistent(self) -> TreeDoc:
        n = len(self.feature)
        if any(len(a) != n for a in (self.threshold, self.missing_left, self.left, self.value)):
            raise ValueError("a tree's node arrays have different lengths")
        for i, child in enumerate(self.left):
            # a leaf points to itself; a split to its left child, the right one beside it
            if child >= n or (child != i and child + 1 >= n):
                raise ValueError(f"node {i} points to a child {child} outside the tree's {n} nodes")
        return self


class SigmoidDoc(Strict):
    method: Literal["sigmoid"]
    a: float
    b: float


class SigmoidCalibration(TypedDict):
    """p = 1 / (1 + exp(-(a * raw + b))) (Platt scaling of the raw log-odds)."""

    method: Literal["sigmoid"]
    a: float
    b: float


class IsotonicCalibration(TypedDict):
    """Piecewise-linear from the uncalibrated probability x to the calibrated y."""

    method: Literal["isotonic"]
    x: list[float]
    y: list[float]


CalibrationMap = SigmoidCalibration | IsotonicCalibration


class IsotonicDoc(Strict):
    method: Literal["isotonic"]
    x: Annotated[list[float], Field(min_length=1, max_length=MAX_CALIBRATION_POINTS)]
    y: Annotated[list[Annotated[float, Field(ge=0.0, le=1.0)]], Field(min_length=1, max_length=MAX_CALIBRATION_POINTS)]

    @model_validator(mode="after")
    def _increasing(self) -> IsotonicDoc:
        if len(self.x) != len(self.y) or any(b < a for a, b in zip(self.x, self.x[1:], strict=False)):
            raise ValueError("the isotonic calibration needs as many y as x, with x non-decreasing")
        return self


class TreesDoc(Strict):
    kind: Literal["gradient_boosted_trees"]
    features: Annotated[list[Text], Field(min_length=1, max_length=MAX_FEATURES)]
    baseline: float
    trees: Annotated[list[TreeDoc], Field(max_length=MAX_TREES)]
    calibration: Annotated[SigmoidDoc | IsotonicDoc, Field(discriminator="method")]

    @model_validator(mode="after")
    def _indices_in_range(self) -> TreesDoc:
        if len(set(self.features)) != len(self.features) or set(self.features) & set(NON_FEATURES):
            raise ValueError("features must be distinct feature names (not customer_id or a purchase date)")
        n = len(self.features)
        for t, tree in enumerate(self.trees, start=1):
            for i, f in enumerate(tree.feature):
                if f >= n:
                    raise ValueError(f"tree {t}, node {i}: feature index {f} is out of range (the model has {n} features)")
        return self


class LogisticDoc(Strict):
    """A logistic regression (see `fidelcli.churn.linear.Linear`): one number per feature in each list."""

    kind: Literal["logistic_regression"]
    features: Annotated[list[Text], Field(min_length=1, max_length=MAX_FEATURES)]
    medians: Annotated[list[float], Field(max_length=MAX_FEATURES)]
    lower: Annotated[list[float], Field(max_length=MAX_FEATURES)]
    upper: Annotated[list[float], Field(max_length=MAX_FEATURES)]
    center: Annotated[list[float], Field(max_length=MAX_FEATURES)]
    scale: Annotated[list[Annotated[float, Field(gt=0.0)]], Field(max_length=MAX_FEATURES)]
    coef: Annotated[list[float], Field(max_length=MAX_FEATURES)]
    intercept: float
    calibration: Annotated[SigmoidDoc | IsotonicDoc, Field(discriminator="method")]

    @model_validator(mode="after")
    def _one_per_feature(self) -> LogisticDoc:
        if len(set(self.features)) != len(self.features) or set(self.features) & set(NON_FEATURES):
            raise ValueError("features must be distinct feature names (not customer_id or a purchase date)")
        n = len(self.features)
        for name in ("medians", "lower", "upper", "center", "scale", "coef"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} numbers for {n} features")
        if any(lo > hi for lo, hi in zip(self.lower, self.upper, strict=True)):
            raise ValueError("a feature's training range has lower > upper")
        return self


class SavedBGNBD(Strict):
    """The BG/NBD fit behind the P(alive) feature (`BGNBD.to_dict`)."""

    name: Literal["bgnbd"]
    params: Annotated[dict[Text, float], Field(max_length=10)]
    log_likelihood: float | None
    n_customers: Annotated[float, Field(ge=0)] | None
    std_errors: Annotated[dict[Text, float | None], Field(max_length=10)]
    converged: bool


class MetricsDoc(Strict):
    customers: Index
    churn_rate: float
    auc: float | None
    pr_auc: float | None
    brier: float
    top_decile_lift: float | None
    top_decile_capture: float | None


class CutoffsDoc(Strict):
    train: Annotated[list[DateText], Field(max_length=100)]
    validation: DateText
    final: Annotated[list[DateText], Field(max_length=100)]


class MetadataDoc(Strict):
    versions: Annotated[dict[Text, Text], Field(max_length=50)]
    features: Annotated[list[Text], Field(max_length=MAX_FEATURES)]
    horizon: Text
    cutoffs: CutoffsDoc
    label: Text
    seed: int
    calibration: Literal["sigmoid", "isotonic"]
    tiers: Annotated[list[Text], Field(max_length=100)]
    p_alive_model: SavedBGNBD | None
    metrics: Annotated[dict[Text, MetricsDoc], Field(max_length=20)]
    hgb_params: Annotated[dict[Text, bool | int | float | None], Field(max_length=50)]
    # features the training data could not provide (e.g. spend without amounts), with the reason
    features_left_out: Annotated[dict[Text, Text], Field(max_length=MAX_FEATURES)] = {}
    # which candidate was saved and why (files written before the choice existed hold trees)
    saved_model: Literal["gradient_boosting", "logistic_regression"] | None = None
    selection_metric: Literal["auc"] | None = None
    selection: LongText | None = None


class BodyDoc(Strict):
    metadata: MetadataDoc
    model: TreesDoc


class LogisticBodyDoc(Strict):
    metadata: MetadataDoc
    model: LogisticDoc


# the body's schema by model kind (chosen before validating, so errors point at body.model.<field>)
BODIES: dict[str, type[BodyDoc] | type[LogisticBodyDoc]] = {"gradient_boosted_trees": BodyDoc, "logistic_regression": LogisticBodyDoc}


# ----------------------------------------------------------------------------------------- model
@dataclass
class ChurnModel:
    """A fitted churn model on `features`: gradient-boosted trees (`baseline`, `trees`) or a logistic
    regression (`linear`; then `trees` is empty), then a calibration map.

    `calibration` is {"method": "sigmoid", "a": .., "b": ..} (p = 1 / (1 + exp(-(a * raw + b))))
    or {"method": "isotonic", "x": [...], "y": [...]} (piecewise-linear on the uncalibrated probability).
    """

    features: list[str]
    baseline: float
    trees: list[Tree]
    calibration: CalibrationMap
    metadata: dict[str, Any] = field(default_factory=dict)
    file: str | None = field(default=None, compare=False)  # the file it was loaded from, named in errors
    linear: Linear | None = None

    @property
    def kind(self) -> Literal["gradient_boosted_trees", "logistic_regression"]:
        """The model file's `kind`."""
        return "logistic_regression" if self.linear is not None else "gradient_boosted_trees"

    def matrix(self, frame: pl.DataFrame) -> FloatArray:
        """The feature matrix of `frame` in the model's column order (nulls become NaN).

        Raises InputError naming the model file and the features the data cannot provide.
        """
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise InputError(f"the model needs feature(s) the data does not provide: {', '.join(missing)}",
                             file=self.file, hint=missing_hint(missing))
        return feature_matrix(frame, self.features)

    def raw(self, X: FloatArray) -> FloatArray:
        """Uncalibrated log-odds of churn (the boosted trees' sum, or the logistic regression's linear predictor)."""
        if self.linear is not None:
            return self.linear.raw(X)
        blocks = [X[i:i + 131_072] for i in range(0, X.shape[0], 131_072)] or [X]
        with ThreadPoolExecutor(max_workers=2) as pool:
            parts = list(pool.map(lambda b: raw_scores(b, self.baseline, self.trees, block=16_384), blocks))
        return np.concatenate(parts) if parts else np.empty(0)

    def predict_proba(self, X: FloatArray) -> FloatArray:
        """Calibrated churn probability per row of `X`."""
        return apply_calibration(self.raw(X), self.calibration)

    # -- file
    def to_dict(self) -> dict[str, Any]:
        """The model file's document (see the module docstring)."""
        if self.linear is not None:
            model = {"kind": self.kind, "features": self.features, **self.linear.to_dict(), "calibration": self.calibration}
        else:
            model = {"kind": self.kind, "features": self.features, "baseline": self.baseline,
                     "trees": [t.to_dict() for t in self.trees], "calibration": self.calibration}
        body = {"metadata": self.metadata, "model": model}
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "sha256": digest(body), "body": body}

    def save(self, path: Path) -> None:
        """Write the model file atomically (JSON)."""
        from fidelcli.io.write import atomic_path

        text = json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)
        with atomic_path(Path(path)) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> ChurnModel:
        """Read a model file written by `save`; it is parsed as JSON and checked, never executed.

        Raises
        ------
        ModelFileError
            Missing, unreadable, larger than 50 MiB, a pickle, not UTF-8 JSON, nested too deep,
            holding NaN, Infinity or an overlong integer, a CLV model file, written by an
            incompatible version, changed since it was written (SHA-256 mismatch), or with content
            outside the schema (see `from_dict`).
        """
        doc = read_json(path, what=WHAT, hint=TRAIN_HINT, error=ModelFileError)
        return cls.from_dict(doc, file=str(path))

    @classmethod
    def from_dict(cls, doc: object, *, file: str | None = None) -> ChurnModel:
        """Check and rebuild a model from its parsed JSON (see `load`).

        Raises
        ------
        ModelFileError
            Not a churn model document, another format version, a SHA-256 mismatch, or content
            outside the schema: an unknown or missing field, a non-finite number, a list longer than
            its bound, a tree index out of range, an invalid P(alive) model.
        """
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            if isinstance(doc, dict) and "purchase_model" in doc:
                raise ModelFileError("a CLV model file (written by fidelcli clv --save-model), not a churn model", file=file,
                                     hint="give the file written by fidelcli churn train --model-out")
            raise ModelFileError(f"not a {WHAT}", file=file, hint=TRAIN_HINT)
        version = doc.get("format_version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise ModelFileError(f"model file format {version!r} is not supported (this fidelcli reads format {FORMAT_VERSION})",
                                 file=file, hint=VERSION_HINT)
        missing, unknown = [k for k in TOP_LEVEL if k not in doc], [k for k in doc if k not in TOP_LEVEL]
        if missing or unknown:
            what = f"missing field(s) {', '.join(missing)}" if missing else f"unknown field(s) {', '.join(map(repr, unknown))}"
            raise ModelFileError(f"{what} at the top level of the {WHAT}", file=file, hint=RETRAIN_HINT)
        body = doc["body"]
        if not isinstance(body, dict) or doc["sha256"] != digest(body):
            raise ModelFileError("model file was modified after it was written (SHA-256 mismatch)", file=file,
                                 hint="use the file written by churn train, or train again")
        model = body.get("model")
        kind = model.get("kind") if isinstance(model, dict) else None
        if isinstance(kind, str) and kind not in BODIES:
            raise ModelFileError(f"content outside the {WHAT}'s schema at body.model.kind: unknown model kind {kind[:50]!r} "
                                 f"(this fidelcli reads {' and '.join(BODIES)})", file=file, hint=RETRAIN_HINT)
        try:
            checked = BODIES.get(kind, BodyDoc).model_validate(body)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise ModelFileError(schema_problem(exc, WHAT, root="body"), file=file, hint=RETRAIN_HINT) from None
        m = checked.model
        if checked.metadata.p_alive_model is not None:
            from fidelcli.models.bgnbd import BGNBD

            try:
                BGNBD.from_dict(checked.metadata.p_alive_model.model_dump())
            except ModelFileError as exc:
                raise ModelFileError(f"invalid P(alive) model in the {WHAT}: {exc.message}", file=file, hint=RETRAIN_HINT) from None
        if isinstance(m, LogisticDoc):
            linear = Linear.from_dict(m.model_dump())
            return cls(features=list(m.features), baseline=0.0, trees=[], calibration=calibration_map(m.calibration),
                       metadata=body["metadata"], file=file, linear=linear)
        try:
            trees = [Tree.from_dict(t.model_dump(), len(m.features)) for t in m.trees]
        except InputError as exc:  # the schema checks the same: kept as a second line of defence
            raise ModelFileError(exc.message, file=file, hint=RETRAIN_HINT) from None
        return cls(features=list(m.features), baseline=m.baseline, trees=trees, calibration=calibration_map(m.calibration),
                   metadata=body["metadata"], file=file)


def digest(body: dict[str, Any]) -> str:
    """SHA-256 of the body's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def calibration_map(doc: SigmoidDoc | IsotonicDoc) -> CalibrationMap:
    """The calibration of a checked model file (the fields of `model_dump()`, typed)."""
    if isinstance(doc, SigmoidDoc):
        return {"method": "sigmoid", "a": doc.a, "b": doc.b}
    return {"method": "isotonic", "x": list(doc.x), "y": list(doc.y)}


def apply_calibration(raw: FloatArray, calibration: CalibrationMap) -> FloatArray:
    """Calibrated probabilities from raw log-odds."""
    calibrated: FloatArray
    if calibration["method"] == "sigmoid":
        z = calibration["a"] * raw + calibration["b"]
        calibrated = 1.0 / (1.0 + np.exp(-z))
    else:
        p = 1.0 / (1.0 + np.exp(-raw))
        calibrated = np.interp(p, np.asarray(calibration["x"]), np.asarray(calibration["y"]))
    return calibrated


_HINTS = {
    "last_": "pass the same --surveys input as in training",
    "campaigns_": "pass the same --campaigns input as in training",
    "open_rate": "pass the same --campaigns input as in training",
    "loyalty_member": "pass the same -c/--customers input as in training",
    "tier_": "pass the same -c/--customers input as in training",
    "n_categories": "the transactions need the category column the model was trained with",
    "n_channels": "the transactions need the channel column the model was trained with",
    "returns_share": "the transactions need amounts, as in training",
    "subscri": "pass the same --subscriptions input as in training",
}


def missing_hint(missing: list[str]) -> str:
    """What to pass so the data provides the `missing` features."""
    for f in missing:
        for prefix, hint in _HINTS.items():
            if f.startswith(prefix):
                return hint
    return "score with the same inputs as in training, or train a model on these inputs"


def feature_matrix(frame: pl.DataFrame, features: list[str]) -> FloatArray:
    """The float matrix of `features` (columns of `frame`, in that order; nulls become NaN)."""
    return frame.select(pl.col(f).cast(pl.Float64) for f in features).to_numpy(order="c").astype(np.float64, copy=False)
