"""`fidelcli.toml` as Pydantic models. Flag over config over default, merged in the CLI.

The defaults live here, once: a field's default is what a command uses when neither its flag nor
the file gives a value, and the command's --help shows it. An unknown key is an error that names
the closest valid key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from fidelcli.clean import ReturnsPolicy
from fidelcli.engine import EngineName
from fidelcli.engine.periods import TimeUnit
from fidelcli.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_margin(value: object) -> float | Literal["column"]:
    """A margin rate as a number (0.3) or text (`0.3`, `30%`), or the word `column` (the
    transactions' margin or cost column).

    Raises ValueError when it is neither, or a rate outside [0, 1].
    """
    if isinstance(value, str):
        t = value.strip()
        if t.lower() == "column":
            return "column"
        try:
            rate = float(t[:-1]) / 100 if t.endswith("%") else float(t)
        except ValueError:
            raise ValueError(f"{value!r} is neither a rate nor 'column'") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        rate = float(value)
    else:
        raise ValueError(f"{value!r} is neither a rate nor 'column'")
    if not 0 <= rate <= 1:
        raise ValueError(f"{value!r} must be a rate between 0 and 1")
    return rate


# A margin rate in [0, 1] (0.3 or "30%"), or "column": the transactions' margin or cost column.
Margin = Annotated[float | Literal["column"], BeforeValidator(parse_margin)]


class Inputs(Section):
    """Where each input kind is read from (file, glob, directory or database URI)."""

    transactions: str | None = None
    customers: str | None = None
    surveys: str | None = None
    campaigns: str | None = None
    subscriptions: str | None = None
    touchpoints: str | None = None
    spend: str | None = None


class Columns(Section):
    """Explicit column maps per input kind: `[columns.transactions] customer_id = "N° client"`."""

    transactions: dict[str, str] = Field(default_factory=dict)
    customers: dict[str, str] = Field(default_factory=dict)
    surveys: dict[str, str] = Field(default_factory=dict)
    campaigns: dict[str, str] = Field(default_factory=dict)
    subscriptions: dict[str, str] = Field(default_factory=dict)
    touchpoints: dict[str, str] = Field(default_factory=dict)
    spend: dict[str, str] = Field(default_factory=dict)


class Analysis(Section):
    """Settings shared by every analysis."""

    currency: str = Field(default="EUR", description="currency of money on the terminal and in Markdown")
    lang: Literal["en", "fr"] = "en"
    margin: float | None = Field(default=None, ge=0, le=1, description="gross margin rate applied to revenue (kpi profit, clv)")
    returns: ReturnsPolicy = "net"
    date_format: str | None = None
    as_of: dt.date | None = None


class Engine(Section):
    """Where the transaction reductions run (`--engine` wins); later engines add their settings here."""

    name: EngineName = Field(default="polars", description="engine of the transaction reductions (fidelcli.engine.ENGINES)")


class RfmThresholds(Section):
    """Fixed business thresholds: ascending cut points; `n` cut points give `n + 1` scores."""

    recency: list[float] = Field(default_factory=list)
    frequency: list[float] = Field(default_factory=list)
    monetary: list[float] = Field(default_factory=list)


class Segment(Section):
    name: str
    label_fr: str | None = None
    action: str = ""
    action_fr: str | None = None
    r: list[int]
    f: list[int]


class Rfm(Section):
    bins: int = Field(default=5, ge=2, le=10)
    monetary: Literal["total", "average"] = "total"
    thresholds: RfmThresholds | None = None
    segments: list[Segment] | None = None


class Kpi(Section):
    period: Literal["day", "week", "month", "quarter", "year"] = "month"


class Clv(Section):
    """Defaults of `clv` (flags win)."""

    time_unit: TimeUnit = "week"
    horizon: str = "12m"
    discount_rate: float = Field(default=0.1, gt=-1)
    # None: `[analysis] margin`, else 1 (the CLV is revenue).
    margin: Margin | None = None
    lifetime: float | None = Field(default=None, gt=0)


class Churn(Section):
    """Defaults of `churn train` / `churn score`."""

    horizon: str = "90d"
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    seed: int = 0
    # None: the library's bands (fidelcli.churn.DEFAULT_BANDS, 0.3 and 0.6).
    bands: list[float] | dict[str, float] | None = None


class Config(Section):
    """The whole `fidelcli.toml`. Later commands add their sections here."""

    inputs: Inputs = Field(default_factory=Inputs)
    columns: Columns = Field(default_factory=Columns)
    analysis: Analysis = Field(default_factory=Analysis)
    engine: Engine = Field(default_factory=Engine)
    rfm: Rfm = Field(default_factory=Rfm)
    kpi: Kpi = Field(default_factory=Kpi)
    clv: Clv = Field(default_factory=Clv)
    churn: Churn = Field(default_factory=Churn)


def default(section: type[Section], name: str) -> Any:
    """The default of a config field, for a command's --help (`default(Clv, "horizon")` -> "12m")."""
    return section.model_fields[name].default


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return model
        ann = model.model_fields[part].annotation
        candidates = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = candidates[0] if candidates else None
    return model


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; `None` or a missing default file gives the defaults.

    Raises ConfigError naming the key and the closest valid one.
    """
    if path is None:
        default = Path("fidelcli.toml")
        if not default.exists():
            return Config()
        path = default
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            valid = list(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f"did you mean {'.'.join([*map(str, loc[:-1]), close[0]])!r}?" if close else f"valid keys: {', '.join(valid)}"
            raise ConfigError(f"unknown key {key!r}", file=str(path), hint=hint) from None
        raise ConfigError(f"{key}: {err['msg']}", file=str(path)) from None
