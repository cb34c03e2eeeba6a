"""Benchmark: `fidelcli rfm` and `fidelcli kpi --period month` against the equivalent DuckDB SQL, on every data shape.

Run:  .venv/bin/python bench/bench_shapes.py [--customers 1000000] [--pairs 5] [--shapes base,int,csv,...|all]

Data (cached under bench/out/shapes/, git-ignored; built once, reused):
1. `fidelcli sample --customers N --seed 7 --format parquet` writes about 10.3 lines per customer
   (1,000,000 customers -> 10,333,462 lines, 5.0 M orders of about 2 lines, returns as negative amounts).
2. Each shape is a reshaping of those lines with Polars (`reshape`), keeping every line, its customer
   and its amount (so every shape has the same line count and the same customers); only the columns of
   a plain export are kept: customer_id, [order_id], date, amount (a return is a negative amount):
   - order ids or none: without, occasions are customer-days;
   - 1 line per occasion: with order ids, each line is its own order; without, the lines of a customer
     on one day are moved to successive days (the k-th line of the day k - 1 days later), so nearly
     every line is its own customer-day;
   - 10 lines per occasion: a customer's lines, in date order, are cut into runs of 10; a run is one
     order (with order ids) or one day (its first line's date);
   - string ids (the sample's zero-padded "C0000001", orders "O0000000001") or integers (1, 1);
   - Parquet, or CSV (written by Polars: ISO dates, '.' decimals).
   Shapes are named ORDER-IDS-FORMAT-LINES, e.g. `none-str-parquet-1`. The default set changes one axis
   at a time from the plain export of issue 17 (`none-str-parquet-1`); `--shapes all` runs all 16.
3. The DuckDB side is the query an analyst would write (docs/metrics.md definitions): read the file
   (`read_parquet`, or `read_csv` with its own type detection), occasions = order id or day, returns
   negated and netted in spend but not occasions, money in cents; RFM with rank-based quintile scores
   and the (R, F) segment map (tests/duckdb_reference.py), KPI per month (active, new, returning,
   orders, revenue, AOV, frequency, repeat, retention, churn, customer retention, returning revenue
   share). Before timing, both sides run on the same shape of a small sample (2,000 customers) and
   every figure is compared (exact, but for fidelcli's rounding of
   its outputs: money to the cent, rates to 6 decimals): the bench stops if one differs.
4. Timing: whole processes, alternating pairs (fidelcli, DuckDB, fidelcli, DuckDB...), `--pairs`
   of them (default 5) per shape and command; wall time (a monotonic clock around the process) and
   peak RSS and CPU (the kernel's rusage of the child, `os.wait4`). The table gives medians and the
   median of the pairwise ratios. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from _shell import shell_env  # bench/_shell.py

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "shapes"
sys.path.insert(0, str(ROOT / "tests"))
from duckdb_reference import kpi_sql, rfm_sql  # noqa: E402  (tests/duckdb_reference.py: the RFM and KPI queries in SQL)

PYTHON = sys.executable
FIDELCLI = str(Path(PYTHON).with_name("fidelcli"))
DEFAULT_SHAPES = [
    "none-str-parquet-1", "none-int-parquet-1", "none-str-csv-1", "none-str-parquet-10",
    "order-str-parquet-1", "order-str-parquet-10", "order-int-csv-10",
]

LINES = """
  SELECT customer_id AS cid, {occ} AS occ, date AS d, coalesce(amount, 0) AS amt, coalesce(amount < 0, false) AS is_return
  FROM {read} WHERE customer_id IS NOT NULL AND date IS NOT NULL
"""

KPI_COLUMNS = [
    "period_start", "active_customers", "new_customers", "returning_customers", "orders", "revenue", "aov",
    "purchase_frequency", "repeat_purchase_rate", "retention_rate", "churn_rate", "customer_retention_rate",
    "returning_revenue_share",
]
RFM_COLUMNS = ["customer_id", "recency", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_score", "segment"]


@dataclass(frozen=True)
class Shape:
    order: bool  # an order id column (else occasions are customer-days)
    ints: bool  # integer ids (else the sample's zero-padded strings)
    fmt: str  # "parquet" or "csv"
    per: int  # lines per occasion: 1 or 10

    @property
    def name(self) -> str:
        return f"{'order' if self.order else 'none'}-{'int' if self.ints else 'str'}-{self.fmt}-{self.per}"

    @classmethod
    def parse(cls, name: str) -> Shape:
        order, ids, fmt, per = name.split("-")
        return cls(order == "order", ids == "int", fmt, int(per))


def all_shapes() -> list[str]:
    return [Shape(o, i, f, p).name for o, i, f, p in itertools.product((False, True), (False, True), ("parquet", "csv"), (1, 10))]


def reshape(sample: Path, shape: Shape) -> pl.LazyFrame:
    """The sample's lines in `shape` (see the module docstring), in the sample's order (customer, date)."""
    lf = pl.scan_parquet(sample).select("customer_id", "order_id", "date", "amount").with_row_index("line")
    if shape.per == 1:
        if shape.order:
            lf = lf.with_columns(order=pl.col("line"))
        else:  # the k-th line of a customer's day moves k - 1 days later
            lf = lf.with_columns(pl.col("date") + pl.duration(days=pl.int_range(pl.len()).over("customer_id", "date")))
    else:
        run = (pl.int_range(pl.len()).over("customer_id") // shape.per).alias("run")
        lf = lf.sort("customer_id", "date", "line").with_columns(run).with_columns(
            pl.col("date").min().over("customer_id", "run"),
            order=pl.struct("customer_id", "run").rank("dense").cast(pl.Int64),
        )
    ids = {"customer_id": pl.col("customer_id").str.strip_prefix("C").cast(pl.Int64) if shape.ints else pl.col("customer_id")}
    if shape.order:
        order = pl.col("order").cast(pl.Int64) + 1
        ids["order_id"] = order if shape.ints else pl.format("O{}", order.cast(pl.String).str.zfill(10))
    return lf.select(ids["customer_id"].alias("customer_id"), *([ids["order_id"].alias("order_id")] if shape.order else []), "date", "amount")


def prepare(customers: int, seed: int, shapes: list[Shape]) -> dict[Shape, Path]:
    """Generate the sample (once) and write each shape's file (once)."""
    data = OUT / f"sample_{customers}_{seed}"
    sample = data / "transactions.parquet"
    if not sample.exists():
        print(f"generating {customers:,} customers into {data} ...", flush=True)
        subprocess.run([FIDELCLI, "-q", "sample", "-o", str(data), "--customers", str(customers), "--seed", str(seed),
                        "--format", "parquet"], check=True, env=shell_env())
    paths = {}
    for shape in shapes:
        path = data / f"{shape.name}.{shape.fmt}"
        if not path.exists():
            frame = reshape(sample, shape).collect()
            tmp = path.with_suffix(".tmp")
            frame.write_parquet(tmp) if shape.fmt == "parquet" else frame.write_csv(tmp)
            tmp.rename(path)
        paths[shape] = path
    return paths


def duck_lines(path: Path, shape: Shape) -> str:
    read = f"read_parquet('{path}')" if shape.fmt == "parquet" else f"read_csv('{path}')"
    return LINES.format(occ="order_id" if shape.order else "date", read=read)


def commands(path: Path, shape: Shape, out: Path) -> dict[str, tuple[list[str], list[str]]]:
    """{command: (fidelcli argv, DuckDB argv)}; each writes its table under `out`."""
    lines = duck_lines(path, shape)
    duck = "import duckdb; duckdb.connect().execute({!r})".format
    rfm_duck = f"COPY ({rfm_sql(lines)}) TO '{out / 'rfm_duckdb.parquet'}' (FORMAT parquet)"
    kpi_duck = f"COPY ({kpi_sql(lines)}) TO '{out / 'kpi_duckdb.csv'}' (FORMAT csv)"
    return {
        "rfm": ([FIDELCLI, "-q", "rfm", "-t", str(path), "-o", str(out / "rfm.parquet")], [PYTHON, "-c", duck(rfm_duck)]),
        "kpi": ([FIDELCLI, "-q", "kpi", "-t", str(path), "--period", "month", "-o", str(out / "kpi.csv")],
                [PYTHON, "-c", duck(kpi_duck)]),
    }


def run(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=shell_env())
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)[:300]}\n{err.decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def check(path: Path, shape: Shape) -> None:
    """Run both sides once on `path` and stop unless every RFM and KPI figure agrees."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for f_cmd, d_cmd in commands(path, shape, out).values():
            run(f_cmd)
            run(d_cmd)
        key = pl.col("customer_id").cast(pl.String)
        a = pl.read_parquet(out / "rfm.parquet").select(RFM_COLUMNS).with_columns(key).sort("customer_id")
        b = pl.read_parquet(out / "rfm_duckdb.parquet").select(RFM_COLUMNS).with_columns(key).sort("customer_id")
        cast = [pl.col(c).cast(pl.String) for c in RFM_COLUMNS]
        if not a.select(cast).equals(b.select(cast)):
            sys.exit(f"{shape.name}: fidelcli's and DuckDB's RFM differ")
        k = pl.read_csv(out / "kpi.csv", try_parse_dates=True).select(KPI_COLUMNS)
        d = pl.read_csv(out / "kpi_duckdb.csv", try_parse_dates=True).select(KPI_COLUMNS)
        for c in KPI_COLUMNS:
            x, y = k.get_column(c), d.get_column(c)
            if x.dtype.is_float() or y.dtype.is_float():
                x, y = x.cast(pl.Float64), y.cast(pl.Float64)
                # fidelcli's outputs are rounded (docs/output.md): money to the cent, rates and measures to 6 decimals.
                tol = 0.005 + 1e-9 if c in ("revenue", "aov") else 5e-7 + 1e-9
                same = x.is_null().equals(y.is_null()) and bool(((x - y).abs() <= tol).fill_null(True).all())
            else:
                same = x.cast(pl.String).equals(y.cast(pl.String))
            if not same:
                sys.exit(f"{shape.name}: fidelcli's and DuckDB's KPI column {c} differ")
        print(f"check {shape.name}: {a.height:,} customers, {k.height} months: every RFM and KPI figure agrees", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pairs", type=int, default=5, help="alternating fidelcli/DuckDB pairs per shape and command")
    ap.add_argument("--shapes", default=",".join(DEFAULT_SHAPES), help="comma-separated shape names, or 'all'")
    ap.add_argument("--commands", default="rfm,kpi")
    ap.add_argument("--no-check", action="store_true", help="skip the small-sample equality check")
    args = ap.parse_args()
    shapes = [Shape.parse(s) for s in (all_shapes() if args.shapes == "all" else args.shapes.split(","))]
    if not args.no_check:
        for shape, path in prepare(2_000, args.seed, shapes).items():
            check(path, shape)
    paths = prepare(args.customers, args.seed, shapes)
    rows = []
    print("\n| shape | command | fidelcli wall (s) | DuckDB wall (s) | ratio wall | fidelcli peak (MiB) | DuckDB peak (MiB) "
          "| ratio peak | ratio CPU |\n|---|---|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for shape, path in paths.items():
            for name, (f_cmd, d_cmd) in commands(path, shape, Path(tmp)).items():
                if name not in args.commands.split(","):
                    continue
                pairs = [(run(f_cmd), run(d_cmd)) for _ in range(args.pairs)]
                med = statistics.median
                f_wall, d_wall = med(p[0][0] for p in pairs), med(p[1][0] for p in pairs)
                f_rss, d_rss = med(p[0][2] for p in pairs), med(p[1][2] for p in pairs)
                row = {
                    "shape": shape.name, "command": name, "fidelcli_wall": f_wall, "duckdb_wall": d_wall,
                    "ratio_wall": med(f[0] / d[0] for f, d in pairs), "fidelcli_rss": f_rss, "duckdb_rss": d_rss,
                    "ratio_rss": med(f[2] / d[2] for f, d in pairs), "ratio_cpu": med(f[1] / d[1] for f, d in pairs),
                }
                rows.append(row)
                print(f"| {shape.name} | {name} | {f_wall:.2f} | {d_wall:.2f} | **{row['ratio_wall']:.2f}** | {f_rss:,.0f} | "
                      f"{d_rss:,.0f} | **{row['ratio_rss']:.2f}** | {row['ratio_cpu']:.2f} |", flush=True)
    lines = pl.scan_parquet(next(iter(paths.values())).parent / "transactions.parquet").select(pl.len()).collect().item()
    print(f"\n{lines:,} lines, {args.customers:,} customers; median of {args.pairs} alternating pairs; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    (OUT / "bench_shapes.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
