"""Diverging trials, searches where every trial fails, and writes that a kill cannot tear."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from common import files
from common.errors import SearchFailedError
from tuning.config import RunConfig
from tuning.run import folder as outputs
from tuning.run import pipeline
from tuning.search.oracles import RandomOracle


def _regression_csv(folder: Path) -> str:
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=60), rng.normal(size=60)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "y": 3 * x1 - 2 * x2 + 10 + rng.normal(0, 0.1, 60)})
    frame.loc[[3, 17], "x1"] = [np.inf, -np.inf]  # read as missing, with a warning
    frame.to_csv(folder / "data.csv", index=False)
    return str(folder / "data.csv")


def _run(tmp_path: Path, learning_rates: str, tuner: str, trials: int, monkeypatch) -> tuple:
    # Plain SGD with a learning rate of 5 diverges on this standardized regression at once.
    (tmp_path / "space.toml").write_text(
        f'layers = 1\nunits = [8, 16]\nactivation = "relu"\noptimizer = "sgd"\n'
        f"learning_rate = {learning_rates}\nbatch_size = 8\nl2 = 0\ndropout = 0\n"
        'numeric_encoding = "standard"\nl1 = 0\n'
    )
    config = RunConfig(data=_regression_csv(tmp_path), target="y",
                       space=str(tmp_path / "space.toml"), tuner=tuner, max_trials=trials,
                       epochs=3, patience=0, cv=0, ensemble=1, out=str(tmp_path / "runs"),
                       name="run")
    monkeypatch.setattr(outputs, "export_best", lambda *args, **kwargs: {})  # tested elsewhere
    lines: list[str] = []
    run_dir = tmp_path / "runs" / "run"
    try:
        pipeline.run(config, report=lines.append)
    finally:
        rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    return run_dir, rows, lines


def test_a_diverging_trial_fails_alone_and_the_search_goes_on(tmp_path, monkeypatch, seed):
    # The grid runs 0.01, 5.0, 0.02 for 8 units: the middle trial diverges.
    run_dir, rows, lines = _run(tmp_path, "[0.01, 5.0, 0.02]", "grid", 3, monkeypatch)
    assert [r["status"] for r in rows] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert [r["learning_rate"] for r in rows] == ["0.01", "5.0", "0.02"]
    assert rows[1]["message"].startswith("training diverged: the loss became")
    assert rows[1]["score"] == "" and int(rows[1]["epochs"]) == 1  # stopped in its first epoch
    # No weights are left behind for the failed trial, so it can never be loaded as the best.
    assert not (run_dir / "keras_tuner" / "trial_1" / "checkpoint.weights.h5").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "complete"
    assert metrics["trials"]["failed"] == 1 and metrics["trials"]["completed"] == 2
    assert metrics["best_trial"] in ("0", "2")
    assert "warning: column 'x1': 2 infinite values read as missing" in lines
    assert any(line.startswith("trial 1   failed") and " 2/3 done" in line for line in lines)


def test_every_trial_failing_ends_the_run_with_what_is_known(tmp_path, monkeypatch, seed):
    with pytest.raises(SearchFailedError, match=r"All 2 trials failed.*training diverged"):
        _run(tmp_path, "5.0", "random", 2, monkeypatch)
    run_dir = tmp_path / "runs" / "run"
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert [r["status"] for r in rows] == ["FAILED", "FAILED"]
    assert all(r["message"].startswith("training diverged") for r in rows)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["best_trial"] is None
    assert metrics["trials"] == {"completed": 0, "failed": 2, "requested": 2, "interrupted": False}
    assert metrics["task"] == "regression" and metrics["n_rows"]["train"] == 42
    assert not (run_dir / "model").exists()
    page = (run_dir / "progress.html").read_text()  # says so, and stops reloading
    assert '"verdict failed"' in page and "All 2 trials failed" in page
    assert 'http-equiv="refresh"' not in page


# --------------------------------------------------------------------------------------------
# Atomic writes


class _Killed(BaseException):
    """Stands for a kill in the middle of a write."""


def _no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_a_failed_rename_leaves_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    files.write_json(target, {"status": "complete", "n": 1})

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        files.write_json(target, {"status": "complete", "n": 2})
    assert json.loads(target.read_text()) == {"status": "complete", "n": 1}
    assert _no_temporaries(tmp_path)


def test_a_kill_mid_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    def killed(fd):
        raise _Killed

    monkeypatch.setattr(os, "fsync", killed)  # after the text is written, before the rename
    with pytest.raises(_Killed):
        files.write_text(tmp_path / "trials.csv", "trial_id,status\n0,COMPLETED\n" * 1000)
    assert not (tmp_path / "trials.csv").exists()
    assert _no_temporaries(tmp_path)


def test_keras_tuner_state_is_written_atomically(tmp_path, monkeypatch):
    oracle = RandomOracle(objective=kt.Objective("val_loss", "min"), max_trials=3, seed=1)
    oracle._set_project_dir(str(tmp_path), "keras_tuner")
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-3, 1e-1)
    oracle.update_space(hp)
    oracle.create_trial("tuner0")  # writes trial_0/trial.json, then oracle.json
    state = tmp_path / "keras_tuner" / "oracle.json"
    before = state.read_text()
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(_Killed()))
    with pytest.raises(_Killed):
        oracle.create_trial("other-tuner")
    assert state.read_text() == before and json.loads(before)["start_order"] == ["0"]
    assert _no_temporaries(tmp_path / "keras_tuner")


def test_resume_removes_what_killed_writes_left(tmp_path):
    run = tmp_path / "run"
    (run / "keras_tuner" / "trial_1").mkdir(parents=True)
    (run / ".model.123.abcd.tmp" / "saved_model").mkdir(parents=True)
    stale = [run / ".trials.csv.x1y2.tmp", run / "keras_tuner" / "trial_1" / ".77.tmp.weights.h5",
             run / ".model.123.abcd.old"]
    for path in stale:
        path.write_text("partial")
    kept = [run / "trials.csv", run / ".notes", run / "keras_tuner" / "oracle.json"]
    for path in kept:
        path.write_text("whole")
    removed = files.remove_stale_temporaries(run)
    assert set(removed) == {*stale, run / ".model.123.abcd.tmp"}
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)


def test_four_failures_in_a_row_are_recorded_and_the_cli_exits_2(tmp_path, monkeypatch, capsys,
                                                                seed):
    """Keras Tuner would abort with a RuntimeError (exit 1) after 3 failed trials in a row; here
    every trial is recorded, and a search with no success is one `error:` line, status 2."""
    from tuning.cli import main as run_tuning

    (tmp_path / "space.toml").write_text(
        'layers = 1\nunits = 8\nactivation = "relu"\noptimizer = "sgd"\n'
        "learning_rate = { min = 5.0, max = 9.0 }\nbatch_size = 8\nl2 = 0\ndropout = 0\n"
        'numeric_encoding = "standard"\nl1 = 0\n'
    )
    argv = ["--data", _regression_csv(tmp_path), "--target", "y", "--space",
            str(tmp_path / "space.toml"), "--tuner", "random", "--max-trials", "4", "--epochs",
            "3", "--patience", "0", "--out", str(tmp_path / "runs"), "--name", "run"]
    assert run_tuning.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: All 4 trials failed") and "training diverged" in err
    assert len(err.strip().splitlines()) == 1
    rows = list(csv.DictReader((tmp_path / "runs" / "run" / "trials.csv").open()))
    assert [r["status"] for r in rows] == ["FAILED"] * 4
