"""Benchmark of `fidelcli loyalty` on the 1,000,000-customer sample.

Run:  .venv/bin/python bench/bench_loyalty.py [--data DIR] [--customers 1000000]

The sample is `fidelcli sample --customers N --format parquet` (about 10 order lines per customer),
generated once under bench/out/sample_<N>/ unless --data names an existing one (e.g.
/tmp/fb_rfm/sample_1000000). The whole command runs as a process, exactly as a user runs it: the
default `[loyalty]` rules plus a birthday and a referral bonus, a category multiplier and a paid
tier (so every rule is exercised), the tier migration matrix over the last year, the per-member table
written to Parquet (-o members.parquet). The script prints the wall time, CPU time and peak resident memory (from the
child's rusage) and the program's headline KPIs. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _shell import shell_env  # bench/_shell.py

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
FIDELCLI = ROOT.parent / ".venv" / "bin" / "fidelcli"

RULES = """\
[loyalty]
expiry_months = 24
[loyalty.category_multipliers]
"Beauté" = 2
[[loyalty.bonuses]]
kind = "birthday"
points = 200
[[loyalty.bonuses]]
kind = "referral"
points = 500
[[loyalty.tiers]]
name = "basic"
threshold = 0
[[loyalty.tiers]]
name = "plus"
threshold = 500
multiplier = 1.25
[[loyalty.tiers]]
name = "premium"
threshold = 1500
multiplier = 1.5
# The sample's customers-table tier "gold" (10 % of members) stands for the paying members.
[loyalty.paid_tier]
name = "gold"
fee = 49
multiplier = 2
"""


def sample(customers: int, out: Path) -> Path:
    if (out / "transactions.parquet").exists():
        return out
    start = time.monotonic()
    subprocess.run([str(FIDELCLI), "-q", "sample", "--customers", str(customers), "--format", "parquet", "-o", str(out)],
                   check=True, env=shell_env())
    print(f"generated {customers:,} customers in {time.monotonic() - start:.1f} s -> {out}", flush=True)
    return out


def run(args: list[str], cwd: Path) -> dict[str, float]:
    """Run the command; return its wall time (s), CPU time (s) and peak RSS (MiB)."""
    start = time.monotonic()
    proc = subprocess.Popen([str(FIDELCLI), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=shell_env(), cwd=cwd)
    assert proc.stderr is not None
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"loyalty failed:\n{err}")
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    print(f"loyalty   wall {wall:7.1f} s   CPU {cpu:7.1f} s   peak RSS {peak:7.0f} MiB", flush=True)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mib": round(peak)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=None, help="an existing sample directory (default bench/out/sample_<customers>)")
    args = ap.parse_args()
    data = sample(args.customers, args.data or ROOT / "out" / f"sample_{args.customers}")
    work = ROOT / "out" / "loyalty"
    work.mkdir(parents=True, exist_ok=True)
    (work / "fidelcli.toml").write_text(RULES, encoding="utf-8")
    result_file = work / "members.parquet"
    results: dict[str, object] = {"data": str(data)}
    results["loyalty"] = run([
        "-q", "loyalty", "-t", str(data / "transactions.parquet"), "-c", str(data / "customers.parquet"),
        "--from", "2025-01-01", "-o", str(result_file),
    ], cwd=work)
    import polars as pl

    members = pl.read_parquet(result_file)
    results["members"] = members.height
    results["totals"] = members.select(pl.col("points_earned", "points_redeemed", "points_expired", "balance", "fees").sum()).to_dicts()[0]
    results["tiers"] = dict(members.group_by("tier").len().sort("tier").iter_rows())
    print(json.dumps(results, indent=2))
    (work / "bench_loyalty.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
