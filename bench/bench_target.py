"""Benchmark `fidelcli target` as a whole command on 1,000,000 customers.

Run:  .venv/bin/python bench/bench_target.py [--sample DIR] [--customers 1000000] [--clv-model]

1. The sample: DIR (default /tmp/fb_rfm/sample_1000000 when it holds transactions.parquet, else
   written to /tmp/fb_target/sample_<N> by `fidelcli sample --customers N --format parquet`).
2. `fidelcli -q target -t transactions.parquet -c customers.parquet --touchpoints touchpoints.parquet
   --campaigns campaigns.parquet -o targets.csv --format csv` runs in its own process under
   /usr/bin/time -v: wall time and peak RSS of the whole command (reading, the engine's reduction,
   RFM, scenarios, rules, the control draws, writing both files). The default scenarios: all of
   them, cross_sell included (its recommender scores only the customers left in it after the
   rules); at_risk is left out without a model.
3. With --clv-model: `clv --model bgnbd --save-model clv.json` first (not timed), then the same
   command with --clv-model (at_risk and vip by CLV), timed the same way.
Timings and the funnel are printed, never asserted (target in the issue: under 30 s).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from _shell import shell_env  # bench/_shell.py

ROOT = Path(__file__).resolve().parent.parent
FIDELCLI = str(Path(sys.executable).with_name("fidelcli"))
DEFAULT_SAMPLE = Path("/tmp/fb_rfm/sample_1000000")


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Run `cmd` under /usr/bin/time -v: (wall seconds, peak RSS in MiB, its stdout)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=ROOT, check=False, env=shell_env())
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, (int(rss.group(1)) / 1024 if rss else float("nan")), proc.stdout


def sample_dir(given: Path | None, customers: int) -> Path:
    if given is not None:
        return given
    if (DEFAULT_SAMPLE / "transactions.parquet").exists() and customers == 1_000_000:
        return DEFAULT_SAMPLE
    out = Path(f"/tmp/fb_target/sample_{customers}")
    if not (out / "transactions.parquet").exists():
        print(f"generating {customers:,} customers into {out} ...", flush=True)
        subprocess.run([FIDELCLI, "-q", "sample", "--customers", str(customers), "--format", "parquet", "-o", str(out)], check=True,
                       env=shell_env())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, default=None)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--clv-model", action="store_true", help="also time the command with a CLV model file")
    args = parser.parse_args()
    data = sample_dir(args.sample, args.customers)
    out = Path("/tmp/fb_target/out")
    out.mkdir(parents=True, exist_ok=True)
    base = [FIDELCLI, "-q", "target", "-t", str(data / "transactions.parquet"), "-c", str(data / "customers.parquet"),
            "--touchpoints", str(data / "touchpoints.parquet"), "--campaigns", str(data / "campaigns.parquet"),
            "-o", str(out / "targets.csv"), "--format", "csv"]
    import polars as pl

    carts = pl.scan_parquet(data / "touchpoints.parquet").filter(pl.col("stage") == "cart").select(pl.len()).collect().item()
    print(f"sample: {data} ({carts:,} cart touchpoints{'; made before the sample had carts: abandoned_cart is empty' if not carts else ''})")
    runs = [("target (default scenarios)", base)]
    if args.clv_model:
        model = out / "clv.json"
        subprocess.run([FIDELCLI, "-q", "clv", "-t", str(data / "transactions.parquet"), "--model", "bgnbd", "--save-model", str(model),
                        "-o", str(out / "clv.parquet")], check=True, env=shell_env())
        runs.append(("target --clv-model", [*base, "--clv-model", str(model)]))
    for name, cmd in runs:
        wall, rss, stdout = timed(cmd)
        rows = sum(1 for _ in (out / "targets.csv").open(encoding="utf-8")) - 1
        print(f"\n{name}: {wall:.2f} s wall, {rss:,.0f} MiB peak RSS, {rows:,} rows in targets.csv")
        print(stdout.rstrip())


if __name__ == "__main__":
    main()
