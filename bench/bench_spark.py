"""Benchmark of `--engine spark` (local mode) against the Polars engine: `rfm` and `kpi --period month`.

Run:  .venv/bin/python bench/bench_spark.py [--customers 1000000] [--dir /tmp/fidelcli_bench_rfm_kpi] [--pairs 3]
          [--master local[*]] [--format parquet]

1. `fidelcli sample --customers N --format parquet` writes about 10 transaction lines per customer
   (1,000,000 customers -> about 10,300,000 lines) unless the directory already holds them
   (the directory of bench/bench_rfm_kpi.py is shared). `--format csv` also writes a CSV copy.
2. Each command runs as a whole process (`fidelcli -q [--engine spark] rfm -t ... -o ...`), the two
   engines alternating, `--pairs` times. Wall time, and the peak memory of the process tree (the
   Python process plus Spark's JVM, sampled every 0.1 s from /proc: RSS summed over the tree).
3. The outputs of both engines are compared (same RFM rows, same KPI text), then the medians and the
   ratio spark / polars are printed. Timings are printed, never asserted.

The Spark figure includes the JVM start-up and the session (a few seconds), as a user running one
command pays them; the Spark settings are those of the engine for a local master
(`fidelcli.engine.spark_session.local_settings`: driver memory 2 GiB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _shell import shell_env  # bench/_shell.py

PYTHON = sys.executable
FIDELCLI = str(Path(PYTHON).with_name("fidelcli"))


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


MAX_BYTES = [4 * 2**30]  # the tree is stopped above it (--max-gib): a shared machine


def run(cmd: list[str], stdout: Path | None = None) -> tuple[float, int]:
    """Wall seconds and peak tree RSS of a command (its stdout to `stdout`)."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=shell_env(), start_new_session=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        if peak > MAX_BYTES[0]:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise SystemExit(f"{' '.join(cmd)}: stopped at {peak / 2**30:.2f} GiB (over --max-gib)")
        time.sleep(0.1)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/fidelcli_bench_rfm_kpi"))
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--max-gib", type=float, default=3.9)
    args = parser.parse_args()
    MAX_BYTES[0] = int(args.max_gib * 2**30)
    data = args.dir / f"sample_{args.customers}"
    source = data / "transactions.parquet"
    if not source.exists():
        subprocess.run([FIDELCLI, "-q", "sample", "--customers", str(args.customers), "--format", "parquet", "--out", str(data)],
                       check=True, env=shell_env())
    if args.format == "csv":
        csv = data / "transactions.csv"
        if not csv.exists():
            import polars as pl

            pl.scan_parquet(source).sink_csv(csv)
        source = csv
    work = args.dir / "spark_bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = work / "fidelcli.toml"
    config.write_text(f'[engine]\nspark_master = "{args.master}"\n')
    lines = subprocess.run([PYTHON, "-c", f"import polars as pl; print(pl.scan_parquet('{data / 'transactions.parquet'}').select(pl.len()).collect().item())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    print(f"{int(lines):,} lines, {args.customers:,} customers, {source.name}, master {args.master}, {args.pairs} alternating pairs")
    commands = {
        "rfm": lambda engine, out: [FIDELCLI, "-q", "--config", str(config), "--engine", engine, "rfm", "-t", str(source), "-o", str(out)],
        "kpi --period month": lambda engine, out: [FIDELCLI, "-q", "--config", str(config), "--engine", engine, "kpi", "-t", str(source),
                                                   "--period", "month", "-o", str(out)],
    }
    for name, command in commands.items():
        figures: dict[str, list[tuple[float, int]]] = {"polars": [], "spark": []}
        suffix = "parquet" if name == "rfm" else "csv"
        for _ in range(args.pairs):
            for engine in ("polars", "spark"):
                figures[engine].append(run(command(engine, work / f"{name.split()[0]}_{engine}.{suffix}")))
        same = _same(work / f"{name.split()[0]}_polars.{suffix}", work / f"{name.split()[0]}_spark.{suffix}")
        med = {e: (statistics.median(w for w, _ in f), max(m for _, m in f)) for e, f in figures.items()}
        print(f"{name}: polars {med['polars'][0]:.1f} s, {med['polars'][1] / 2**30:.2f} GiB; "
              f"spark {med['spark'][0]:.1f} s, {med['spark'][1] / 2**30:.2f} GiB; "
              f"spark / polars {med['spark'][0] / med['polars'][0]:.2f}x time; outputs {'equal' if same else 'DIFFER'}")
        print(f"  walls polars {[round(w, 1) for w, _ in figures['polars']]}, spark {[round(w, 1) for w, _ in figures['spark']]}")


def _same(a: Path, b: Path) -> bool:
    import polars as pl

    if a.suffix == ".parquet":
        return pl.read_parquet(a).equals(pl.read_parquet(b))
    return a.read_bytes() == b.read_bytes()


if __name__ == "__main__":
    main()
