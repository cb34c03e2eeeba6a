"""Faults never leave a partial or stale output, and never destroy an input (SPEC section 3).

- A writer killed with SIGKILL at any point leaves the target absent or complete; its temporary is
  removed by the next write into the same directory.
- An output naming an input of the command is refused (exit 2) before anything is read or written.
- An output that cannot be written is reported before the input is read.
- `sample -o DIR` never deletes what DIR held without --force, nor the current directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from fidelcli.cli.app import app
from fidelcli.io.write import write_frame

ROOT = Path(__file__).resolve().parents[1]

# Code shared by the writing child and the checking test: the same frame on both sides.
FRAME = """
import polars as pl

def frame(n):
    i = pl.int_range(n, eager=True)
    return pl.DataFrame({"i": i, "x": i / 7, "s": i.cast(pl.String)})
"""

# The child writes frame(n) to PATH. At POINT "before-rename" it kills itself once the writer has
# returned and before the rename (a moment the parent cannot aim at from outside); at the other
# points the parent kills it. Should the write end first, it waits, so that only a kill ends it.
CHILD = FRAME + """
import os, signal, sys
from fidelcli.io import write

n, path, point = int(sys.argv[1]), sys.argv[2], sys.argv[3]
df = frame(n)
if point == "before-rename":
    real = write.WRITERS[write.format_of(path)]

    def then_killed(df, tmp):
        real(df, tmp)
        os.kill(os.getpid(), signal.SIGKILL)

    write.WRITERS[write.format_of(path)] = then_killed
write.write_frame(df, path)
print("written", flush=True)
sys.stdin.read()
"""

_ns: dict = {}
exec(FRAME, _ns)  # noqa: S102  (our own constant: the frame the child writes)
frame = _ns["frame"]

# Rows: enough for the write to take a while (~0.1 s), few enough to keep the test fast.
ROWS = {"parquet": 300_000, "xlsx": 3_000}


def _temporaries(directory: Path, name: str) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.startswith(f".{name}.fidelcli-")]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # renamed meanwhile
        return 0


def _kill_during_write(directory: Path, ext: str, point: str) -> None:
    """Run the child; SIGKILL it at `point`; reap it (a zombie's PID would still look alive)."""
    target = directory / f"out.{ext}"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROWS[ext]), str(target), point],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    try:
        if point == "before-rename":
            proc.wait(timeout=60)  # it kills itself
        else:
            deadline = time.monotonic() + 60  # a safety net, not a timing assertion

            def reached() -> bool:
                temps = _temporaries(directory, target.name)
                if point == "temporary":
                    return bool(temps) or target.exists()
                return any(_size(p) > 0 for p in temps) or target.exists()

            while proc.poll() is None and not reached():
                assert time.monotonic() < deadline, "the child never started writing"
                time.sleep(0.001)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _read(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_excel(path, schema_overrides={"s": pl.String})


@pytest.mark.parametrize("ext", ["parquet", "xlsx"])
@pytest.mark.parametrize("point", ["temporary", "data", "before-rename"])
def test_sigkill_leaves_the_target_absent_or_complete_and_no_stale_temporary(tmp_path, ext, point):
    _kill_during_write(tmp_path, ext, point)
    target = tmp_path / f"out.{ext}"
    left = _temporaries(tmp_path, target.name)
    # The rename is the only step that removes the temporary: exactly one of the two is there.
    assert len(left) + target.exists() == 1, sorted(p.name for p in tmp_path.iterdir())
    if point == "before-rename":
        assert not target.exists()
    if target.exists():
        assert_frame_equal(_read(target), frame(ROWS[ext]))
    write_frame(pl.DataFrame({"a": [1]}), tmp_path / "next.csv")  # the next write into the directory
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["next.csv"] + ([target.name] if target.exists() else []))


# --- an output never overwrites an input ---------------------------------------------------------

SALES = "customer_id,date,amount\n" + "".join(
    f"C{c},2024-{m:02d}-{d:02d},{10 + c + m}.50\n" for c in range(1, 13) for m, d in ((1, 3), (2, 10), (4, 1), (6, 15))[: 1 + c % 4]
)


@pytest.fixture
def sales(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_text(SALES)
    return path


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args))


def problems(stderr: str) -> list[str]:
    """The error and hint lines (progress log lines aside)."""
    return [line for line in stderr.splitlines() if line.startswith(("error:", "hint:"))]


@pytest.mark.parametrize("command", [["rfm"], ["clv"], ["kpi"], ["cohort"]])
def test_output_that_is_the_input_is_refused(sales, command):
    # Regression: `rfm -t in.csv -o in.csv` replaced the input with the result.
    result = invoke(*command, "-t", str(sales), "-o", str(sales))
    assert result.exit_code == 2
    assert problems(result.stderr) == [
        f"error: {sales}: -o/--output is an input of this command; refusing to overwrite it",
        "hint: write the output to another path",
    ]
    assert sales.read_text() == SALES


def test_the_same_file_by_another_path_is_refused(sales, monkeypatch):
    (sales.parent / "sub").mkdir()
    link = sales.parent / "link.csv"
    link.symlink_to(sales)
    monkeypatch.chdir(sales.parent)
    for out in ("link.csv", "sub/../sales.csv", str(sales)):
        result = invoke("rfm", "-t", "sales.csv", "-o", out)
        assert result.exit_code == 2
        assert problems(result.stderr)[0] == f"error: {out}: -o/--output is an input of this command; refusing to overwrite it"
    assert sales.read_text() == SALES


def test_output_inside_an_input_directory_is_refused(tmp_path, sales):
    result = invoke("rfm", "-t", str(tmp_path), "-o", str(sales))
    assert result.exit_code == 2
    assert problems(result.stderr)[0] == f"error: {sales}: -o/--output is an input of this command; refusing to overwrite it"


def test_clv_save_model_over_the_input_is_refused(sales, tmp_path):
    # --save-model is checked before any work: the input is intact, nothing was written.
    result = invoke("clv", "-t", str(sales), "--model", "bgnbd", "--save-model", str(sales), "-o", str(tmp_path / "clv.csv"))
    assert result.exit_code == 2
    assert problems(result.stderr) == [
        f"error: {sales}: --save-model is an input of this command; refusing to overwrite it",
        "hint: write the output to another path",
    ]
    assert sales.read_text() == SALES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales.csv"]


def test_a_new_output_beside_the_input_is_fine(sales, tmp_path):
    result = invoke("rfm", "-t", str(sales), "-o", str(tmp_path / "rfm.csv"))
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv(tmp_path / "rfm.csv").height == 12


# --- an unwritable output is found before any work -----------------------------------------------


def test_unwritable_output_is_reported_before_the_input_is_read(tmp_path):
    missing_input = tmp_path / "nope.csv"
    out = tmp_path / "no_dir" / "rfm.csv"
    result = invoke("rfm", "-t", str(missing_input), "-o", str(out))
    assert result.exit_code == 2
    assert problems(result.stderr) == [
        f"error: {out}: cannot write here: no such directory {out.parent}",
        f"hint: create it first (mkdir -p {out.parent}) or choose another path",
    ]


def test_output_that_is_a_directory_is_reported_before_the_input_is_read(tmp_path):
    (tmp_path / "rfm.csv").mkdir()
    result = invoke("clv", "-t", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "rfm.csv"))
    assert result.exit_code == 2
    assert problems(result.stderr) == [
        f"error: {tmp_path / 'rfm.csv'}: is a directory",
        f"hint: give a file name, e.g. {tmp_path / 'rfm.csv' / 'result.csv'}",
    ]


# --- sample -o DIR -------------------------------------------------------------------------------

SAMPLE = ["--customers", "20", "--format", "csv"]


def test_sample_refuses_a_non_empty_directory(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "mine.txt").write_text("precious")
    result = invoke("sample", "-o", str(out), *SAMPLE)
    assert result.exit_code == 2
    assert problems(result.stderr) == [
        f"error: {out}: is not empty; refusing to replace what it holds",
        "hint: pass --force to replace it, or give a new directory",
    ]
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_sample_force_replaces_the_directory(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "mine.txt").write_text("old")
    result = invoke("sample", "-o", str(out), *SAMPLE, "--force")
    assert result.exit_code == 0, result.stderr
    assert "mine.txt" not in {p.name for p in out.iterdir()}
    assert (out / "truth.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # nothing left beside it


def test_sample_writes_into_an_empty_directory(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    result = invoke("sample", "-o", str(out), *SAMPLE)
    assert result.exit_code == 0, result.stderr
    assert (out / "truth.json").exists()


@pytest.mark.parametrize("target", [".", "..", "CWD"])
@pytest.mark.parametrize("force", [False, True])
def test_sample_never_replaces_the_current_directory(tmp_path, monkeypatch, target, force):
    # Regression: `sample -o .` exited 3 (an internal error).
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "mine.txt").write_text("precious")
    monkeypatch.chdir(cwd)
    out = str(cwd) if target == "CWD" else target
    result = invoke("sample", "-o", out, *SAMPLE, *(["--force"] if force else []))
    assert result.exit_code == 2
    assert problems(result.stderr) == [
        f"error: {out}: is the current directory or one of its parents; refusing to replace it",
        "hint: write into a new directory, e.g. ./sample_data",
    ]
    assert [p.name for p in cwd.iterdir()] == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["work"]


def test_sample_refuses_a_file(tmp_path):
    out = tmp_path / "data"
    out.write_text("precious")
    result = invoke("sample", "-o", str(out), *SAMPLE, "--force")
    assert result.exit_code == 2
    assert problems(result.stderr) == [f"error: {out}: is not a directory", "hint: give the path of a directory to write"]
    assert out.read_text() == "precious"
