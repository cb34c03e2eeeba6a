"""Benchmark: how wall time and peak memory grow from 1 million to 100 million transaction lines.

For each size the data are generated with `fidelcli sample` (seeded, Parquet only; about 10.3 order
lines per customer, so 100,000 / 1M / 3M / 10M customers give about 1M / 10M / 30M / 100M lines) into
bench/out/scale/sample_<customers>/ (git-ignored; reused when its truth.json matches). Then each
command runs as a whole process under `/usr/bin/time -v`, output to Parquet:

  rfm                      -o rfm.parquet
  kpi --period month       -o kpi.parquet
  clv --model bgnbd        (BG/NBD + Gamma-Gamma, every customer) -o clv.parquet
  churn score              with a model trained once (`churn train`) on the 100,000-customer sample
                           -o churn.parquet

A watchdog stops a command whose resident memory (the process and its children) passes --limit-gib
(default 8) and records it as "killed". The table (lines, customers, command, wall s, peak MiB) is
printed and written to bench/out/scale_figures.md and .json. The machine may be shared: the figures
are single runs, read the growth, not the last digit. Nothing is asserted.

Usage: .venv/bin/python bench/bench_scale.py [--customers 100000 1000000 3000000 10000000]
       [--commands rfm kpi clv churn] [--delete-over-gib 10] [--limit-gib 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from _shell import shell_env  # bench/_shell.py

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DATA = OUT / "scale"
FIDELCLI = str(Path(sys.executable).with_name("fidelcli"))
SIZES = (100_000, 1_000_000, 3_000_000, 10_000_000)
TRAIN_CUSTOMERS = 100_000
SEED = 42


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of `pid` and its descendants (KiB), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status", encoding="utf-8") as f:
                m = re.search(r"VmRSS:\s+(\d+)", f.read())
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


def timed(cmd: list[str], limit_gib: float) -> dict[str, object]:
    """Run `cmd` under /usr/bin/time -v: wall seconds, peak RSS (MiB), status ("ok", "killed", "failed")."""
    start = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=shell_env(), start_new_session=True)
    killed = threading.Event()

    def watch() -> None:
        while proc.poll() is None:
            if _tree_rss_kib(proc.pid) > limit_gib * 1024 * 1024:
                killed.set()
                os.killpg(proc.pid, 9)  # the process group this benchmark started, nothing else
                return
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    status = "killed" if killed.is_set() else ("ok" if proc.returncode == 0 else "failed")
    if status == "failed":
        print(f"  failed ({proc.returncode}): {' '.join(cmd)}\n{err[-1500:]}", flush=True)
    peak = int(rss.group(1)) / 1024 if rss else (limit_gib * 1024 if killed.is_set() else float("nan"))
    return {"wall_s": round(wall, 1), "peak_mib": round(peak), "status": status}


def sample(customers: int, limit_gib: float) -> tuple[Path, dict[str, object] | None]:
    """The Parquet sample of `customers` (generated when missing), and the generation's figures."""
    out = DATA / f"sample_{customers}"
    truth = out / "truth.json"
    if truth.exists() and json.loads(truth.read_text(encoding="utf-8"))["customers"] == customers:
        return out, None
    print(f"generating {customers:,} customers into {out} ...", flush=True)
    fig = timed([FIDELCLI, "-q", "sample", "-o", str(out), "--customers", str(customers), "--seed", str(SEED),
                 "--format", "parquet", "--force"], limit_gib)
    if fig["status"] != "ok":
        raise SystemExit(f"generation of {customers:,} customers {fig['status']}")
    return out, fig


def churn_model(limit_gib: float) -> Path:
    """A churn model trained once on the smallest sample of the same generator."""
    model = DATA / "churn_model.json"
    if not model.exists():
        data, _ = sample(TRAIN_CUSTOMERS, limit_gib)
        fig = timed([FIDELCLI, "-q", "churn", "train", "-t", str(data / "transactions.parquet"), "--model-out", str(model)], limit_gib)
        print(f"trained the churn model on {TRAIN_CUSTOMERS:,} customers: {fig}", flush=True)
    return model


def commands(data: Path, model: Path | None) -> dict[str, list[str]]:
    tx = str(data / "transactions.parquet")
    res = data / "results"
    res.mkdir(exist_ok=True)
    out = {
        "rfm": ["rfm", "-t", tx, "-o", str(res / "rfm.parquet")],
        "kpi": ["kpi", "-t", tx, "--period", "month", "-o", str(res / "kpi.parquet")],
        "clv": ["clv", "-t", tx, "--model", "bgnbd", "-o", str(res / "clv.parquet")],
    }
    if model is not None:
        out["churn"] = ["churn", "score", "-t", tx, "--model", str(model), "-o", str(res / "churn.parquet")]
    return {k: [FIDELCLI, "-q", *v] for k, v in out.items()}


def table(rows: list[dict[str, object]]) -> str:
    head = "| lines | customers | command | wall s | peak MiB | status |\n|---:|---:|---|---:|---:|---|\n"
    return head + "".join(f"| {r['lines']:,} | {r['customers']:,} | {r['command']} | {r['wall_s']} | {r['peak_mib']:,} | {r['status']} |\n"
                          for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--commands", nargs="+", default=["rfm", "kpi", "clv", "churn"])
    parser.add_argument("--limit-gib", type=float, default=8.0, help="stop a command past this resident memory")
    parser.add_argument("--delete-over-gib", type=float, default=10.0, help="delete a sample bigger than this when done")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, cpus {os.cpu_count()}; the machine may be shared", flush=True)
    model = churn_model(args.limit_gib) if "churn" in args.commands else None
    figures = OUT / "scale_figures.json"
    previous = json.loads(figures.read_text(encoding="utf-8")) if figures.exists() else []
    rows: list[dict[str, object]] = []
    for n in args.customers:
        data, gen = sample(n, args.limit_gib)
        lines = json.loads((data / "truth.json").read_text(encoding="utf-8"))["rows"]["transactions"]
        if gen is not None:
            rows.append({"lines": lines, "customers": n, "command": "sample (generate)", **gen})
        cmds = commands(data, model)
        for name in args.commands:
            fig = timed(cmds[name], args.limit_gib)
            rows.append({"lines": lines, "customers": n, "command": name, **fig})
            print(f"{lines:>12,} lines {n:>11,} customers  {name:6s} {fig['wall_s']:>8} s {fig['peak_mib']:>7,} MiB  {fig['status']}",
                  flush=True)
        size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        if size > args.delete_over_gib * 2**30:
            shutil.rmtree(data)
            print(f"deleted {data} ({size / 2**30:.1f} GiB)", flush=True)
    # Keep the figures of the sizes and commands not re-run this time.
    done = {(r["customers"], r["command"]) for r in rows}
    merged = [r for r in previous if (r["customers"], r["command"]) not in done] + rows
    merged.sort(key=lambda r: (int(r["customers"]), str(r["command"])))
    figures.write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
    text = table(merged)
    (OUT / "scale_figures.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
