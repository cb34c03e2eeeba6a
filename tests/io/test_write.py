import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.errors import OutputError
from fidelcli.io import scratch, write
from fidelcli.io.rounding import NonFiniteValueWarning, column_kind, round_frame
from fidelcli.io.write import (
    atomic_dir,
    atomic_path,
    check_not_input,
    check_writable,
    forget_inputs,
    protect_inputs,
    remove_stale_temporaries,
    write_frame,
)

DF = pl.DataFrame({"customer_id": ["007", "010"], "revenue": [12.5, 3.0]})


@pytest.mark.parametrize("ext", ["csv", "parquet", "json", "jsonl", "xlsx"])
def test_round_trip_by_extension(tmp_path, ext):
    path = write_frame(DF, tmp_path / f"out.{ext}")
    if ext == "csv":
        back = pl.read_csv(path, schema_overrides={"customer_id": pl.String})
    elif ext == "parquet":
        back = pl.read_parquet(path)
    elif ext == "json":
        back = pl.DataFrame(json.loads(path.read_text()))
    elif ext == "jsonl":
        back = pl.read_ndjson(path)
    else:
        back = pl.read_excel(path, schema_overrides={"customer_id": pl.String})
    assert_frame_equal(back, DF)
    assert [p.name for p in tmp_path.iterdir()] == [f"out.{ext}"]  # no temporary file left


def test_unknown_extension(tmp_path):
    with pytest.raises(OutputError, match="cannot write 'txt'"):
        write_frame(DF, tmp_path / "out.txt")


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    path.write_text("previous\n")

    def boom(self, file, **kw):
        with open(file, "w") as fh:
            fh.write("half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_csv", boom)
    with pytest.raises(RuntimeError):
        write_frame(DF, path)
    assert path.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_dir_replaces_only_on_success(tmp_path):
    target = tmp_path / "run"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1"
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2")
        raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]


# --- stale temporaries of killed writers --------------------------------------------------------


def _dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temporary(directory: Path, name: str, *, pid: int, host: str | None = None, kind: str = "tmp") -> Path:
    path = directory / f".{name}.fidelcli-{host or scratch.HOST}-{pid}-abcd1234.{kind}"
    if kind == "old":
        path.mkdir()
        (path / "part.csv").write_text("half")
    else:
        path.write_text("half")
    return path


def test_temporary_is_named_after_its_writer(tmp_path):
    with atomic_path(tmp_path / "out.csv") as tmp:
        assert tmp.parent == tmp_path  # same filesystem: the rename is atomic
        assert tmp.name.startswith(f".out.csv.fidelcli-{scratch.HOST}-{os.getpid()}-")
        assert tmp.name.endswith(".tmp")
        assert write._TEMPORARY.match(tmp.name)
        tmp.write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_next_write_removes_the_temporaries_of_dead_writers(tmp_path):
    dead = _dead_pid()
    _temporary(tmp_path, "out.parquet", pid=dead)
    _temporary(tmp_path, "plots", pid=dead, kind="old")  # a directory being replaced by atomic_dir
    alive = _temporary(tmp_path, "other.csv", pid=os.getppid())  # a writer still running
    remote = _temporary(tmp_path, "out.xlsx", pid=dead, host="0123abcd")  # another host: its PIDs mean nothing here
    mine = tmp_path / ".out.parquet.abcd1234.tmp"  # not a name we write: never touched
    mine.write_text("keep")
    write_frame(DF, tmp_path / "next.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["next.csv", alive.name, remote.name, mine.name])


def test_a_leftover_with_our_own_pid_is_stale_unless_in_use(tmp_path):
    # Our PID on a temporary we are not writing: a dead process had it before us.
    leftover = _temporary(tmp_path, "out.csv", pid=os.getpid())
    with atomic_path(tmp_path / "a.csv") as tmp:
        assert not leftover.exists()
        tmp.write_text("1")
        assert remove_stale_temporaries(tmp_path) == []  # the temporary in use is kept
        assert tmp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_remove_stale_temporaries_of_a_missing_directory(tmp_path):
    assert remove_stale_temporaries(tmp_path / "nope") == []


# --- inputs are never overwritten ---------------------------------------------------------------


@pytest.fixture
def protected(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("customer_id,revenue\n1,2\n")
    protect_inputs([src, tmp_path / "missing.csv"])  # a missing file is ignored
    yield src
    forget_inputs()


def test_write_over_a_protected_input_is_refused(tmp_path, protected):
    link = tmp_path / "link.csv"
    link.symlink_to(protected)
    for path in (protected, link, tmp_path / "sub" / ".." / "in.csv"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(OutputError) as err:
            write_frame(DF, path)
        assert str(err.value) == f"{path}: the output is an input of this command; refusing to overwrite it"
        assert err.value.hint == "write the output to another path"
    assert protected.read_text() == "customer_id,revenue\n1,2\n"
    write_frame(DF, tmp_path / "out.csv")  # any other file is fine
    forget_inputs()
    write_frame(DF, protected)
    assert_frame_equal(pl.read_csv(protected, schema_overrides={"customer_id": pl.String}), DF)


def test_check_not_input_names_the_option(protected):
    with pytest.raises(OutputError, match=r"in.csv: -o/--output is an input of this command"):
        check_not_input(protected, what="-o/--output")


def test_atomic_dir_refuses_a_directory_holding_an_input(tmp_path, protected):
    with pytest.raises(OutputError, match="is an input of this command"), atomic_dir(tmp_path):
        pass
    assert protected.exists()


# --- directories that must never be replaced ----------------------------------------------------


@pytest.mark.parametrize("target", [".", "..", "CWD", "PARENT"])
def test_atomic_dir_never_replaces_the_current_directory_or_a_parent(tmp_path, monkeypatch, target):
    # Regression: `sample -o .` crashed (exit 3); a parent of the cwd would have been deleted.
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "data.csv").write_text("precious")
    monkeypatch.chdir(cwd)
    path = Path({"CWD": str(cwd), "PARENT": str(tmp_path)}.get(target, target))
    with pytest.raises(OutputError) as err, atomic_dir(path) as tmp:
        (tmp / "a.txt").write_text("1")
    assert str(err.value) == f"{path}: is the current directory or one of its parents; refusing to replace it"
    assert (cwd / "data.csv").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_atomic_dir_replaces_a_symlink_not_what_it_points_to(tmp_path):
    target, real = tmp_path / "run", tmp_path / "real"
    real.mkdir()
    (real / "keep.txt").write_text("k")
    target.symlink_to(real)
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert not target.is_symlink() and sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert (real / "keep.txt").read_text() == "k"  # the link is replaced, not what it pointed to
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real", "run"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_exchange_swaps_two_directories_in_one_step(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "new.txt").write_text("new")
    (b / "old.txt").write_text("old")
    assert write._exchange(a, b)
    assert [p.name for p in b.iterdir()] == ["new.txt"] and [p.name for p in a.iterdir()] == ["old.txt"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_atomic_dir_swaps_on_linux_so_the_target_is_never_missing(tmp_path, monkeypatch):
    def no_rename(src, dst):
        raise AssertionError(f"moved {src} to {dst}: a moment without the target")

    monkeypatch.setattr(write.os, "replace", no_rename)
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_atomic_dir_without_an_atomic_swap(tmp_path, monkeypatch):
    # Where renameat2 is missing: the old content moves aside, the new one in, the old one is removed.
    monkeypatch.setattr(write, "_exchange", lambda a, b: False)
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_atomic_dir_keeps_the_old_content_when_the_new_one_cannot_move_in(tmp_path, monkeypatch):
    monkeypatch.setattr(write, "_exchange", lambda a, b: False)
    real_replace = os.replace

    def second_fails(src, dst):
        if Path(src).name.endswith(".tmp"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(write.os, "replace", second_fails)
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(OSError, match="No space"), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# --- writable or not, known before any work -----------------------------------------------------


def test_check_writable_accepts_a_writable_place(tmp_path, monkeypatch):
    check_writable(tmp_path / "out.csv")
    (tmp_path / "out.csv").write_text("old")  # an existing file is replaced by the rename
    check_writable(tmp_path / "out.csv")
    check_writable(tmp_path / "a" / "b", directory=True)  # a directory's missing parents are made
    monkeypatch.chdir(tmp_path)
    check_writable(Path("out.csv"))


def test_check_writable_refusals(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    (tmp_path / "dir.csv").mkdir()
    cases = [
        (tmp_path / "missing" / "out.csv", {},
         f"cannot write here: no such directory {tmp_path / 'missing'}", f"create it first (mkdir -p {tmp_path / 'missing'}) or choose another path"),
        (blocker / "out.csv", {}, f"cannot write here: {blocker} is not a directory", "choose a writable directory"),
        (blocker / "a" / "b", {"directory": True}, f"cannot write here: {blocker} is not a directory", "choose a writable directory"),
        (tmp_path / "dir.csv", {}, "is a directory", f"give a file name, e.g. {tmp_path / 'dir.csv' / 'result.csv'}"),
        (blocker, {"directory": True}, "is not a directory", "give the path of a directory to write"),
    ]
    for path, kw, message, hint in cases:
        with pytest.raises(OutputError) as err:
            check_writable(path, **kw)
        assert (err.value.file, err.value.message, err.value.hint) == (str(path), message, hint)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions do not bind root")
def test_check_writable_without_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(OutputError, match="no permission to write in"):
            check_writable(locked / "out.csv")
    finally:
        locked.chmod(0o700)


def test_check_writable_without_permission_as_any_user(tmp_path, monkeypatch):
    # Root bypasses permission bits: simulate the refusal the kernel gives to other users.
    monkeypatch.setattr(write.os, "access", lambda path, mode: False)
    with pytest.raises(OutputError) as err:
        check_writable(tmp_path / "out.csv")
    assert (err.value.message, err.value.hint) == (f"cannot write here: no permission to write in {tmp_path}", "choose a writable directory")


# --------------------------------------------------------------------------------------------
# Rounding at the boundary (issue 11, item 6; docs/output.md)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [
    ("revenue", "money"), ("customer_revenue", "money"), ("revenue_per_customer", "money"), ("amount", "money"),
    ("monetary_value", "money"), ("clv", "money"), ("clv_upper", "money"), ("aov", "money"), ("expected_value", "money"),
    ("marketing_spend", "money"), ("cost_per_lead", "money"), ("profit_per_customer", "money"),
    ("revenue_share", "rate"), ("repeat_purchase_rate", "rate"), ("p_alive", "rate"), ("churn_probability", "rate"),
    ("share", "rate"), ("retention", "rate"), ("csat", "rate"), ("3", "rate"),
    ("customers", "count"), ("new_customers", "count"), ("nps_responses", "count"), ("orders", "count"), ("frequency", "count"),
    ("clv_to_cac", "measure"), ("spend_frequency_correlation", "measure"), ("purchase_frequency", "measure"),
    ("expected_purchases", "measure"), ("nps", "measure"), ("T", "measure"), ("log_likelihood", "measure"), ("value", "measure"),
])
def test_column_kind_by_name(name, kind):
    assert column_kind(name) == kind


def test_money_is_rounded_to_the_cent(tmp_path):
    # 892.8000000000001 is what a sum of 0.1-steps gives in another order; cents are halved away from zero.
    df = pl.DataFrame({"customer_id": ["a", "b"], "revenue": [892.8000000000001, 0.125], "p_alive": [0.035500000000000004, 1 / 3],
                       "orders": [73.0, 2.0], "T": [156.42857142857142, 0.000123456789], "aov": [-0.001, None]})
    path = write_frame(df, tmp_path / "out.csv")
    assert path.read_text().splitlines() == [
        "customer_id,revenue,p_alive,orders,T,aov",
        "a,892.8,0.0355,73,156.428571,0.0",
        "b,0.13,0.333333,2,0.000123457,",
    ]
    back = pl.read_parquet(write_frame(df, tmp_path / "out.parquet"))
    assert back.schema["orders"] == pl.Int64 and back["revenue"].to_list() == [892.8, 0.13]


def test_fractional_counts_keep_their_decimals():
    df = round_frame(pl.DataFrame({"customers": [2.5, 1.0], "frequency": [13.456789123, 1.0]}))
    assert df.to_dict(as_series=False) == {"customers": [2.5, 1.0], "frequency": [13.456789, 1.0]}


def test_long_frame_rounds_each_row_by_its_kpi():
    df = pl.DataFrame({"kpi": ["revenue", "repeat_purchase_rate", "active_customers", "purchase_frequency"],
                       "previous": [29339.194999, 0.22905759162303665, 297.0, 1.2861952861952862],
                       "delta": [4717.640000001, -0.020880000000000003, 25.0, 0.011940000000000001]})
    assert round_frame(df).to_dict(as_series=False) == {
        "kpi": ["revenue", "repeat_purchase_rate", "active_customers", "purchase_frequency"],
        "previous": [29339.19, 0.229058, 297.0, 1.286195],
        "delta": [4717.64, -0.02088, 25.0, 0.01194],
    }


def test_non_finite_values_are_written_as_null_and_flagged(tmp_path):
    df = pl.DataFrame({"customer_id": ["a", "b", "c"], "clv": [float("nan"), float("inf"), 1.5]})
    # Under the suite's filterwarnings = error, a NaN reaching a file is a failing test: a bug.
    with pytest.raises(NonFiniteValueWarning):
        write_frame(df, tmp_path / "bug.csv")
    with pytest.warns(NonFiniteValueWarning, match="column 'clv': 2 value"):
        path = write_frame(df, tmp_path / "out.json")
    assert json.loads(path.read_text()) == [{"customer_id": "a", "clv": None}, {"customer_id": "b", "clv": None},
                                            {"customer_id": "c", "clv": 1.5}]


@pytest.mark.parametrize("ext", ["csv", "parquet", "json", "jsonl", "xlsx"])
def test_same_frame_same_bytes(tmp_path, ext):
    df = pl.DataFrame({"customer_id": ["a", "b"], "revenue": [892.8000000000001, 3.0], "p_alive": [0.5, 0.25]})
    first = write_frame(df, tmp_path / f"a.{ext}").read_bytes()
    # A second later (xlsx stamps its creation time), with the last bit of the sums different.
    time.sleep(1.1 if ext == "xlsx" else 0)
    noisy = df.with_columns(revenue=pl.Series([892.8, 3.0000000000000004]))
    assert write_frame(noisy, tmp_path / f"b.{ext}").read_bytes() == first
