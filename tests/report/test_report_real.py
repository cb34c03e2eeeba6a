"""`report` on the real UCI Online Retail export with only its path: every section its columns allow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_uci_online_retail_with_only_the_input_path(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "uci_online_retail.csv.gz"
    if not source.exists():
        pytest.skip("uci_online_retail.csv.gz is not in ../shared/data")
    done = subprocess.run([sys.executable, "-m", "fidelcli", "report", "-t", str(source), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    run = Path(done.stdout.strip()).parent
    manifest = json.loads((run / "manifest.json").read_text())
    # No customers nor subscriptions file: every transaction section runs; subscription has no input.
    # Products (StockCode) give the recommend sections; loyalty has no members (no customers table, no [loyalty]).
    assert set(manifest["rows"]) == {"validation", "rfm", "kpi", "cohort", "clv", "churn_model", "churn", "recommend_rules",
                                     "recommend_customers"}
    assert manifest["skipped"] == {"subscription": "no subscriptions input", "loyalty": "not needed", "roi_program": "no customers input",
                                   "roi_abtest": "no campaigns input", "target": "no customers input", "journey": "no touchpoints input"}
    kpis = json.loads((run / "kpis.json").read_text())
    assert kpis["rfm.customers"] == 4339  # 4,372 ids in the export; those with a purchase occasion, as `fidelcli rfm` counts them
    page = (run / "report.html").read_text(encoding="utf-8")
    for section in ("rfm", "kpi", "cohort", "clv", "churn_model", "churn", "recommend_rules", "recommend_customers"):
        assert f'data-section="{section}"' in page
