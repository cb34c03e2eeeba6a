"""Charts of the CLV models (`fidelcli clv --plots DIR`), drawn on `matplotlib.figure.Figure`
objects and saved to files (Agg canvas: no display needed, so it works in cron and CI). Importing
this module neither imports pyplot nor switches matplotlib's global backend.

- expected_purchases_matrix.png, p_alive_matrix.png: the model's expected purchases over the
  horizon and P(alive) over frequency x recency for a customer observed for the longest T
  (Fader, Hardie & Lee 2005, fig. 5 and 6);
- holdout_tracking.png: cumulative repeat purchases, actual vs expected, week by week;
- holdout_by_frequency.png: mean holdout purchases, actual vs predicted, by calibration frequency.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from fidelcli.engine.periods import TimeUnit
from fidelcli.io.write import atomic_dir
from fidelcli.stats import FloatArray

if TYPE_CHECKING:
    from fidelcli.models.base import PurchasePredictor

GRID = 40
# Fixed metadata: the same inputs give byte-identical PNG files.
_PNG_META = {"Software": None}


def matrices(model: PurchasePredictor, *, max_frequency: int, T: float, horizon_length: float, discrete: bool = False
             ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(frequencies, recencies, expected purchases, P(alive)) on a frequency x recency grid at age T.

    Rows are frequencies 0..max_frequency, columns recencies from 0 to T; cells where a customer
    with x > 0 purchases cannot have recency 0 are still computed (the model allows them).
    """
    freqs = np.arange(0, max_frequency + 1, dtype=float)
    recs = np.round(np.linspace(0.0, T, GRID)) if discrete else np.linspace(0.0, T, GRID)
    fx, rx = np.meshgrid(freqs, recs, indexing="ij")
    rx = np.where(fx == 0, 0.0, rx)  # x = 0 means t_x = 0
    if discrete:
        fx = np.minimum(fx, rx)  # BG/BB: at most one purchase per period
    age = np.full(fx.shape, float(round(T) if discrete else T))
    length = round(horizon_length) if discrete else horizon_length
    ep = np.asarray(model.expected_purchases(length, fx.ravel(), rx.ravel(), age.ravel()), dtype=float).reshape(fx.shape)
    pa = np.asarray(model.p_alive(fx.ravel(), rx.ravel(), age.ravel()), dtype=float).reshape(fx.shape)
    return freqs, recs, ep, pa


def _heatmap(values: FloatArray, freqs: FloatArray, recs: FloatArray, *, title: str, unit: TimeUnit, label: str) -> Figure:
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    mesh = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis",
                     extent=(float(recs[0]), float(recs[-1]), float(freqs[0]) - 0.5, float(freqs[-1]) + 0.5))
    fig.colorbar(mesh, ax=ax, label=label)
    ax.set_xlabel(f"recency (time of last purchase, {unit}s)")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def tracking_figure(tracking: pl.DataFrame, *, model_name: str) -> Figure:
    """Cumulative repeat purchases per week, actual vs expected; the calibration end dashed."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.plot(tracking["week"].to_numpy(), tracking["actual"].to_numpy(), label="actual", color="black")
    ax.plot(tracking["week"].to_numpy(), tracking["expected"].to_numpy(), label=f"{model_name} expected", color="tab:blue", linestyle="--")
    hold = tracking.filter(pl.col("holdout"))
    if hold.height:
        ax.axvline(float(hold["week"][0]) - 0.5, color="grey", linestyle=":", label="calibration end")
    ax.set_xlabel("week")
    ax.set_ylabel("cumulative repeat purchases")
    ax.set_title("Holdout tracking")
    ax.legend()
    fig.tight_layout()
    return fig


def by_frequency_figure(by_frequency: pl.DataFrame, *, model_name: str) -> Figure:
    """Mean holdout purchases by calibration frequency, actual vs predicted."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    pos = np.arange(by_frequency.height)
    ax.bar(pos - 0.2, by_frequency["actual"].to_numpy(), width=0.4, label="actual", color="grey")
    ax.bar(pos + 0.2, by_frequency["predicted"].to_numpy(), width=0.4, label=f"{model_name} predicted", color="tab:blue")
    ax.set_xticks(pos, by_frequency["frequency"].to_list())
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("mean purchases in holdout")
    ax.set_title("Predicted vs actual by frequency")
    ax.legend()
    fig.tight_layout()
    return fig


def write_plots(
    directory: Path,
    model: PurchasePredictor,
    *,
    max_frequency: int,
    T: float,
    horizon_length: float,
    time_unit: TimeUnit,
    horizon_label: str,
    discrete: bool = False,
    tracking: pl.DataFrame | None = None,
    by_frequency: pl.DataFrame | None = None,
) -> list[Path]:
    """Write the charts as PNG files into `directory` (replaced as a whole, atomically).

    Returns
    -------
    The paths written, in `directory`.
    """
    figures: dict[str, Figure] = {}
    freqs, recs, ep, pa = matrices(model, max_frequency=max_frequency, T=T, horizon_length=horizon_length, discrete=discrete)
    figures["expected_purchases_matrix.png"] = _heatmap(
        ep, freqs, recs, title=f"{model.name}: expected purchases over {horizon_label} (T = {T:.1f} {time_unit}s)",
        unit=time_unit, label="expected purchases")
    figures["p_alive_matrix.png"] = _heatmap(
        pa, freqs, recs, title=f"{model.name}: P(alive) (T = {T:.1f} {time_unit}s)", unit=time_unit, label="P(alive)")
    if tracking is not None and tracking.height:
        figures["holdout_tracking.png"] = tracking_figure(tracking, model_name=model.name)
    if by_frequency is not None and by_frequency.height:
        figures["holdout_by_frequency.png"] = by_frequency_figure(by_frequency, model_name=model.name)
    directory = Path(directory)
    with atomic_dir(directory) as tmp:  # Figure objects are not registered with pyplot: nothing to close
        for name, fig in figures.items():
            fig.savefig(tmp / name, dpi=100, metadata=_PNG_META)
    return [directory / name for name in figures]
