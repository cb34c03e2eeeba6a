"""`fidelcli report` end to end: wall time, report.html size and its first contentful paint in headless
Chromium, on seeded samples (`fidelcli sample`). Prints figures; asserts nothing.

Usage: python bench/bench_report.py [CUSTOMERS ...]   (default 5000; e.g. 5000 1000000)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def first_contentful_paint(page: Path) -> float | None:
    """Milliseconds to the first contentful paint of `page` in Debian's Chromium (None without it)."""
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.goto(page.as_uri(), wait_until="load")
        fcp = tab.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
        browser.close()
    return float(fcp) if fcp is not None else None


def main(sizes: list[int]) -> None:
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            subprocess.run([sys.executable, "-m", "fidelcli", "-q", "sample", "-o", str(root / "data"), "--customers", str(n), "--seed", "42",
                            "--format", "parquet"], check=True)
            (root / "f.toml").write_text('[inputs]\ntransactions = "data/transactions.parquet"\ncustomers = "data/customers.parquet"\n'
                                         'subscriptions = "data/subscriptions.parquet"\n', encoding="utf-8")
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "fidelcli", "-q", "--config", "f.toml", "report", "--out", "out"], cwd=root,
                                  capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                print(f"customers={n} report failed ({done.returncode}): {done.stderr.strip()[-300:]}")
                continue
            page = Path(done.stdout.strip())
            fcp = first_contentful_paint(page)
            print(f"customers={n} wall={wall:.1f}s report.html={page.stat().st_size / 1e6:.2f}MB "
                  f"fcp={'n/a' if fcp is None else f'{fcp:.0f}ms'}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5000])
