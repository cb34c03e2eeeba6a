"""`fidelcli churn train` and `fidelcli churn score` end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.churn import TrainResult
from fidelcli.cli.app import app
from fidelcli.result import Result

runner = CliRunner()


@pytest.mark.slow
def test_train_then_score(sim_files: tuple[Path, pl.DataFrame], tmp_path: Path) -> None:
    tx = str(sim_files[0])
    model, report = tmp_path / "m.json", tmp_path / "r.json"
    res = runner.invoke(app, ["churn", "train", "-t", tx, "--cutoff", "2024-09-30", "--horizon", "90d",
                              "--model-out", str(model), "--report", str(report), "--format", "csv"])
    assert res.exit_code == 0, res.stderr
    table = pl.read_csv(res.stdout.encode())
    assert table["model"].to_list() == ["gradient_boosting", "logistic_regression", "rfm_logistic", "recency", "p_alive"]
    assert table["role"].to_list() == ["saved", "candidate", "baseline", "baseline", "baseline"]
    rep = json.loads(report.read_text())
    assert rep["validation_cutoff"] == "2024-09-30" and rep["beats_baselines"] is True and rep["saved_model"] == "gradient_boosting"
    assert json.loads(model.read_text())["body"]["model"]["kind"] == "gradient_boosted_trees"
    # the printed table (rounded by the output layer) shows the report's figures
    assert table.filter(pl.col("model") == "gradient_boosting")["auc"].item() == pytest.approx(
        rep["metrics"]["gradient_boosting"]["auc"], abs=5e-7)
    assert rep["selection"] in res.stderr.splitlines()
    gains = {b: (rep[f"auc_gain_vs_{b}"], rep["auc_gain_std_errors"][b]) for b in ("rfm_logistic", "recency", "p_alive")}
    assert all(g > se for g, se in gains.values())  # figures in docs/churn.md: +0.022, +0.025, +0.227
    assert ("gradient boosting (saved) beats the baselines: AUC gain vs "
            + ", ".join(f"{name} {g:+.4f} (standard error {se:.4f})" for name, (g, se) in
                        zip(("RFM logistic", "recency", "P(alive)"), gains.values(), strict=True))) in res.stderr.splitlines()

    out = tmp_path / "scores.csv"
    res = runner.invoke(app, ["churn", "score", "-t", tx, "--model", str(model), "--as-of", "2025-01-01",
                              "--bands", "0.5,0.9", "-o", str(out), "--format", "csv"])
    assert res.exit_code == 0, res.stderr
    scores = pl.read_csv(out)
    assert scores.columns == ["customer_id", "churn_probability", "risk_band", "driver_1", "driver_2", "driver_3"]
    assert set(scores["risk_band"]) <= {"low", "medium", "high"}
    expected_band = pl.when(pl.col("churn_probability") >= 0.9).then(pl.lit("high")).when(
        pl.col("churn_probability") >= 0.5).then(pl.lit("medium")).otherwise(pl.lit("low"))
    assert scores.select((pl.col("risk_band") == expected_band).all()).item()
    summary = pl.read_csv(res.stdout.encode())
    assert summary["customers"].sum() == scores.height


def test_tampered_model_exits_2(sim_files: tuple[Path, pl.DataFrame], sim_model_file: Path, tmp_path: Path) -> None:
    doc = json.loads(sim_model_file.read_text())
    doc["body"]["metadata"]["horizon"] = "30d"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    res = runner.invoke(app, ["churn", "score", "-t", str(sim_files[0]), "--model", str(bad)])
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0] == f"error: {bad}: model file was modified after it was written (SHA-256 mismatch)"


def test_bad_horizon_exits_2(sim_files: tuple[Path, pl.DataFrame], tmp_path: Path) -> None:
    res = runner.invoke(app, ["churn", "train", "-t", str(sim_files[0]), "--horizon", "3x", "--model-out", str(tmp_path / "m.json")])
    assert res.exit_code == 2
    assert "error: horizon '3x' is not a whole number of days, weeks, months or years" in res.stderr
    assert not (tmp_path / "m.json").exists()


def test_one_year_horizon_trains(tmp_path: Path) -> None:
    # `--horizon 1y` has the grammar of every --horizon (clv's too): a year is 12 calendar months, so
    # the cutoffs fall a calendar year apart. Five simulated years, so that three cutoffs fit.
    from churn_sim import simulate

    tx, _ = simulate(1500, seed=7, days=5 * 365)
    src, report = tmp_path / "tx.parquet", tmp_path / "r.json"
    tx.write_parquet(src)
    res = runner.invoke(app, ["churn", "train", "-t", str(src), "--horizon", "1y", "--model-out", str(tmp_path / "m.json"),
                              "--report", str(report), "--format", "csv"])
    assert res.exit_code == 0, res.stderr
    rep = json.loads(report.read_text())
    assert rep["horizon"] == "1y"
    assert rep["validation_cutoff"] == "2026-12-30" and rep["train_cutoffs"] == ["2025-12-30", "2024-12-30"]
    assert "validated on features at 2026-12-30 labelled by (2026-12-30, 2027-12-30]" in res.stderr


def test_bands_from_config(sim_files: tuple[Path, pl.DataFrame], sim_model_file: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "fidelcli.toml"
    cfg.write_text("[churn]\nbands = {calm = 0.0, alert = 0.8}\n")
    res = runner.invoke(app, ["--config", str(cfg), "churn", "score", "-t", str(sim_files[0]), "--model", str(sim_model_file),
                              "-o", str(tmp_path / "s.parquet")])
    assert res.exit_code == 0, res.stderr
    scores = pl.read_parquet(tmp_path / "s.parquet")
    assert set(scores["risk_band"]) == {"calm", "alert"}
    assert scores.filter(pl.col("risk_band") == "alert")["churn_probability"].min() >= 0.8


@pytest.mark.slow
def test_train_cli_equals_the_library_call(sim_files: tuple[Path, pl.DataFrame], sim_result: TrainResult, tmp_path: Path) -> None:
    # `sim_result` is `train_churn` with the CLI's settings: cutoff 2024-09-30, 90 days, seed 0.
    res = runner.invoke(app, ["churn", "train", "-t", str(sim_files[0]), "--cutoff", "2024-09-30", "--horizon", "90d",
                              "--model-out", str(tmp_path / "m.json"), "--format", "json"])
    assert res.exit_code == 0, res.stderr
    assert isinstance(sim_result, Result)
    doc = json.loads(sim_result.to_json())
    assert json.loads(res.stdout) == doc["tables"]["metrics"]
    assert res.stderr.splitlines()[-1] == sim_result.verdict()
    assert doc["warnings"] == sim_result.report.warnings == []
    # docs/churn.md, simulated shop: 3,000 validation customers, 74.7 % churned, saved model AUC 0.906,
    # gains +0.022 / +0.025 / +0.227 over the RFM logistic, recency and P(alive) baselines.
    head = doc["headline"]
    assert (head["saved_model"], head["horizon"], head["validation_cutoff"]) == ("gradient_boosting", "90d", "2024-09-30")
    assert head["validation_customers"] == 3000 and head["beats_baselines"] is True
    assert round(head["auc"], 3) == 0.906
    assert [round(head[f"auc_gain_vs_{b}"], 3) for b in ("rfm_logistic", "recency", "p_alive")] == [0.022, 0.025, 0.227]
    # the calibration table: 3,000 customers in ten equal deciles of 300
    assert [r["customers"] for r in doc["tables"]["calibration"]] == [300] * 10
    assert [r["decile"] for r in doc["tables"]["calibration"]] == list(range(1, 11))


def test_score_cli_equals_the_library_call(sim_files: tuple[Path, pl.DataFrame], sim_model_file: Path, tmp_path: Path) -> None:
    from churn_data import load
    from polars.testing import assert_frame_equal

    from fidelcli.churn import ChurnModel, churn_score_analysis
    from fidelcli.engine import get_engine
    from fidelcli.io.rounding import round_frame

    out = tmp_path / "scores.parquet"
    res = runner.invoke(app, ["churn", "score", "-t", str(sim_files[0]), "--model", str(sim_model_file), "--as-of", "2025-01-01",
                              "--bands", "0.5,0.9", "-o", str(out), "--format", "json"])
    assert res.exit_code == 0, res.stderr
    lib = churn_score_analysis(load(sim_files[0], as_of=dt.date(2025, 1, 1)), ChurnModel.load(sim_model_file),
                               engine=get_engine("polars"), bands=[0.5, 0.9])
    assert isinstance(lib, Result)
    doc = json.loads(lib.to_json())
    assert json.loads(res.stdout) == doc["tables"]["summary"]
    assert_frame_equal(pl.read_parquet(out), round_frame(lib.tables()["scores"]))  # files are rounded as every output
    # The simulated shop's 3,000 customers all bought before 2025-01-01 (two years from 2023-01-01):
    # every one is scored, once, and the summary counts each once, in one of the three bands.
    assert doc["headline"]["as_of"] == "2025-01-01" and doc["headline"]["customers"] == 3000
    summary = lib.tables()["summary"]
    assert summary["customers"].sum() == 3000
    assert (summary["low"] + summary["medium"] + summary["high"]).to_list() == summary["customers"].to_list()
    assert doc["headline"]["high_risk_customers"] == summary["high"].sum() == lib.frame.filter(pl.col("churn_probability") >= 0.9).height
