"""report.html in a real headless browser (Debian's Chromium, driven by Playwright over the DevTools
protocol): no console error, no network request, every section and chart present; a screenshot
and a PDF print are saved. Skips when Chromium or Playwright is missing (`make test-services`
installs Chromium as root)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTIONS = ["kpis", "validation", "rfm", "kpi", "cohort", "clv", "churn_model", "churn", "subscription", "loyalty", "roi_program",
            "roi_abtest", "target", "recommend_rules", "recommend_customers", "journey"]
CHARTS = ["rfm-segments", "kpi-revenue", "kpi-customers", "kpi-retention", "cohort-heatmap", "clv-distribution", "clv-holdout",
          "churn-by-segment", "subscription-survival", "loyalty-tiers", "loyalty-liability", "roi-program-payback", "roi-abtest-rates",
          "target-funnel", "journey-irritants"]
# Charts drawn by fidelcli.report.charts carry a hover value (<title>) on every bar, point or cell; the CLV holdout
# chart is the clv command's own figure (fidelcli.report.plots), without them.
HOVER = [c for c in CHARTS if c != "clv-holdout"]
SCREENSHOT = Path(__file__).parents[2] / "docs" / "report.png"


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (make test-services installs it)")
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-m", "fidelcli", "sample", "-o", str(data), "--customers", "400", "--seed", "3"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (tmp_path / "f.toml").write_text('[inputs]\ntransactions = "data/transactions.csv"\ncustomers = "data/customers.csv"\n'
                                     'subscriptions = "data/subscriptions.csv"\ncampaigns = "data/campaigns.csv"\n'
                                     'touchpoints = "data/touchpoints.csv"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "fidelcli", "--config", "f.toml", "report", "--out", "out"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    page_path = Path(done.stdout.strip())
    run = page_path.parent
    # The target lists are files of the run; the per-customer recommendations a table file, never in the page.
    assert (run / "targets" / "targets.csv").is_file() and (run / "targets" / "control.csv").is_file()
    assert (run / "tables" / "recommend_customers.recommendations.parquet").is_file()
    text = page_path.read_text(encoding="utf-8")
    assert re.search(r"C\d{6}", text) is None  # no customer id of the sample anywhere in the page
    segments = pl.read_parquet(run / "tables" / "rfm.segments.parquet")
    first = segments.row(0, named=True)
    # The hover value of the first bar: its share of customers as the table holds it, in percent.
    expected_tip = f"{first['segment']}, share of customers: {first['share'] * 100:.1f} %"
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width in (1280, 390):  # a laptop, then a phone
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            assert page.eval_on_selector_all("section", "els => els.map(e => e.id)") == SECTIONS
            assert page.eval_on_selector_all("figure[data-chart]", "els => els.map(e => e.dataset.chart)") == CHARTS
            assert page.eval_on_selector_all("figure svg", "els => els.every(e => e.getBoundingClientRect().width > 100)")
            assert page.eval_on_selector_all("nav.toc a", "els => els.length") == len(SECTIONS)
            tips = page.eval_on_selector_all("figure[data-chart]", "els => Object.fromEntries(els.map(e => [e.dataset.chart, "
                                             "[...e.querySelectorAll('.tip > title, .tips title')].map(t => t.textContent)]))")
            assert [c for c in HOVER if not tips[c]] == []
            assert tips["rfm-segments"][0] == expected_tip
            # No horizontal scrolling of the page itself on a phone (wide tables scroll in their box).
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
            if width == 1280 and os.environ.get("FIDELCLI_SCREENSHOT"):  # regenerate docs/report.png: the top of the page
                page.screenshot(path=str(SCREENSHOT))
            if width == 1280:
                page.pdf(path=str(tmp_path / "report.pdf"))
            page.close()
        browser.close()
    assert errors == []
    assert requests == [page_path.as_uri(), page_path.as_uri()]  # the page itself, once per viewport: nothing else
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / "report-390.png").stat().st_size > 10_000
