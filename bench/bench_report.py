"""`fidelcli report` end to end: wall time, peak memory, report.html size and its first contentful paint in
headless Chromium, on seeded samples (`fidelcli sample --seed 42`, every input kind the report reads).
Prints figures; asserts nothing.

Each size runs as alternating pairs: the sections of the first report (rfm, kpi, cohort, clv, churn,
subscription) then every section, `--repeat` times, so that on a shared machine the ratio of the two is
the cost of the later sections (loyalty, roi, target, recommend, journey) whatever the load.

Usage: python bench/bench_report.py [CUSTOMERS ...] [--data DIR] [--repeat N] [--skip SECTION ...] [--max-rss-gb G] [--single]
  (default 5000; e.g. 5000 1000000). --data reuses a sample directory (Parquet files of `fidelcli sample`)
  instead of generating one; --skip leaves sections out of the full run (recommend_customers on 1,000,000
  customers needs about 12 GB); a run whose resident memory passes --max-rss-gb (default 4) is stopped.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST = ["rfm", "kpi", "cohort", "clv", "churn_model", "churn", "subscription"]
KINDS = ["transactions", "customers", "surveys", "campaigns", "subscriptions", "touchpoints", "spend"]


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


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and its children (Linux /proc)."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        pids += [int(c) for c in children]
    return total


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_report(root: Path, config: str, out: str, *, max_rss: float
               ) -> tuple[float, float, float, str, subprocess.CompletedProcess[str] | None]:
    """(wall seconds, CPU seconds, peak RSS in GiB, stdout, None when stopped for memory). CPU seconds (user +
    system of the report process) depend less on the other jobs of a shared machine than wall time."""
    cpu = _cpu()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "fidelcli", "-q", "--config", config, "report", "--out", out], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        if peak > max_rss * 2**30:
            proc.kill()
            proc.wait()
            return time.perf_counter() - start, _cpu() - cpu, peak / 2**30, "", None
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return time.perf_counter() - start, _cpu() - cpu, peak / 2**30, stdout, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[5000])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[])
    parser.add_argument("--max-rss-gb", type=float, default=4.0)
    parser.add_argument("--single", action="store_true", help="only the run of every section (no pair)")
    args = parser.parse_args()
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            data = args.data
            if data is None:
                data = root / "data"
                subprocess.run([sys.executable, "-m", "fidelcli", "-q", "sample", "-o", str(data), "--customers", str(n), "--seed", "42",
                                "--format", "parquet"], check=True)
            inputs = "".join(f'{k} = "{data / f"{k}.parquet"}"\n' for k in KINDS if (data / f"{k}.parquet").is_file())
            from fidelcli.report.sections import SECTIONS

            every = [s.key for s in SECTIONS if s.key not in args.skip]
            (root / "first.toml").write_text(f"[inputs]\n{inputs}[report]\nsections = {json.dumps(FIRST)}\n", encoding="utf-8")
            (root / "all.toml").write_text(f"[inputs]\n{inputs}[report]\nsections = {json.dumps(every)}\n", encoding="utf-8")
            for i in range(args.repeat):
                walls = {}
                for name in ("all",) if args.single else ("first", "all"):
                    wall, cpu, peak, stdout, done = run_report(root, f"{name}.toml", f"out-{name}-{i}", max_rss=args.max_rss_gb)
                    walls[name] = wall
                    if done is None:
                        print(f"customers={n} sections={name} stopped at {peak:.1f} GiB resident after {wall:.0f}s")
                        continue
                    if done.returncode != 0:
                        print(f"customers={n} sections={name} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
                        continue
                    page = Path(stdout.strip())
                    manifest = json.loads((page.parent / "manifest.json").read_text())
                    slow = sorted(manifest["timings"].items(), key=lambda kv: -kv[1])[:4]
                    fcp = first_contentful_paint(page)
                    print(f"customers={n} sections={name} wall={wall:.1f}s cpu={cpu:.1f}s peak_rss={peak:.2f}GiB report.html={page.stat().st_size / 1e6:.2f}MB "
                          f"fcp={'n/a' if fcp is None else f'{fcp:.0f}ms'} slowest={', '.join(f'{k} {v:.1f}s' for k, v in slow)}")
                if len(walls) == 2:
                    print(f"customers={n} pair {i + 1}: all / first = {walls['all'] / walls['first']:.2f}")


if __name__ == "__main__":
    main()
