import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.errors import InputError
from fidelcli.io.write import atomic_dir, write_frame

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
    with pytest.raises(InputError, match="cannot write 'txt'"):
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
