"""The report sections of loyalty, roi (program, abtest), target, recommend and journey: their kpis.json keys
are stable, their figures are those of the inputs (counted here with plain Polars), the target lists are
files of the run and the per-customer recommendations a table file, never in the page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from fidelcli.report.kpis import flatten
from fidelcli.report.sections import SECTIONS
from fidelcli.result import JsonResult

NEW = ["loyalty", "roi_program", "roi_abtest", "target", "recommend_rules", "recommend_customers", "journey"]


class _Head(JsonResult):
    def __init__(self, head: dict[str, object]) -> None:
        self.head = head
        self.warnings: list[str] = []

    def tables(self) -> dict[str, pl.DataFrame]:
        return {}

    def headline(self) -> dict[str, object]:  # type: ignore[override]
        return self.head


def test_flatten_keeps_declared_keys_null_when_missing() -> None:
    out = flatten({"roi_abtest": _Head({"control": "control", "variants": 1})}, {"roi_abtest": ("control", "best_lift")})  # type: ignore[dict-item]
    assert out == {"roi_abtest.control": "control", "roi_abtest.variants": 1, "roi_abtest.best_lift": None}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("more")
    done = subprocess.run([sys.executable, "-m", "fidelcli", "sample", "-o", str(root / "data"), "--customers", "300", "--seed", "11"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    inputs = "".join(f'{k} = "data/{k}.csv"\n' for k in ("transactions", "customers", "campaigns", "touchpoints"))
    (root / "f.toml").write_text(f"[inputs]\n{inputs}[report]\nsections = {json.dumps(NEW)}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "fidelcli", "--config", "f.toml", "report", "--out", "out"], cwd=root,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip()).parent


@pytest.mark.slow
def test_sections_figures_and_files(run: Path) -> None:
    data = run.parents[2] / "data"
    kpis = json.loads((run / "kpis.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    assert [k for k in manifest["rows"] if k != "validation"] == NEW
    for s in SECTIONS:
        if s.key in NEW:
            assert [k for k in s.keys if f"{s.key}.{k}" not in kpis] == [], s.key
    customers = pl.read_csv(data / "customers.csv", try_parse_dates=True)
    members = customers.filter(pl.col("loyalty_member"), pl.col("enrollment_date").is_not_null()).height
    assert kpis["loyalty.members"] == members
    campaigns = pl.read_csv(data / "campaigns.csv", try_parse_dates=True)
    latest = campaigns.sort("sent_at", "campaign_id").tail(1)["campaign_id"][0]
    assert kpis["roi_abtest.recipients"] == campaigns.filter(pl.col("campaign_id") == latest).height
    assert kpis["roi_abtest.variants"] == campaigns.filter(pl.col("campaign_id") == latest)["variant"].n_unique()
    assert kpis["journey.touchpoints"] == pl.read_csv(data / "touchpoints.csv").height
    targets = pl.read_csv(run / "targets" / "targets.csv", infer_schema=False)
    control = pl.read_csv(run / "targets" / "control.csv", infer_schema=False)
    assert (kpis["target.targeted"], kpis["target.control"]) == (targets.height, control.height)
    assert targets["customer_id"].is_unique().all()  # one message per customer
    recs = pl.read_parquet(run / "tables" / "recommend_customers.recommendations.parquet")
    assert recs["customer_id"].n_unique() == kpis["recommend_customers.customers"]
    page = (run / "report.html").read_text(encoding="utf-8")
    assert re.search(r"C\d{6}", page) is None  # neither the target lists nor the recommendations are in the page
    for key in NEW:
        assert f'data-section="{key}"' in page
