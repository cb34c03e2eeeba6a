"""The report as a nightly job on a CRM database: transactions and customers read from a real
PostgreSQL server (Debian's `postgresql`, started here on a local port in a temporary cluster, as the
non-root `postgres` user) through `postgresql://` URIs of `[inputs]`. Skips without the server."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    if not BIN or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("no PostgreSQL server (make test-services installs it)")
    pytest.importorskip("psycopg")
    # Outside pytest's 0700 temporary root: the postgres user must reach the cluster's directory.
    root = Path(tempfile.mkdtemp(prefix="fidelcli-pg-"))
    root.chmod(0o777)
    data = root / "cluster"
    port = _free_port()
    done = _as_postgres(f"{BIN[-1]}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
    if done.returncode != 0:
        pytest.skip(f"initdb failed: {done.stderr.strip()[:200]}")
    done = _as_postgres(f"{BIN[-1]}/pg_ctl", "-D", str(data), "-o", f"-p {port} -k {data} -h 127.0.0.1", "-l", str(data / "log"), "-w", "start")
    assert done.returncode == 0, done.stderr
    try:
        yield port
    finally:
        _as_postgres(f"{BIN[-1]}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_nightly_report_from_postgresql(server: int, tmp_path: Path) -> None:
    import polars as pl
    import psycopg

    shop = tmp_path / "shop"
    done = subprocess.run([sys.executable, "-m", "fidelcli", "sample", "-o", str(shop), "--customers", "200", "--seed", "5"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    dsn = f"postgresql://postgres@127.0.0.1:{server}/postgres"
    tx = pl.read_csv(shop / "transactions.csv", infer_schema=False)
    customers = pl.read_csv(shop / "customers.csv", infer_schema=False).select("customer_id", "signup_date", "country")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, df in (("sales", tx), ("crm_customers", customers)):
            cols = ", ".join(f'"{c}" text' for c in df.columns)
            conn.execute(f'DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({cols})')
            with conn.cursor().copy(f"COPY {name} FROM STDIN") as copy:
                for row in df.iter_rows():
                    copy.write_row(row)
    (tmp_path / "nightly.toml").write_text(f'[inputs]\ntransactions = "{dsn}?table=sales"\ncustomers = "{dsn}?table=crm_customers"\n'
                                           '[report]\nsections = ["rfm", "kpi", "cohort"]\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("TERM", "COLUMNS")}
    done = subprocess.run([sys.executable, "-m", "fidelcli", "--config", "nightly.toml", "report", "--out", "reports"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == 0, done.stderr
    run = Path(done.stdout.strip()).parent
    kpis = json.loads((run / "kpis.json").read_text())
    assert kpis["rfm.customers"] == tx["customer_id"].n_unique()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["inputs"]["transactions"] == {"source": f"postgresql://127.0.0.1:{server}/postgres", "kind": "database"}
