"""Benchmark of the CLV model fits: BG/NBD on 1,000,000 customers, Pareto/NBD on 100,000 and
1,000,000, against lifetimes 0.11.3 on the same summaries.

Run:  .venv/bin/python bench/bench_clv_fit.py [--skip-lifetimes] [--customers 1000000]
      .venv/bin/python bench/bench_clv_fit.py --growth [--sizes 100000 1000000 10000000]

--growth shows that a fit's cost follows the distinct rows, not the customers: for each size, the
same simulation (BG/NBD in whole days, in weeks; mean spends in cents), the time to compress the
customers' rows (grows with customers), the distinct (x, t_x, T) rows, and the BG/NBD and
Gamma-Gamma fits on the compressed rows (the BG/NBD fit's cost follows the distinct rows).

Customers are simulated (seeded) from known parameters with dates in whole days, then expressed
in weeks (days / 7), as `fidelcli clv` does. lifetimes runs in its own venv, created on first use
under bench/.venv-lifetimes (python -m venv; pip install lifetimes==0.11.3), through a subprocess;
it gets the same compressed summary with its own `weights` argument. Its stored log-likelihood is
a penalized MEAN on rescaled time, so the script recomputes the TOTAL log-likelihood in weeks
with lifetimes' own likelihood function at lifetimes' parameters, and compares it with ours.
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from fidelcli.models import BGNBD, ParetoNBD, compress  # noqa: E402
from fidelcli.models.bgnbd import bg_loglik  # noqa: E402
from fidelcli.models.pnbd import pnbd_loglik  # noqa: E402

LIFETIMES_VENV = ROOT / ".venv-lifetimes"
BG_TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
PNBD_TRUE = {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 11.7}


def simulate_days(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in weeks from whole days, as a transaction log gives them: first purchases
    spread over a year at a random time of day u, calibration ending at a midnight; t_x and T are
    differences of day numbers (T_days, floor(u + t_x)). Given N(T') = k purchases in the observed
    window T', their times are uniform order statistics, so the last of x purchases sits at
    T' * Beta(x, k - x + 1)."""
    rng = np.random.default_rng(seed)
    T_days = rng.integers(1, 366, size=n).astype(float)
    u = rng.random(n)  # time of day of the first purchase, in days
    T = (T_days - u) / 7.0  # continuous observation window, weeks
    if kind == "bgnbd":
        lam = rng.gamma(BG_TRUE["r"], 1.0 / BG_TRUE["alpha"], size=n)
        p = rng.beta(BG_TRUE["a"], BG_TRUE["b"], size=n)
        k = rng.poisson(lam * T)
        x = np.minimum(k, rng.geometric(p))  # dies right after purchase J ~ Geometric(p)
        t_x = T * rng.beta(np.maximum(x, 1), k - x + 1)
    else:
        lam = rng.gamma(PNBD_TRUE["r"], 1.0 / PNBD_TRUE["alpha"], size=n)
        mu = rng.gamma(PNBD_TRUE["s"], 1.0 / PNBD_TRUE["beta"], size=n)
        window = np.minimum(rng.exponential(1.0 / mu), T)
        x = rng.poisson(lam * window)
        t_x = window * rng.random(n) ** (1.0 / np.maximum(x, 1))  # max of x uniforms
    t_days = np.where(x > 0, np.floor(u + t_x * 7.0), 0.0)
    return x.astype(float), t_days / 7.0, T_days / 7.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def fit_ours(cls: type, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, repeats: int) -> dict:
    """Fit `repeats` times (compression included); min and median wall time."""
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = cls().fit(x, t_x, T)
        walls.append(time.perf_counter() - t0)
    return {"wall_s": min(walls), "median_s": float(np.median(walls)), "params": model.params_,
            "ll": model.log_likelihood_, "converged": model.converged_,
            "n_distinct": model.n_distinct_}


LIFETIMES_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from lifetimes import BetaGeoFitter, ParetoNBDFitter
path, kind = sys.argv[1], sys.argv[2]
d = np.load(path)
x, t_x, T, w = d["x"], d["t_x"], d["T"], d["w"]
cls = BetaGeoFitter if kind == "bgnbd" else ParetoNBDFitter
t0 = time.perf_counter()
m = cls(penalizer_coef=0.0).fit(x, t_x, T, weights=w)
wall = time.perf_counter() - t0
names = ["r", "alpha", "a", "b"] if kind == "bgnbd" else ["r", "alpha", "s", "beta"]
params = np.array([float(m.params_[k]) for k in names])
# Recompute the TOTAL log-likelihood in weeks with lifetimes' own per-row formula at its
# (unscaled) parameters: BetaGeoFitter's objective is -(weighted mean) + penalty in log-params;
# ParetoNBDFitter exposes the per-row log-likelihood directly.
if kind == "bgnbd":
    total = -cls._negative_log_likelihood(np.log(params), x, t_x, T, w, 0.0) * w.sum()
else:
    total = (w * cls._conditional_log_likelihood(params, x, t_x, T)).sum()
print(json.dumps({"wall_s": wall, "params": dict(zip(names, params.tolist())),
                  "ll_total_weeks": float(total),
                  "stored_objective_rescaled": float(m._negative_log_likelihood_)}))
"""


def ensure_lifetimes() -> Path:
    python = LIFETIMES_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LIFETIMES_VENV)], check=True)
        (LIFETIMES_VENV / ".gitignore").write_text("*\n")
        subprocess.run([str(python), "-m", "pip", "install", "-q", "lifetimes==0.11.3"],
                       check=True)
    (LIFETIMES_VENV / ".gitignore").write_text("*\n")
    return python


def run_lifetimes(python: Path, kind: str, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                  ) -> dict:
    cx, ct, cT, cw = compress(x, t_x, T)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cbs.npz")
        np.savez(path, x=cx, t_x=ct, T=cT, w=cw)
        out = subprocess.run([str(python), "-c", LIFETIMES_SCRIPT, path, kind], check=True,
                             capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def growth(sizes: list[int]) -> None:
    """Compression and fit times per size (see the module docstring)."""
    from fidelcli.models import GammaGamma

    print(f"{'customers':>11} {'distinct xtT':>12} {'compress s':>10} {'BG/NBD fit s':>12} {'distinct x,m':>12} "
          f"{'GG compress s':>13} {'GG fit s':>8} {'peak MB':>8}")
    for n in sizes:
        x, t_x, T = simulate_days("bgnbd", n, seed=2024)
        rng = np.random.default_rng(7)
        nu = rng.gamma(4.0, 1.0 / 15.0, size=n)
        k = np.maximum(x, 1)
        m = np.round(rng.gamma(6.0 * k, 1.0 / nu) / k, 2)  # mean spend of x purchases, in cents
        t0 = time.perf_counter()
        cx, ct, cT, cw = compress(x, t_x, T)
        t1 = time.perf_counter()
        BGNBD().fit(cx, ct, cT, weights=cw)
        t2 = time.perf_counter()
        keep = x > 0
        gx, gm, gw = compress(x[keep], m[keep])
        t3 = time.perf_counter()
        GammaGamma().fit(gx, gm, weights=gw)
        t4 = time.perf_counter()
        print(f"{n:>11,} {cx.size:>12,} {t1 - t0:>10.2f} {t2 - t1:>12.2f} {gx.size:>12,} {t3 - t2:>13.2f} {t4 - t3:>8.2f} "
              f"{peak_rss_mb():>8.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--growth", action="store_true", help="fit cost against customers and distinct rows")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skip-lifetimes", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per case")
    args = parser.parse_args()
    if args.growth:
        growth(args.sizes)
        return
    n = args.customers
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cpus {os.cpu_count()}")

    rows = []
    t0 = time.perf_counter()
    bg = simulate_days("bgnbd", n, seed=2024)
    pn = simulate_days("pnbd", n, seed=2025)
    print(f"simulated 2 x {n:,} customers in {time.perf_counter() - t0:.2f} s")
    cases = [("bgnbd", BGNBD, bg, n), ("pnbd", ParetoNBD, pn, n // 10), ("pnbd", ParetoNBD, pn, n)]
    python = None if args.skip_lifetimes else ensure_lifetimes()
    for kind, cls, data, size in cases:
        x, t_x, T = (c[:size] for c in data)
        ours = fit_ours(cls, x, t_x, T, args.repeats)
        line = (f"{kind:6s} n={size:>9,} distinct={ours['n_distinct']:>8,} "
                f"fidelcli {ours['wall_s']:7.3f} s (min of {args.repeats}, median "
                f"{ours['median_s']:.3f} s)  LL={ours['ll']:.6f} "
                f"converged={ours['converged']} peak RSS {peak_rss_mb():.0f} MB")
        print(line)
        print(f"       params {json.dumps({k: round(v, 5) for k, v in ours['params'].items()})}")
        if python is not None:
            lt = run_lifetimes(python, kind, x, t_x, T)
            p = np.array(list(lt["params"].values()))
            at_theirs = bg_loglik(p, x, t_x, T, modified=False) if kind == "bgnbd" else pnbd_loglik(p, x, t_x, T)
            ours_at_theirs = float(at_theirs.sum())
            rel = abs(lt["ll_total_weeks"] - ours["ll"]) / abs(ours["ll"])
            print(f"       lifetimes {lt['wall_s']:7.3f} s (compressed rows + weights)  "
                  f"LL total in weeks={lt['ll_total_weeks']:.6f}  rel. diff vs fidelcli "
                  f"{rel:.2e} ({'OK' if rel < 1e-6 else 'MISMATCH'})  "
                  f"[its stored objective, rescaled time: {lt['stored_objective_rescaled']:.6f}]")
            their = json.dumps({k: round(v, 5) for k, v in lt["params"].items()})
            print(f"       lifetimes params {their}; fidelcli LL at lifetimes' params "
                  f"{ours_at_theirs:.6f}")
        rows.append((kind, size, ours))


if __name__ == "__main__":
    main()
