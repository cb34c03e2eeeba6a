"""Score customers with a saved churn model: probability, risk band and drivers in plain words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from fidelcli.churn.drivers import churn_drivers
from fidelcli.churn.features import ChurnInputs, churn_features
from fidelcli.churn.modelfile import ChurnModel, spend_features
from fidelcli.clean import Transactions
from fidelcli.engine import Engine
from fidelcli.errors import ConfigError, InputError
from fidelcli.result import Figure, JsonResult

DEFAULT_BANDS: dict[str, float] = {"low": 0.0, "medium": 0.3, "high": 0.6}
SCORE_BLOCK = 250_000  # customers scored at once (`score_churn`)


def check_bands(bands: dict[str, float] | list[float]) -> dict[str, float]:
    """Risk bands as {name: lowest probability}, sorted; a list of cut points names them low/medium/high.

    `[0.3, 0.6]` -> low [0, 0.3), medium [0.3, 0.6), high [0.6, 1].

    Raises
    ------
    ConfigError
        Cut points outside (0, 1), repeated, or a list of more than two cut points.
    """
    if isinstance(bands, list | tuple):
        cuts = [float(b) for b in bands]
        names = {1: ["low", "high"], 2: ["low", "medium", "high"], 3: ["low", "medium", "high", "very high"]}.get(len(cuts))
        if names is None:
            raise ConfigError(f"risk bands need 1 to 3 cut points, found {len(cuts)}", hint="e.g. [churn] bands = [0.3, 0.6]")
        bands = dict(zip(names, [0.0, *cuts], strict=True))
    try:
        out = dict(sorted(((str(k), float(v)) for k, v in bands.items()), key=lambda kv: kv[1]))
    except (TypeError, ValueError, AttributeError):
        raise ConfigError("risk bands must map a name to its lowest probability", hint="e.g. [churn] bands = {low = 0, medium = 0.3, high = 0.6}") from None
    lows = list(out.values())
    if not lows or lows[0] != 0.0 or any(not (0 < v < 1) for v in lows[1:]) or len(set(lows)) != len(lows):
        raise ConfigError(f"risk bands must start at 0 and rise strictly below 1, found {lows}", hint="e.g. [churn] bands = [0.3, 0.6]")
    return out


def high_risk(bands: dict[str, float]) -> float:
    """Lowest probability of the high-risk bands: the band named "high" and those above it, else the top band."""
    return bands.get("high", list(bands.values())[-1])


def _band_expr(prob: pl.Expr, bands: dict[str, float]) -> pl.Expr:
    """Name of the highest band whose lowest probability the value reaches."""
    names = list(bands)
    expr: pl.Expr = pl.lit(names[0])
    for name in names[1:]:  # the highest band is the outermost test
        expr = pl.when(prob >= bands[name]).then(pl.lit(name)).otherwise(expr)
    return expr


@dataclass
class ScoreResult(JsonResult):
    """Scored customers, their summary and the warnings of the feature step: the result of `churn score`.

    frame: one row per customer (customer_id, churn_probability, risk_band, driver_1..3), sorted by id.
    cutoff: last day of data used (the day before the scoring date).
    bands: the risk bands used, {name: lowest probability}, lowest first.
    summary: churn risk per RFM segment, else per risk band (`churn_summary`); None from `score_churn`
        alone, filled in by `churn_score_analysis`.
    """

    frame: pl.DataFrame
    cutoff: dt.date
    warnings: list[str] = field(default_factory=list)
    bands: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_BANDS))
    summary: pl.DataFrame | None = None

    @property
    def as_of(self) -> dt.date:
        """The scoring date (`--as-of`): the day after the cutoff."""
        return self.cutoff + dt.timedelta(days=1)

    def tables(self) -> dict[str, pl.DataFrame]:
        """scores (one row per customer), then summary (per segment or risk band) when computed."""
        return {"scores": self.frame} | ({"summary": self.summary} if self.summary is not None else {})

    def headline(self) -> dict[str, Figure]:
        high = self.frame.filter(pl.col("churn_probability") >= high_risk(self.bands)).height
        return {"as_of": self.as_of.isoformat(), "customers": self.frame.height, "high_risk_customers": high}


def score_churn(
    tx: Transactions,
    model: ChurnModel,
    *,
    engine: Engine,
    cutoff: dt.date,
    inputs: ChurnInputs | None = None,
    bands: dict[str, float] | None = None,
) -> ScoreResult:
    """Churn probability of every customer with a purchase on or before `cutoff`.

    Features use data dated on or before `cutoff` only; P(alive) uses the BG/NBD parameters saved in
    the model (no refit), so the same data and model give the same scores.

    Parameters
    ----------
    tx
        Cleaned transactions.
    model
        A loaded churn model.
    engine
        The engine of the transaction reductions (the features).
    cutoff
        Last day of data used (the day before `--as-of`).
    inputs
        The optional inputs the model was trained with.
    bands
        Risk bands {name: lowest probability} (`check_bands`); default low < 0.3 <= medium < 0.6 <= high.

    Returns
    -------
    ScoreResult whose frame has customer_id, churn_probability, risk_band, driver_1, driver_2,
    driver_3; sorted by customer_id. Every customer in a high-risk band (`high_risk`) has a driver_1.

    Raises
    ------
    InputError
        No customer has a purchase on or before `cutoff`, or the model uses spend features and the
        transactions have no amounts (both naming the transactions file), or the data cannot provide a feature the model uses (naming the model file).
    """
    bands = check_bands(bands or DEFAULT_BANDS)
    file = tx.file
    meta = model.metadata
    needs_p_alive = "p_alive" in model.features
    fs = churn_features(tx, cutoff, engine=engine, inputs=inputs, tiers=meta.get("tiers") or [],
                        p_alive=needs_p_alive, p_alive_params=meta.get("p_alive_model") if needs_p_alive else None)
    frame = fs.frame
    if frame.height == 0:
        raise InputError(f"no customer has a purchase on or before {cutoff}: nobody to score", file=file,
                         hint="use a later --as-of")
    spend = spend_features(model.features)
    if spend and not engine.has_amounts(tx):
        # the features would all be 0: the scores would silently differ from what the model learnt
        trained = f"the model {model.file}" if model.file else "the model"
        raise InputError(f"the transactions have no amounts (no amount column, or every amount is 0), but {trained} "
                         f"uses spend features: {', '.join(spend)}", file=file,
                         hint="score transactions with amounts, as in training, or train a model on these transactions "
                              "(it then leaves the spend features out)")
    # Scored by blocks of rows: the feature matrix and the drivers' sentences (one per sign and
    # customer) of a block only, so their memory does not grow with the customers; every step is
    # row by row, so the blocks give the same scores as one piece.
    parts = [_score_block(frame.slice(start, SCORE_BLOCK), model, bands) for start in range(0, frame.height, SCORE_BLOCK)]
    out = pl.concat(parts) if len(parts) > 1 else parts[0]
    return ScoreResult(frame=out, cutoff=cutoff, warnings=fs.warnings, bands=bands)


def _score_block(frame: pl.DataFrame, model: ChurnModel, bands: dict[str, float]) -> pl.DataFrame:
    """customer_id, churn_probability, risk_band, driver_1..3 of the rows of `frame`."""
    prob = model.predict_proba(model.matrix(frame))
    scored = frame.with_columns(churn_probability=pl.Series(prob, dtype=pl.Float64)).with_columns(
        risk_band=_band_expr(pl.col("churn_probability"), bands)
    )
    required = scored["churn_probability"] >= high_risk(bands)
    return scored.lazy().select("customer_id", "churn_probability", "risk_band").join(
        churn_drivers(scored, required=required), on="customer_id", how="left", maintain_order="left"
    ).collect()


def band_summary(scored: pl.DataFrame, *, by: str = "risk_band") -> pl.DataFrame:
    """Customers, share and mean churn probability per risk band (or per `by` column)."""
    n = scored.height
    return (
        scored.group_by(by)
        .agg(customers=pl.len(), mean_churn_probability=pl.col("churn_probability").mean())
        .with_columns(share=pl.col("customers") / n)
        .select(by, "customers", "share", "mean_churn_probability")
        .sort("mean_churn_probability", descending=True)
    )


def churn_summary(
    scored: pl.DataFrame,
    tx: Transactions,
    *,
    engine: Engine,
    as_of: dt.date,
    bins: int = 5,
    lang: str = "en",
    bands: list[str] | None = None,
) -> pl.DataFrame:
    """Churn risk per RFM segment: customers, share, mean churn probability, customers per risk band.

    Falls back to `band_summary` when the RFM analysis is unavailable or assigns no segment.

    Parameters
    ----------
    scored
        `score_churn(...).frame`.
    tx
        The cleaned transactions the customers were scored on.
    engine
        The engine of their per-customer summary (the RFM segments).
    as_of
        Analysis date of the RFM scores (the scoring `--as-of`).
    bins, lang
        RFM settings (segments exist for the default 5 bins).
    bands
        Risk band names in order (default: those present, by probability).

    Returns
    -------
    DataFrame: segment, customers, share, mean_churn_probability, then one count column per risk band;
    sorted by mean churn probability, highest first.
    """
    try:
        from fidelcli.analyses.rfm import rfm
    except ImportError:
        return band_summary(scored)
    result = rfm(engine.customer_summary(tx), as_of=as_of, bins=bins, lang=lang)  # type: ignore[arg-type]
    seg = result.customers.select("customer_id", "segment")
    if seg.height == 0 or seg["segment"].null_count() == seg.height:
        return band_summary(scored)
    joined = scored.join(seg, on="customer_id", how="left")
    if bands is None:
        bands = joined.group_by("risk_band").agg(low=pl.col("churn_probability").min()).drop_nulls().sort("low")["risk_band"].to_list()
    return (
        joined.group_by("segment")
        .agg(pl.len().alias("customers"), pl.col("churn_probability").mean().alias("mean_churn_probability"),
             *[(pl.col("risk_band") == b).sum().alias(b) for b in bands])
        .with_columns(share=pl.col("customers") / joined.height)
        .select("segment", "customers", "share", "mean_churn_probability", *bands)
        .sort(["mean_churn_probability", "segment"], descending=[True, False])
    )


def churn_score_analysis(
    tx: Transactions,
    model: ChurnModel,
    *,
    engine: Engine,
    inputs: ChurnInputs | None = None,
    bands: dict[str, float] | list[float] | None = None,
    bins: int = 5,
    lang: str = "en",
) -> ScoreResult:
    """Churn risk as of the transactions' analysis date: `score_churn` with the data up to the day
    before `tx.as_of`, then `churn_summary` of the scores. The one library call behind
    `fidelcli churn score`.

    Parameters
    ----------
    tx, model, engine, inputs
        As for `score_churn`.
    bands
        Risk bands, {name: lowest probability} or cut points (`check_bands`); default `DEFAULT_BANDS`.
    bins, lang
        RFM settings of the summary's segments.

    Returns
    -------
    ScoreResult with its `summary` (churn risk per RFM segment, else per risk band).
    """
    checked = check_bands(bands or DEFAULT_BANDS)
    result = score_churn(tx, model, engine=engine, cutoff=tx.as_of - dt.timedelta(days=1), inputs=inputs, bands=checked)
    # What the engine kept for the features (the collected purchase occasions: gigabytes at 100M
    # lines) is of no use to the summary: free it before the summary's own reduction.
    tx.cache.clear()
    result.summary = churn_summary(result.frame, tx, engine=engine, as_of=tx.as_of, bins=bins, lang=lang, bands=list(checked))
    return result
