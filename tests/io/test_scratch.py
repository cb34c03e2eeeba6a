"""Scratch folders of a run (transcoded and spooled inputs): removed at exit, and after a kill by the next run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fidelcli.io import scratch
from fidelcli.io.read import scan_table


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_scratch_of_a_dead_run_is_removed_by_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"fidelcli-{scratch.HOST}-{dead_pid()}-abc"
    stale.mkdir()
    (stale / "copy.csv").write_text("customer_id,email\nA,someone@example.com\n")
    live = tmp_path / f"fidelcli-{scratch.HOST}-1-abc"  # PID 1 is alive
    other_host = tmp_path / f"fidelcli-00000000-{dead_pid()}-abc"
    unrelated = tmp_path / "fidelcli-notes"
    for d in (live, other_host, unrelated):
        d.mkdir()
    # A Windows-1252 file is transcoded into a scratch folder: making it removes the stale one.
    src = tmp_path / "ventes.csv"
    src.write_bytes("N° client;date;montant\nA;2024-01-02;12,50\n".encode("cp1252"))
    table = scan_table(src, "transactions")
    assert table.lf.collect()["amount"].to_list() == [12.5]
    assert not stale.exists()
    assert live.exists() and other_host.exists() and unrelated.exists()
    mine = [p for p in tmp_path.iterdir() if p.name.startswith(f"fidelcli-{scratch.HOST}-") and p not in (live,)]
    assert len(mine) == 1  # this run's own folder, kept until exit


def test_scratch_is_removed_when_the_run_exits(tmp_path: Path) -> None:
    code = (
        "import tempfile, sys; tempfile.tempdir = sys.argv[1]\n"
        "from fidelcli.io.scratch import scratch_dir\n"
        "d = scratch_dir(); (d / 'x').write_text('data'); print(d)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert not Path(out.stdout.strip()).exists()
