"""Every file of the bad-input corpus (tests/data/bad/, one defect each) x every reading command.

The contract (issue "Hardening", SPEC section 3): no internal error (exit 3) and no traceback on any
input; a refused input gives exit 2 and exactly one `error:` line that names the file (and the
column and row where the defect has them); a personal value planted in a file is printed nowhere;
`validate` turns each defect into an error finding (exit 1) naming the file; files the reader must
handle (BOM, Windows-1252, decimal comma, UTF-16) are read, with no NaN or inf in any output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from make_corpus import write_large  # tests/data/bad is on pytest's `pythonpath`
from typer.testing import CliRunner

from fidelcli.cli.app import app

CORPUS = Path(__file__).parent / "data" / "bad"

MANIFEST = json.loads((CORPUS / "manifest.json").read_text())

# The six commands that read transactions, each with the options it needs on this corpus (all of 2024).
COMMANDS: dict[str, list[str]] = {
    "validate": ["validate", "-t"],
    "rfm": ["rfm", "--format", "csv", "-t"],
    "kpi": ["kpi", "--period", "month", "--format", "csv", "-t"],
    "cohort": ["cohort", "--period", "month", "--format", "csv", "-t"],
    "clv": ["clv", "--model", "bgnbd", "--format", "csv", "-t"],
    "churn": ["churn", "train", "--cutoff", "2024-09-30", "--horizon", "60d", "--model-out", "{tmp}/churn.json", "-t"],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the corpus with the files too large to commit written into it."""
    out = tmp_path_factory.mktemp("bad") / "bad"
    shutil.copytree(CORPUS, out)
    write_large(out)
    return out


def run(command: str, source: str, tmp_path: Path):  # noqa: ANN201
    args = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[command]] + [source]
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("entry", MANIFEST, ids=[str(m["file"]) for m in MANIFEST])
def test_every_bad_file_with_every_command(entry: dict, command: str, corpus: Path, tmp_path: Path) -> None:
    source = str(corpus / entry["file"])
    r = run(command, source, tmp_path)
    out, err = r.stdout, r.stderr
    assert r.exit_code != 3 and "Traceback" not in out + err, err
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), repr(r.exception)
    if entry["pii"]:
        assert entry["pii"] not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    name = Path(entry["file"]).name
    expected = entry["validate"] if command == "validate" else entry["exit"]
    if command == "validate" and expected == 1:
        assert r.exit_code == 1, err
        assert name in out or name in err or (entry["file"] == "disagree" and "part2.csv" in out + err), out
        return
    if expected == 0:
        if command in ("clv", "churn") and r.exit_code == 2:
            # Too little data to fit a model is a clean refusal, and it names the file.
            assert len(errors) == 1 and name in errors[0], err
            return
        assert r.exit_code == 0, err
        for bad in ("NaN", "nan,", "inf,", ",inf"):
            assert bad not in out
        return
    assert r.exit_code == expected, (r.exit_code, out, err)
    assert len(errors) == 1, err
    line = errors[0]
    wanted = "part2.csv" if entry["file"] == "disagree" else name
    assert wanted in line, line
    if entry["column"] and entry["exit"] == 2:
        assert entry["column"] in line, line
    if entry["row"] is not None:
        assert f"row {entry['row']}" in line, line
