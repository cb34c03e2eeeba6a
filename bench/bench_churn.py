"""Benchmark of `fidelcli churn train` and `fidelcli churn score` on 1,000,000 customers.

Run:  .venv/bin/python bench/bench_churn.py [--customers 1000000] [--data DIR] [--keep]

The data comes from `fidelcli.sample.generate` (seeded, Parquet, about ten order lines per
customer over three years) and is written once under bench/out/churn_<customers>/ (reused when it
is already there). Both commands then run as whole processes, exactly as a user runs them, and the
script prints each one's wall time and peak resident memory (from the child's rusage). Targets on
the 2-core machine: score under 30 s, train under 5 minutes. Timings are printed, never asserted.
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


def data(customers: int, out: Path) -> Path:
    """The sample's transactions for `customers` customers (generated once)."""
    tx = out / "transactions.parquet"
    if tx.exists():
        return tx
    from fidelcli.sample import generate

    start = time.monotonic()
    generate(out, customers=customers, seed=42, formats=("parquet",))
    print(f"generated {customers:,} customers in {time.monotonic() - start:.1f} s -> {out}", flush=True)
    return tx


def run(name: str, args: list[str]) -> dict[str, float]:
    """Run one command; return its wall time (s) and peak RSS (MiB)."""
    start = time.monotonic()
    proc = subprocess.Popen([str(FIDELCLI), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=shell_env())
    assert proc.stderr is not None
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{err}")
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    print(f"{name:6s} wall {wall:7.1f} s   peak RSS {peak:7.0f} MiB", flush=True)
    return {"wall_s": round(wall, 1), "peak_rss_mib": round(peak)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=None, help="directory of the sample (default bench/out/churn_<customers>)")
    args = ap.parse_args()
    out = args.data or ROOT / "out" / f"churn_{args.customers}"
    tx = data(args.customers, out)
    model, report, scores = out / "churn_model.json", out / "churn_report.json", out / "churn_scores.parquet"
    results = {
        "customers": args.customers,
        "train": run("train", ["-q", "churn", "train", "-t", str(tx), "--horizon", "90d", "--model-out", str(model),
                               "--report", str(report), "--format", "csv"]),
        "score": run("score", ["-q", "churn", "score", "-t", str(tx), "--model", str(model), "-o", str(scores), "--format", "csv"]),
    }
    rep = json.loads(report.read_text())
    results["validation"] = {k: {"auc": round(v["auc"], 4)} for k, v in rep["metrics"].items()}
    results["validation_customers"] = rep["validation_customers"]
    print(json.dumps(results, indent=2))
    (out / "bench_churn.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
