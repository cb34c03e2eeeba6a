"""Benchmark of `fidelcli roi abtest --uplift` on 1,000,000 recipients.

Run:  .venv/bin/python bench/bench_abtest.py [--recipients 1000000] [--folds 5] [--data DIR]

The recipients are generated once, seeded, as a per-user results table in Parquet under
bench/out/abtest_<recipients>/ (reused when it is there): three arms (control 20 %, A 40 %, B 40 %),
five features (recency, frequency, monetary, tenure, channel), a conversion whose lift depends on
recency and channel (so there is someone to find), revenue Gamma-distributed for buyers, a cost per
mailed recipient. The whole command then runs as a process, exactly as a user runs it (rates and
revenue tests, bootstrap, cross-fitted two-model uplift for both arms), and the script prints its
wall time and peak resident memory (from the child's rusage), and the Qini coefficients. Timings
are printed, never asserted.
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


def data(recipients: int, out: Path, seed: int = 7) -> Path:
    """The per-user results table (generated once)."""
    path = out / "recipients.parquet"
    if path.exists():
        return path
    import numpy as np
    import polars as pl

    start = time.monotonic()
    rng = np.random.default_rng(seed)
    n = recipients
    arm = rng.choice(np.array(["control", "A", "B"]), size=n, p=[0.2, 0.4, 0.4])
    recency = rng.exponential(120.0, n).round()
    frequency = rng.poisson(3.0, n) + 1
    monetary = np.round(rng.gamma(2.0, 40.0, n) * frequency, 2)
    tenure = recency + rng.exponential(400.0, n).round()
    channel = rng.choice(np.array(["web", "shop", "app"]), size=n, p=[0.5, 0.3, 0.2])
    base = 0.02 + 0.03 * (recency < 60)
    # A lifts the recent web customers; B everyone a little and app users a lot.
    lift = np.where(arm == "A", 0.04 * ((recency < 90) & (channel == "web")), 0.0)
    lift += np.where(arm == "B", 0.01 + 0.05 * (channel == "app"), 0.0)
    converted = rng.random(n) < base + lift
    revenue = np.where(converted, np.round(rng.gamma(2.0, 35.0, n), 2), 0.0)
    out.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({
        "recipient": np.arange(n), "variant": arm, "converted": converted, "revenue": revenue,
        "cost": np.where(arm == "control", 0.0, 0.05), "recency": recency, "frequency": frequency, "monetary": monetary,
        "tenure": tenure, "channel": channel,
    }).write_parquet(path)
    print(f"generated {n:,} recipients in {time.monotonic() - start:.1f} s -> {path}", flush=True)
    return path


def run(args: list[str]) -> dict[str, float]:
    """Run the command; return its wall time (s) and peak RSS (MiB)."""
    start = time.monotonic()
    proc = subprocess.Popen([str(FIDELCLI), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=shell_env())
    assert proc.stderr is not None
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"roi abtest failed:\n{err}")
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime  # less sensitive than wall time to a machine shared with other work
    print(f"roi abtest --uplift   wall {wall:7.1f} s   CPU {cpu:7.1f} s   peak RSS {peak:7.0f} MiB", flush=True)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mib": round(peak)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipients", type=int, default=1_000_000)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--data", type=Path, default=None, help="directory of the data (default bench/out/abtest_<recipients>)")
    args = ap.parse_args()
    out = args.data or ROOT / "out" / f"abtest_{args.recipients}"
    path = data(args.recipients, out)
    result_file = out / "abtest.json"
    results: dict[str, object] = {"recipients": args.recipients, "folds": args.folds}
    results["abtest_uplift"] = run([
        "-q", "roi", "abtest", "--results", str(path), "--variant", "variant", "--metric", "converted", "--revenue", "revenue",
        "--cost-column", "cost", "--exclude", "recipient", "--control", "control", "--split", "control=0.2", "--split", "A=0.4",
        "--split", "B=0.4", "--uplift", "--folds", str(args.folds), "-o", str(result_file),
    ])
    doc = json.loads(result_file.read_text())
    results["qini"] = {r["variant"]: r["qini_coefficient"] for r in doc["tables"]["qini"]}
    print(json.dumps(results, indent=2))
    (out / "bench_abtest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
