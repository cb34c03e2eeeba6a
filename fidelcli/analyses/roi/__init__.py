"""What loyalty actions pay back: campaign A/B tests and uplift (`abtest`, `uplift`), retention
scenarios (`scenario`) and the loyalty program's ROI (`program`)."""

from __future__ import annotations

from fidelcli.analyses.roi.abtest import AbtestResult, abtest
from fidelcli.analyses.roi.options import AbtestOptions
from fidelcli.analyses.roi.recipients import abtest_analysis, recipient_history
from fidelcli.analyses.roi.scenario import ScenarioInputs, ScenarioResult, clv_geometric, inputs_from_model, retention_scenario
from fidelcli.analyses.roi.uplift import UpliftResult, qini_coefficient, qini_curve, uplift_model

__all__ = [
    "AbtestOptions", "AbtestResult", "ScenarioInputs", "ScenarioResult", "UpliftResult", "abtest", "abtest_analysis",
    "clv_geometric", "inputs_from_model", "qini_coefficient", "qini_curve", "recipient_history", "retention_scenario",
    "uplift_model",
]
