"""`fidelcli report` as cron runs it (subprocesses): the run directory, kpis.json against the library's
headlines, --fail-on and --compare-to, a run killed midway, two runs at once, stale locks, --keep."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from fidelcli.report import run as runs

FIDELCLI = [sys.executable, "-m", "fidelcli"]
FAST = '[report]\nsections = ["rfm", "kpi", "cohort"]\n'


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIDELCLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded 300-customer sample and a config running the quick sections."""
    root = tmp_path_factory.mktemp("shop")
    done = cli("sample", "-o", str(root / "data"), "--customers", "300", "--seed", "7", cwd=root)
    assert done.returncode == 0, done.stderr
    (root / "fast.toml").write_text(f'[inputs]\ntransactions = "data/transactions.csv"\n{FAST}', encoding="utf-8")
    return root


def tree_digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_run_directory_and_kpis_equal_the_library_headlines(shop: Path) -> None:
    done = cli("--config", "fast.toml", "report", "--out", "out1", cwd=shop)
    assert done.returncode == 0, done.stderr
    run = Path(done.stdout.strip()).parent
    assert run.parent == shop / "out1" / "runs" and (shop / "out1" / "latest").resolve() == run.resolve()
    assert (shop / "out1" / "latest.txt").read_text().strip() == f"runs/{run.name}"
    for name in ("report.html", "summary.md", "kpis.json", "manifest.json", "tables/rfm.customers.parquet", "tables/kpi.periods.parquet"):
        assert (run / name).is_file(), name
    # Every stderr line is a timestamped log line or a mapping line; no colour codes off a terminal.
    assert "\x1b[" not in done.stderr
    assert any(line.endswith("rows)") and " rfm: done in " in line for line in done.stderr.splitlines())
    kpis = json.loads((run / "kpis.json").read_text())
    # The same figures from the library, computed independently here.
    from fidelcli.analyses.kpi import kpi_analysis
    from fidelcli.analyses.rfm import rfm_analysis
    from fidelcli.clean import CleanOptions
    from fidelcli.engine import get_engine
    from fidelcli.io.read import scan_table
    from fidelcli.result import figure

    engine = get_engine("polars")
    tx = engine.load(scan_table(str(shop / "data" / "transactions.csv"), "transactions"), CleanOptions())
    for key, result in (("rfm", rfm_analysis(tx, engine=engine)), ("kpi", kpi_analysis(tx, engine=engine))):
        expected = {f"{key}.{k}": figure(v) for k, v in result.headline().items()}
        assert {k: v for k, v in kpis.items() if k.startswith(f"{key}.")} == expected
    assert kpis["validation.error"] == 0 and kpis["rfm.customers"] == 300
    manifest = json.loads((run / "manifest.json").read_text())
    src = manifest["inputs"]["transactions"]["files"][0]
    assert src["sha256"] == hashlib.sha256((shop / "data" / "transactions.csv").read_bytes()).hexdigest()
    assert manifest["rows"]["rfm"]["customers"] == 300 and set(manifest["timings"]) >= {"validation", "rfm", "kpi", "cohort", "write"}

    # --fail-on: a threshold that trips (300 >= 300) is exit 1 naming it; one that does not is exit 0.
    done = cli("--config", "fast.toml", "report", "--out", "out1", "--fail-on", "rfm.customers>=300", "--fail-on", "churn_rate>1", cwd=shop)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "error: 1 threshold tripped: rfm.customers>=300: rfm.customers = 300"
    done = cli("--config", "fast.toml", "report", "--out", "out1", "--fail-on", "rfm.custmers>1", cwd=shop)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-2:] == ["error: --fail-on: unknown figure 'rfm.custmers'",
                                             "hint: did you mean 'rfm.customers'? (the keys are those of kpis.json)"]
    done = cli("--config", "fast.toml", "report", "--out", "out1", "--fail-on", "churn_rate>>1", cwd=shop)
    assert done.returncode == 2 and "is not KEY OP NUMBER" in done.stderr
    assert len(list((shop / "out1" / "runs").iterdir())) == 3  # the malformed threshold stopped before any run


@pytest.mark.slow
def test_compare_to_by_hand(shop: Path) -> None:
    done = cli("--config", "fast.toml", "report", "--out", "before", cwd=shop)
    assert done.returncode == 0, done.stderr
    # The next night: 20 customers fewer (their transactions dropped).
    tx = pl.read_csv(shop / "data" / "transactions.csv", infer_schema=False)
    gone = sorted(tx["customer_id"].unique().to_list())[:20]
    tx.filter(~pl.col("customer_id").is_in(gone)).write_csv(shop / "fewer.csv")
    (shop / "fewer.toml").write_text(f'[inputs]\ntransactions = "fewer.csv"\n{FAST}', encoding="utf-8")
    done = cli("--config", "fewer.toml", "report", "--out", "after", "--compare-to", "before", "--fail-on", "rfm.customers.change<-19", cwd=shop)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == "error: 1 threshold tripped: rfm.customers.change<-19: rfm.customers.change = -20"
    run = Path(done.stdout.strip()).parent
    comparison = json.loads((run / "comparison.json").read_text())["changes"]
    assert comparison["rfm.customers.change"] == -20  # 280 - 300
    assert comparison["rfm.customers.change_pct"] == pytest.approx(-20 / 300 * 100)
    migration = pl.read_parquet(run / "tables" / "rfm.migration.parquet")
    # Every previous customer is counted once; the 20 dropped ones are (gone), nobody is (new).
    assert migration.drop("previous_segment").sum_horizontal().sum() == 300
    assert migration["(gone)"].sum() == 20
    assert migration.filter(pl.col("previous_segment") == "(new)").drop("previous_segment").sum_horizontal().item() == 0
    assert 'data-chart="rfm-migration"' in (run / "report.html").read_text()


def _wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 240) -> str:
    """Read the process's stderr until a line contains `text`."""
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never logged:\n{seen}")


@pytest.mark.slow
def test_killed_run_leaves_the_previous_report_intact(shop: Path) -> None:
    (shop / "full.toml").write_text('[inputs]\ntransactions = "data/transactions.csv"\n[report]\nsections = ["rfm", "kpi", "cohort", "clv"]\n')
    done = cli("--config", "fast.toml", "report", "--out", "nightly", cwd=shop)
    assert done.returncode == 0, done.stderr
    first = (shop / "nightly" / "latest").resolve()
    before = tree_digest(first)
    proc = subprocess.Popen([*FIDELCLI, "--config", "full.toml", "report", "--out", "nightly"], cwd=shop, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    try:
        _wait_for(proc, "clv: computing")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert (shop / "nightly" / "latest").resolve() == first and tree_digest(first) == before
    assert [p.name for p in (shop / "nightly" / "runs").iterdir() if not p.name.startswith(".")] == [first.name]
    assert json.loads((shop / "nightly" / ".lock").read_text())["pid"] == proc.pid  # the dead run's lock is left
    # The next run takes the stale lock over and completes.
    done = cli("--config", "fast.toml", "report", "--out", "nightly", cwd=shop)
    assert done.returncode == 0, done.stderr
    assert f"took over the stale lock of a dead run (pid {proc.pid})" in done.stderr
    assert (shop / "nightly" / "latest").resolve() != first and not (shop / "nightly" / ".lock").exists()


@pytest.mark.slow
def test_two_runs_at_once_one_refused_one_waits(shop: Path) -> None:
    # A holder process takes the directory's lock as a running report does and keeps it until told:
    # the outcome does not depend on how fast a report runs on a loaded machine.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from fidelcli.report import run\n"
        "with run.locked(Path('twice')):\n    print('locked', flush=True); sys.stdin.readline()\n")],
        cwd=shop, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = cli("--config", "fast.toml", "report", "--out", "twice", cwd=shop)
        assert refused.returncode == 2
        assert refused.stderr.splitlines()[-2:] == [f"error: twice: another report run (pid {holder.pid}) is writing this directory",
                                                    "hint: wait for it to finish, or give --wait SECONDS"]
        assert not (shop / "twice" / "runs").exists()  # the refused run wrote nothing
        waiting = subprocess.Popen([*FIDELCLI, "--config", "fast.toml", "report", "--out", "twice", "--wait", "600"], cwd=shop,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        assert waiting.poll() is None  # still waiting for the lock
    finally:
        holder.communicate("\n", timeout=60)
    out, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, err
    # Two real runs started together: both complete, each in its own run directory.
    both = [subprocess.Popen([*FIDELCLI, "--config", "fast.toml", "report", "--out", "twice", "--wait", "600"], cwd=shop,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in both:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    complete = sorted(p.name for p in (shop / "twice" / "runs").iterdir() if not p.name.startswith("."))
    assert len(complete) == 3 and (shop / "twice" / "latest").resolve().name in complete
    for name in complete:  # all complete and readable: none wrote into another
        assert json.loads((shop / "twice" / "runs" / name / "kpis.json").read_text())["rfm.customers"] == 300


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / runs.LOCK).write_text(json.dumps({"host": runs.HOST, "pid": dead.pid}))
    with runs.locked(tmp_path) as notes:
        assert notes == [f"took over the stale lock of a dead run (pid {dead.pid})"]
        assert json.loads((tmp_path / runs.LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / runs.LOCK).exists()


def test_keep_prunes_the_oldest_runs_never_latest(tmp_path: Path) -> None:
    names = ["20250101T000000Z", "20250102T000000Z", "20250103T000000Z", "20250104T000000Z"]
    for n in names:
        (tmp_path / runs.RUNS / n).mkdir(parents=True)
        (tmp_path / runs.RUNS / n / "kpis.json").write_text("{}")
    runs.publish(tmp_path, tmp_path / runs.RUNS / names[1])  # latest is an older run (e.g. a re-run of it)
    removed = runs.prune(tmp_path, 2)
    assert [p.name for p in removed] == [names[0]]
    assert sorted(p.name for p in (tmp_path / runs.RUNS).iterdir()) == names[1:]


@pytest.mark.slow
def test_french_report(shop: Path) -> None:
    done = cli("--config", "fast.toml", "report", "--out", "fr", "--lang", "fr", cwd=shop)
    assert done.returncode == 0, done.stderr
    page = Path(done.stdout.strip()).read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and "<title>Rapport de fidélité</title>" in page
    for text in ("Indicateurs clés", "Qualité des données", "Tendances des indicateurs", "Rétention par cohorte", "chiffre d&#x27;affaires"):
        assert text in page, text
    # Numbers in the French way: a decimal comma and a space before %.
    assert "\u202f%" in page
    assert ">clients<" in page and ">customers<" not in page
