"""Benchmark: load ~10 million transaction lines (CSV and Parquet) through fidelcli, next to plain Polars.

Generates 1,000,000 customers with `fidelcli.sample` into bench/out/ (git-ignored; reused when present),
converts the transactions once to a 10-million-line CSV, then times each load as a whole command
(a subprocess under `/usr/bin/time -v`) and prints wall time and peak memory per format.

Usage: .venv/bin/python bench/bench_load.py [--customers 1000000] [--force] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from _shell import shell_env  # bench/_shell.py

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
FIDELCLI = str(Path(PYTHON).with_name("fidelcli"))

GENERATE = """
from pathlib import Path
from fidelcli.sample import generate
generate(Path({out!r}), customers={n}, seed=42, formats=("parquet",))
"""

FIDELCLI_SUMMARY = """
import fidelcli
tx = fidelcli.clean_transactions(fidelcli.scan_table({path!r}, "transactions"))
summary = fidelcli.get_engine("polars").customer_summary(tx)
print(summary.height, "customers,", round(float(summary["revenue"].sum()), 2), "revenue")
"""

POLARS_SUMMARY = """
import polars as pl
lf = pl.{scan}({path!r})
summary = lf.group_by("customer_id").agg(
    pl.col("date").min().alias("first_purchase"),
    pl.col("date").max().alias("last_purchase"),
    pl.col("order_id").filter(pl.col("amount") > 0).n_unique().alias("frequency"),
    pl.col("amount").sum().alias("revenue"),
).collect(engine="streaming")
print(summary.height, "customers,", round(float(summary["revenue"].sum()), 2), "revenue")
"""


def timed(cmd: list[str], *, quiet: bool = False) -> tuple[float, float, str]:
    """Run `cmd` under /usr/bin/time -v: (wall seconds, peak RSS in MiB, its stdout's last line).

    `quiet` discards stdout (commands that print a large table).
    """
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL if quiet else subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT, check=False, env=shell_env(),
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    out = [] if quiet else proc.stdout.strip().splitlines()
    return wall, (int(rss.group(1)) / 1024 if rss else float("nan")), (out[-1] if out else "")


def prepare(customers: int, force: bool) -> tuple[Path, Path, dict[str, float] | None]:
    """The Parquet sample (generated when missing) and its CSV copy; the generation's own figures."""
    data = OUT / f"sample_{customers}"
    parquet = data / "transactions.parquet"
    csv = data / "transactions.csv"
    gen = None
    truth = data / "truth.json"
    if force or not truth.exists() or json.loads(truth.read_text(encoding="utf-8"))["customers"] != customers:
        print(f"generating {customers:,} customers into {data} ...", flush=True)
        wall, rss, _ = timed([PYTHON, "-c", GENERATE.format(out=str(data), n=customers)])
        gen = {"wall": wall, "rss": rss}
        csv.unlink(missing_ok=True)
    if not csv.exists():
        print("converting the transactions to CSV ...", flush=True)
        pl.scan_parquet(parquet).sink_csv(csv)
    return parquet, csv, gen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--force", action="store_true", help="regenerate the data even if present")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command (the best wall time is kept)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    parquet, csv, gen = prepare(args.customers, args.force)
    lines = pl.scan_parquet(parquet).select(pl.len()).collect().item()
    print(f"transactions: {lines:,} lines; CSV {csv.stat().st_size / 2**20:,.0f} MiB, Parquet {parquet.stat().st_size / 2**20:,.0f} MiB")
    if gen:
        print(f"generation (fidelcli.sample, Parquet): {gen['wall']:.1f} s, peak {gen['rss']:,.0f} MiB")

    has = subprocess.run([FIDELCLI, "--help"], capture_output=True, text=True, check=False).stdout
    tasks: list[tuple[str, str, list[str], bool]] = []
    for fmt, path in (("csv", csv), ("parquet", parquet)):
        scan = "scan_csv" if fmt == "csv" else "scan_parquet"
        tasks.append(("fidelcli scan+clean+customer_summary", fmt, [PYTHON, "-c", FIDELCLI_SUMMARY.format(path=str(path))], False))
        tasks.append(("polars group_by (plain)", fmt, [PYTHON, "-c", POLARS_SUMMARY.format(scan=scan, path=str(path))], False))
        if re.search(r"\bvalidate\b", has):
            tasks.append(("fidelcli validate", fmt, [FIDELCLI, "-q", "validate", "-t", str(path), "--format", "csv"], False))
        if re.search(r"\brfm\b", has):
            tasks.append(("fidelcli rfm", fmt, [FIDELCLI, "-q", "rfm", "-t", str(path), "--format", "csv", "-o", str(OUT / f"rfm_{fmt}.parquet")], True))

    rows = []
    for name, fmt, cmd, quiet in tasks:
        best = None
        for _ in range(args.repeat):
            wall, rss, out = timed(cmd, quiet=quiet)
            best = (wall, rss, out) if best is None or wall < best[0] else best
        assert best is not None
        rows.append({"task": name, "format": fmt, "wall_s": round(best[0], 1), "peak_rss_mib": round(best[1]), "output": best[2][:60]})
        print(f"{name:40s} {fmt:8s} {best[0]:7.1f} s  {best[1]:8,.0f} MiB   {best[2][:60]}", flush=True)
    pl.DataFrame(rows).write_csv(OUT / "bench_load.csv")
    print(f"figures saved to {OUT / 'bench_load.csv'}")


if __name__ == "__main__":
    main()
