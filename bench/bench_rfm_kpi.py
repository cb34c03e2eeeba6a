"""Benchmark of `fidelcli rfm` and `fidelcli kpi` as whole commands against hand-written DuckDB queries.

Run:  .venv/bin/python bench/bench_rfm_kpi.py [--customers 1000000] [--dir /tmp/fidelcli_bench_rfm_kpi] [--repeat 3]

1. `fidelcli sample --customers N --format parquet` writes about 10 transaction lines per customer
   (1,000,000 customers -> about 10,300,000 lines) unless the directory already holds them.
2. Each command runs in its own process under /usr/bin/time -v (wall time, peak RSS):
   - `fidelcli -q rfm -t transactions.parquet -o rfm.parquet`
   - the same RFM in one DuckDB SQL statement (Python process: read Parquet, net returns, occasions,
     rank-based quintile scores, segments, COPY to Parquet): the reference query of the tests,
     tests/duckdb_reference.py, over the sample's lines;
   - `fidelcli -q kpi -t transactions.parquet --period month` (stdout discarded; the sample has a
     margin column, so fidelcli also computes profit, which the DuckDB query leaves out);
   - the same monthly KPIs in DuckDB (active, new, returning, orders, revenue, retention...).
   (customer_retention_rate: (E - N) / S, S = the customers acquired before the month, docs/metrics.md).
   Every data shape (order ids or not, string or integer ids, CSV or Parquet, 1 or 10 lines per
   occasion) with median-of-pairs timing: bench/bench_shapes.py.
3. The RFM outputs are compared (every score and segment must agree) and the figures printed with the
   ratios fidelcli / DuckDB of the best wall time and of the CPU time (user + sys, steadier than wall
   time on a shared machine). Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _shell import shell_env  # bench/_shell.py

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from duckdb_reference import kpi_sql, rfm_sql  # noqa: E402  (tests/duckdb_reference.py: the RFM and KPI queries in SQL)

PYTHON = sys.executable
FIDELCLI = str(Path(PYTHON).with_name("fidelcli"))

# The sample's lines as the DuckDB reference reads them (tests/duckdb_reference.py): cid, occ, d, amt, is_return.
LINES = """
  SELECT customer_id AS cid, coalesce(order_id, CAST(date AS VARCHAR)) AS occ, date AS d,
         coalesce(amount, 0) AS amt,
         coalesce(amount < 0, false) OR coalesce(regexp_matches(order_id, '^[Cc][0-9]'), false)
           OR coalesce(lower(status) IN ('return', 'returned', 'refund', 'refunded', 'cancel', 'cancelled',
                                         'canceled', 'cancellation', 'void'), false) AS is_return
  FROM read_parquet('{src}') WHERE customer_id IS NOT NULL AND date IS NOT NULL
"""

# RFM: the reference's query in one statement (nothing materialised), written to Parquet.
RFM_SQL = "COPY ({rfm}) TO '{out}' (FORMAT parquet)"



def timed(cmd: list[str], *, stdout_to: Path | None = None) -> tuple[float, float, float]:
    """Run a command under /usr/bin/time -v; return (wall seconds, CPU seconds (user + sys), peak RSS MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as log:
        out = open(stdout_to, "wb") if stdout_to else subprocess.DEVNULL
        try:
            proc = subprocess.run(["/usr/bin/time", "-v", "-o", log.name, *cmd], stdout=out, stderr=subprocess.PIPE, check=False,
                                  env=shell_env())
        finally:
            if stdout_to:
                out.close()
        if proc.returncode != 0:
            sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.decode()[-2000:]}")
        text = log.read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    cpu = float(re.search(r"User time \(seconds\): (\S+)", text).group(1)) + float(re.search(r"System time \(seconds\): (\S+)", text).group(1))
    return seconds, cpu, rss_kb / 1024


def duck(sql: str) -> list[str]:
    code = f"import duckdb; duckdb.connect().execute({sql!r})"
    return [PYTHON, "-c", code]


def best(cmd: list[str], repeat: int) -> tuple[float, float, float]:
    """Best wall and CPU time and the largest peak RSS over `repeat` runs (the machine may be shared)."""
    runs = [timed(cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "fidelcli_bench_rfm_kpi", help="data and outputs (large)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per command; the best wall time is kept")
    args = ap.parse_args()

    data = args.dir / f"sample_{args.customers}"
    src = data / "transactions.parquet"
    if not src.exists():
        shutil.rmtree(data, ignore_errors=True)
        wall, _, rss = timed([FIDELCLI, "-q", "sample", "-o", str(data), "--customers", str(args.customers), "--seed", str(args.seed), "--format", "parquet"])
        print(f"sample: {args.customers:,} customers in {wall:.1f} s (peak {rss:,.0f} MiB)")
    import polars as pl

    lines = pl.scan_parquet(src).select(pl.len()).collect().item()
    print(f"input: {src} ({lines:,} lines, {src.stat().st_size / 2**20:,.0f} MiB)")

    lines_sql = LINES.format(src=src)
    out = args.dir
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    rfm_f = best([FIDELCLI, "-q", "rfm", "-t", str(src), "-o", str(out / "rfm.parquet")], args.repeat)
    rfm_d = best(duck(RFM_SQL.format(rfm=rfm_sql(lines_sql), out=out / "rfm_duckdb.parquet")), args.repeat)
    rows.append(("rfm -o rfm.parquet", rfm_f, rfm_d))
    kpi_f = best([FIDELCLI, "-q", "kpi", "-t", str(src), "--period", "month"], args.repeat)
    kpi_d = best(duck(f"COPY ({kpi_sql(lines_sql)}) TO '{out / 'kpi_duckdb.csv'}' (FORMAT csv)"), args.repeat)
    rows.append(("kpi --period month", kpi_f, kpi_d))

    a = pl.read_parquet(out / "rfm.parquet")
    b = pl.read_parquet(out / "rfm_duckdb.parquet")
    same = all(
        a.get_column(c).cast(pl.String).equals(b.get_column(c).cast(pl.String))
        for c in ("customer_id", "recency", "frequency", "r_score", "f_score", "m_score", "rfm_score", "segment")
    )
    print(f"rfm: {a.height:,} customers; fidelcli and DuckDB agree on every score and segment: {same}")
    print(textwrap.dedent("""
        | command | fidelcli wall (s) | CPU (s) | peak RSS (MiB) | DuckDB wall (s) | CPU (s) | peak RSS (MiB) | ratio wall | ratio CPU |
        |---|---|---|---|---|---|---|---|---|"""))
    for name, (fw, fc, fr), (dw, dc, dr) in rows:
        print(f"| {name} | {fw:.2f} | {fc:.2f} | {fr:,.0f} | {dw:.2f} | {dc:.2f} | {dr:,.0f} | {fw / dw:.2f} | {fc / dc:.2f} |")


if __name__ == "__main__":
    main()
