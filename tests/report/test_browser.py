"""report.html in a real headless browser (Debian's Chromium, driven by Playwright over the DevTools
protocol): no console error, no network request, every section and chart present; a screenshot
and a PDF print are saved. Skips when Chromium or Playwright is missing (`make test-services`
installs Chromium as root)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTIONS = ["kpis", "validation", "rfm", "kpi", "cohort", "clv", "churn_model", "churn", "subscription"]
CHARTS = ["rfm-segments", "kpi-revenue", "kpi-customers", "kpi-retention", "cohort-heatmap", "clv-distribution", "clv-holdout",
          "churn-by-segment", "subscription-survival"]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (make test-services installs it)")
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-m", "fidelcli", "sample", "-o", str(data), "--customers", "400", "--seed", "3"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (tmp_path / "f.toml").write_text('[inputs]\ntransactions = "data/transactions.csv"\ncustomers = "data/customers.csv"\n'
                                     'subscriptions = "data/subscriptions.csv"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "fidelcli", "--config", "f.toml", "report", "--out", "out"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    page_path = Path(done.stdout.strip())
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
            # No horizontal scrolling of the page itself on a phone (wide tables scroll in their box).
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
            if width == 1280:
                page.pdf(path=str(tmp_path / "report.pdf"))
            page.close()
        browser.close()
    assert errors == []
    assert requests == [page_path.as_uri(), page_path.as_uri()]  # the page itself, once per viewport: nothing else
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / "report-390.png").stat().st_size > 10_000
