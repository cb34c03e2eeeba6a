"""The CLV calibration/holdout report, kept importable here; it lives in `fidelcli.analyses.clv.holdout`."""

from fidelcli.analyses.clv.holdout import (
    FORECAST_TOLERANCE_PCT,
    FREQUENCY_CAP,
    HoldoutReport,
    holdout_errors,
    holdout_predictions,
    holdout_report,
    holdout_rmse,
    weekly_tracking,
)

__all__ = [
    "FORECAST_TOLERANCE_PCT", "FREQUENCY_CAP", "HoldoutReport", "holdout_errors", "holdout_predictions", "holdout_report",
    "holdout_rmse", "weekly_tracking",
]
