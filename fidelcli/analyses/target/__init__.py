"""`target`: retention target lists that honour consent, suppression lists and frequency caps,
with one message per customer and a seeded control group (docs/target.md).

- `scenarios`: who is eligible for each built-in scenario, and why;
- `facts`: the per-customer facts they read (purchase history, segments, scores, consents);
- `rules`: consent per channel, suppression, capping, arbitration, control group;
- `funnel`: the counts kept by each rule;
- `analysis`: `target_lists` and `target_analysis` (the one library call of the command);
- `output`: the CSV files for an emailing tool, contact fields joined there only.
"""

from fidelcli.analyses.target.analysis import TARGET_COLUMNS, TargetResult, resolve_scenarios, target_analysis, target_lists
from fidelcli.analyses.target.facts import Facts, customer_facts
from fidelcli.analyses.target.output import write_target_lists
from fidelcli.analyses.target.rules import capped_customers, control_draw, suppressed_ids
from fidelcli.analyses.target.scenarios import SCENARIOS, ScenarioInputs, ScenarioName

__all__ = [
    "SCENARIOS", "TARGET_COLUMNS", "Facts", "ScenarioInputs", "ScenarioName", "TargetResult", "capped_customers", "control_draw",
    "customer_facts", "resolve_scenarios", "suppressed_ids", "target_analysis", "target_lists", "write_target_lists",
]
