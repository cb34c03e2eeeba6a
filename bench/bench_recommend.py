"""Benchmark `fidelcli recommend rules` on the 1M-customer sample and on UCI Online Retail, beside mlxtend.

Run:  .venv/bin/python bench/bench_recommend.py [--skip-mlxtend] [--sample DIR]

1. The sample: DIR (default /tmp/fb_rfm/sample_1000000 when it holds transactions.parquet, else
   written to /tmp/fb_rec/sample_1000000 by `fidelcli sample --customers 1000000 --format parquet`).
2. Each whole command runs in its own process under /usr/bin/time -v (wall time, peak RSS):
   `fidelcli recommend rules -t FILE ... -o rules.csv`, on the sample (products; 200 products) and on
   /work/shared/data/uci_online_retail.csv.gz (invoices; 4,059 stock codes).
3. mlxtend (fpgrowth + association_rules) on the same baskets: fidelcli's baskets are written to a
   CSV (basket, item; not timed), then a script in a throwaway venv (bench/.venv-mlxtend, created on
   first use: python -m venv; pip install mlxtend) reads them, one-hot encodes them sparsely, mines
   the itemsets of up to 3 items and the rules, timed as a whole process too. mlxtend is never a
   dependency of fidelcli. Rule counts (single-item consequents) are compared.
4. With --customers: `fidelcli recommend customers -t FILE -o recs.parquet` (cosine, top 10) on the
   sample, timed the same way (the whole command: baskets, neighbours, scores, lists, up-sell).
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from _shell import shell_env

ROOT = Path(__file__).resolve().parent
FIDELCLI = ROOT.parent / ".venv" / "bin" / "fidelcli"
MLXTEND_VENV = ROOT / ".venv-mlxtend"
UCI = Path("/work/shared/data/uci_online_retail.csv.gz")
REUSED = Path("/tmp/fb_rfm/sample_1000000")
OWN = Path("/tmp/fb_rec/sample_1000000")

MLXTEND_SCRIPT = r"""
import sys, time, resource
import numpy as np, pandas as pd
from scipy import sparse
from mlxtend.frequent_patterns import fpgrowth, association_rules
path, min_support, min_confidence = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
t0 = time.perf_counter()
df = pd.read_csv(path, dtype={"basket": np.int64, "item": str})
baskets = df["basket"].to_numpy()
codes, items = pd.factorize(df["item"], sort=True)
m = sparse.csr_matrix((np.ones(len(df), dtype=bool), (baskets, codes)), shape=(baskets.max() + 1, len(items)))
onehot = pd.DataFrame.sparse.from_spmatrix(m, columns=list(items)).astype(pd.SparseDtype(bool, False))
frequent = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=3)
rules = association_rules(frequent, metric="confidence", min_threshold=min_confidence, num_itemsets=m.shape[0])
single = rules[rules["consequents"].apply(len) == 1]
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"RESULT itemsets={len(frequent)} rules={len(single)} wall={wall:.2f} peak_mb={peak:.0f}")
"""


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command under /usr/bin/time -v: (wall seconds, peak RSS MiB, its stderr and stdout)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as log:
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", log.name, *cmd], capture_output=True, text=True, env=shell_env(), check=False)
        text = log.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.strip().splitlines()[-1:]}")
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    assert clock is not None and rss is not None
    parts = [float(p) for p in clock.group(1).split(":")]
    wall = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return wall, int(rss.group(1)) / 1024, proc.stderr + proc.stdout


def sample_dir(given: Path | None) -> Path:
    for folder in (given, REUSED, OWN):
        if folder is not None and (folder / "transactions.parquet").exists():
            return folder
    OWN.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(FIDELCLI), "-q", "sample", "--customers", "1000000", "--format", "parquet", "-o", str(OWN), "--force"],
                   check=True, env=shell_env())
    return OWN


def export_baskets(source: Path, path: Path) -> int:
    """fidelcli's baskets of `source` as basket,item CSV (the same baskets mlxtend gets); their count."""
    sys.path.insert(0, str(ROOT.parent))
    from fidelcli.analyses.recommend.rules import encode
    from fidelcli.clean import CleanOptions
    from fidelcli.engine import PolarsEngine
    from fidelcli.io.baskets import OPTIONAL, basket_table
    from fidelcli.io.read import scan_table

    engine = PolarsEngine()
    tx = engine.load(basket_table(scan_table(source, "transactions", optional=OPTIONAL)), CleanOptions())
    baskets = engine.baskets(tx)
    lines, items = encode(baskets, "product_id")
    lines.join(items, on="item").select("basket", item="name").write_csv(path)
    return int(lines["basket"].n_unique())


def ensure_mlxtend() -> Path:
    python = MLXTEND_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLXTEND_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlxtend"], check=True)
    (MLXTEND_VENV / ".gitignore").write_text("*\n")
    return python


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=Path, default=None)
    ap.add_argument("--skip-mlxtend", action="store_true")
    ap.add_argument("--customers", action="store_true", help="also time `recommend customers` on the sample")
    args = ap.parse_args()
    sample = sample_dir(args.sample)
    if args.customers:
        with tempfile.TemporaryDirectory() as tmp:
            wall, peak, _ = timed([str(FIDELCLI), "-q", "recommend", "customers", "-t", str(sample / "transactions.parquet"),
                                   "-o", str(Path(tmp) / "recs.parquet")])
        print(f"1M-customer sample: fidelcli recommend customers (cosine, top 10): {wall:.1f} s wall, {peak:.0f} MiB peak")
    cases = [
        ("1M-customer sample", sample / "transactions.parquet", [], 0.001, 0.1),
        ("UCI Online Retail", UCI, [], 0.01, 0.5),
    ]
    python = None if args.skip_mlxtend else ensure_mlxtend()
    with tempfile.TemporaryDirectory() as tmp:
        for name, source, extra, support, confidence in cases:
            out = Path(tmp) / "rules.csv"
            cmd = [str(FIDELCLI), "recommend", "rules", "-t", str(source), *extra, "--min-support", str(support),
                   "--min-confidence", str(confidence), "--max-antecedents", "2", "-o", str(out)]
            wall, peak, log = timed(cmd)
            counts = re.search(r"([\d,]+) baskets, ([\d,]+) products: ([\d,]+) rules", log)
            said = counts.group(0) if counts else "?"
            print(f"{name}: fidelcli recommend rules (support {support}, confidence {confidence}): "
                  f"{wall:.1f} s wall, {peak:.0f} MiB peak; {said}")
            if python is None:
                continue
            csv = Path(tmp) / "baskets.csv"
            export_baskets(source, csv)
            try:
                mwall, mpeak, mlog = timed([str(python), "-c", MLXTEND_SCRIPT, str(csv), str(support), str(confidence)])
            except RuntimeError as exc:
                print(f"{name}: mlxtend could not run: {exc}")
                continue
            found = re.search(r"RESULT itemsets=(\d+) rules=(\d+) wall=(\S+) peak_mb=(\S+)", mlog)
            inner = f"; {found.group(2)} rules, {found.group(1)} itemsets, {found.group(3)} s inside" if found else ""
            print(f"{name}: mlxtend fpgrowth + association_rules (same baskets, read from CSV): "
                  f"{mwall:.1f} s wall, {mpeak:.0f} MiB peak{inner}")


if __name__ == "__main__":
    main()
