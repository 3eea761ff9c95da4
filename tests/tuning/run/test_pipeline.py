"""End to end on tiny synthetic data: every task, every tuner, with real Keras models."""

from __future__ import annotations

import csv
import json
import os
import stat
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from tuning.config import RunConfig
from tuning.run.pipeline import run

# A small, fixed space keeps each trial cheap; the tuners still choose among its values.
SPACE = """
layers = [1, 2]
units = [8, 16]
learning_rate = { min = 1e-3, max = 3e-2, sampling = "log" }
batch_size = 32
numeric_encoding = "standard"
l1 = 0
"""


def _csv(tmp_path, task: str) -> tuple[str, str]:
    rng = np.random.default_rng(0)
    n = 120
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "color": color})
    frame.loc[rng.choice(n, 8, replace=False), "x2"] = np.nan
    if task == "binary":
        frame["label"] = np.where(x1 + 0.5 * (color == "red") > 0.2, "yes", "no")
    elif task == "multiclass":
        frame["label"] = np.select([x1 < -0.5, x1 < 0.5], ["low", "mid"], "high")
    else:
        frame["label"] = 3.0 * x1 - 2.0 * np.nan_to_num(x2) + 10 + rng.normal(0, 0.1, n)
    path = tmp_path / f"{task}.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "space.toml").write_text(SPACE)
    return str(path), str(tmp_path / "space.toml")


def _config(tmp_path, data, space, **kw) -> RunConfig:
    base = dict(data=data, target="label", space=space, tuner="random", max_trials=2, epochs=3,
                patience=2, cv=0, ensemble=1, out=str(tmp_path / "runs"), name="run")
    return RunConfig(**(base | kw))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_each_task_end_to_end(task_runs, task):
    # The session's one run per task (tests/conftest.py), which the report's tests read too.
    run_dir, lines = task_runs[task]

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task"] == task
    assert metrics["n_rows"] == {"train": 84, "validation": 18, "test": 18}
    expected = {"binary": {"loss", "accuracy", "auc"},
                "multiclass": {"loss", "accuracy", "f1_macro"},
                "regression": {"loss", "rmse", "mae", "r2"}}[task]
    for split in ("train", "validation", "test"):
        assert set(metrics["metrics"][split]) == expected
    if task == "regression":
        # Reported in the target's original units: RMSE² is the MSE loss, and the network's
        # test metrics equal those the exported model (raw rows in, original units out) gets.
        test = metrics["metrics"]["test"]
        assert test["rmse"] ** 2 == pytest.approx(test["loss"])
        exported = metrics["exported_model"]
        assert exported["splits"]["test"]["rmse"] == pytest.approx(exported["test"]["rmse"],
                                                                   rel=1e-4)
        assert exported["single_best"]["test"] == test
    # The run folder is complete: report, baselines and diagnosis written with the metrics.
    assert (run_dir / "report.html").stat().st_size > 10_000
    assert {"naive", "linear"} <= set(metrics["baselines"])
    assert metrics["diagnosis"]["verdict"] in ("underfitting", "overfitting", "good fit")
    assert metrics["trials"]["completed"] == 2
    assert set(metrics["best_hyperparameters"]) >= {"layers", "units_0", "optimizer",
                                                     "learning_rate", "batch_size"}

    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert [r["trial_id"] for r in rows] == ["0", "1"]
    assert list(rows[0])[:3] == ["trial_id", "status", "score"]
    assert list(rows[0])[-3:] == ["epochs", "seconds", "message"]
    for r in rows:
        history = json.loads((run_dir / "histories" / f"trial_{r['trial_id']}.json").read_text())
        assert len(history["history"]["val_loss"]) == int(r["epochs"]) >= 1
        assert float(r["score"]) == pytest.approx(min(history["history"]["val_loss"]), rel=1e-5)
    assert (run_dir / "keras_tuner" / "oracle.json").exists()
    assert any(line.startswith("task: " + task) for line in lines)
    trial_lines = [line for line in lines if line.startswith("trial ")]
    assert len(trial_lines) == 2
    # Each but the last says about how long the rest of the search takes.
    assert trial_lines[0].endswith(" left") and "left" not in trial_lines[1]
    # The diagnosis's warnings qualify its verdict, so the console shows them too.
    shown = [line.removeprefix("diagnosis warning: ") for line in lines
             if line.startswith("diagnosis warning: ")]
    assert shown == metrics["diagnosis"]["warnings"]


def _recording_forks(monkeypatch) -> list[bool]:
    """Whether each run's search plots were drawn in a forked child, as the runs go."""
    from tuning.run import folder as outputs

    start = outputs.start_search_figures
    forked: list[bool] = []

    def started(*args, **kwargs):
        figures = start(*args, **kwargs)
        forked.append(figures.forked)
        return figures

    monkeypatch.setattr(outputs, "start_search_figures", started)
    return forked


@pytest.fixture(scope="module")
def random_binary_run(tmp_path_factory):
    """The binary search with every option at `_config`'s (the random tuner), run once for the
    tuner test and the forked-plots test: (run folder, console lines, forks recorded)."""
    import keras

    tmp_path = tmp_path_factory.mktemp("random_binary")
    data, space = _csv(tmp_path, "binary")
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        forked = _recording_forks(monkeypatch)
        keras.utils.set_random_seed(0)
        run_dir = run(_config(tmp_path, data, space), report=lines.append)
    return run_dir, lines, forked


@pytest.mark.parametrize("tuner", ["random", "grid", "bayesian", "hyperband"])
def test_each_tuner_completes(request, tmp_path, tuner, seed):
    if tuner == "random":  # _config's own tuner: the run the forked-plots test reads too
        run_dir, lines, _ = request.getfixturevalue("random_binary_run")
    else:
        data, space = _csv(tmp_path, "binary")
        lines = []
        run_dir = run(_config(tmp_path, data, space, tuner=tuner), report=lines.append)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["tuner"] == tuner
    # Hyperband's later trials are longer, so its pace says nothing of the time left.
    first = next(line for line in lines if line.startswith("trial "))
    assert first.endswith(" left") is (tuner != "hyperband" and metrics["trials"]["requested"] > 1)
    assert 1 <= metrics["trials"]["completed"] <= 2
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    scores = {r["trial_id"]: float(r["score"]) for r in rows if r["status"] == "COMPLETED"}
    assert metrics["best_trial"] == min(scores, key=scores.get)
    # The diagnosis judges the best trial against the epochs it was given: Hyperband's first
    # round gives 1 of --epochs 3.
    budget = metrics["diagnosis"]["evidence"]["epochs_budget"]
    assert budget == (1 if tuner == "hyperband" else 3)
    if tuner == "grid":  # the grid walks its values in order, starting from each one's first
        assert rows[0]["layers"] == "1" and rows[0]["units_0"] == "8"


def test_early_stopping_off_keeps_the_last_epoch(tmp_path, seed):
    data, space = _csv(tmp_path, "regression")
    run_dir = run(_config(tmp_path, data, space, patience=0, max_trials=1, epochs=3),
                  report=lambda _: None)
    history = json.loads((run_dir / "histories" / "trial_0.json").read_text())
    assert history["epochs"] == 3 and history["best_epoch"] == 3


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "thread"])
def test_baselines_are_fitted_beside_the_search_and_their_errors_surface(tmp_path, monkeypatch,
                                                                          fork):
    """In a forked child process on Linux (off the GIL the trials need), in a thread where
    forking is not available; an error there stops the run with its message."""
    import reports.baselines
    import reports.forked

    if not fork:
        monkeypatch.setattr(reports.forked, "can_fork", lambda: False)

    where = tmp_path / "where"

    def exploding(*args, **kwargs):
        where.write_text(f"{os.getpid()} {threading.current_thread().name}")
        raise ValueError("baseline exploded")

    monkeypatch.setattr(reports.baselines, "fit_baselines", exploding)
    data, space = _csv(tmp_path, "binary")
    with pytest.raises(ValueError, match="baseline exploded"):
        run(_config(tmp_path, data, space), report=lambda _: None)
    pid, thread = where.read_text().split()
    if fork and sys.platform.startswith("linux"):
        assert int(pid) != os.getpid()
    else:
        assert (int(pid), thread) == (os.getpid(), "baselines")
    # Not a finished run: metrics.json, written last, is absent.
    assert not (tmp_path / "runs" / "run" / "metrics.json").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")
def test_baselines_yield_the_cores_when_the_trials_take_them_all(monkeypatch):
    """With --workers = cores the baselines' child runs at the lowest priority, in the time the
    trials leave idle; with a core to spare it runs as this process does."""
    import types

    import reports.baselines
    from tuning.run import folder as outputs

    monkeypatch.setattr(reports.baselines, "fit_baselines", lambda *a, **k: os.nice(0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    splits = types.SimpleNamespace(y={"train": 0, "validation": 0, "test": 0})
    prepared = types.SimpleNamespace(task=None, splits=splits)
    encoded = types.SimpleNamespace(x={"train": 0, "validation": 0, "test": 0})
    here = os.nice(0)
    niceness = [outputs.start_baselines(RunConfig(workers=w), prepared, encoded).result()
                for w in (1, 2)]
    assert niceness == [here, min(19, here + 19)]


@pytest.mark.parametrize("tuner", ["grid", "random"])
def test_a_search_that_runs_out_of_combinations_says_so(tmp_path, tuner):
    """Two combinations and --max-trials 5: the search ends after 2 and the console says why."""
    data, _ = _csv(tmp_path, "binary")
    space = tmp_path / "two.toml"
    space.write_text('layers = 1\nunits = [4, 8]\nactivation = "relu"\noptimizer = "adam"\n'
                     "learning_rate = 0.01\nbatch_size = 32\nl2 = 0\ndropout = 0\n"
                     'numeric_encoding = "standard"\nl1 = 0\n')
    lines: list[str] = []
    run_dir = run(_config(tmp_path, data, str(space), tuner=tuner, max_trials=5),
                  report=lines.append)
    why = ("every combination of the grid has run" if tuner == "grid"
           else "the space has no untried combination left")
    assert f"search: ended after 2 of --max-trials 5 trials: {why}. Widen the space (--space) " \
           "for more." in lines
    assert json.loads((run_dir / "metrics.json").read_text())["trials"]["completed"] == 2
    full = run(_config(tmp_path, data, str(space), tuner=tuner, max_trials=2, name="full"),
               report=lines.append)
    assert full.exists() and sum(line.startswith("search: ended after") for line in lines) == 1


def test_the_same_seed_repeats_the_search(tmp_path, seed):
    """--seed makes the splits, the initial weights and the search repeatable: two runs with
    the same options train the same trials to the same scores."""
    data, space = _csv(tmp_path, "multiclass")
    scores = []
    for name in ("first", "second"):
        run_dir = run(_config(tmp_path, data, space, tuner="bayesian", max_trials=2, name=name),
                      report=lambda _: None)
        rows = list(csv.DictReader((run_dir / "trials.csv").open()))
        scores.append([(r["learning_rate"], r["units_0"], r["score"]) for r in rows])
    assert scores[0] == scores[1]


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "here"])
def test_the_search_plots_are_drawn_beside_the_export_when_they_can_be(request, tmp_path,
                                                                      monkeypatch, fork):
    """On Linux a forked child draws the search's plots while this process evaluates and writes
    the model; without fork they are drawn here. Either way the page has the same plots, and
    the folder and the console are the same."""
    import re

    import reports.forked

    if fork:  # forking as the run does by default: the tuner test's random run
        run_dir, lines, forked = request.getfixturevalue("random_binary_run")
    else:
        monkeypatch.setattr(reports.forked, "can_fork", lambda: False)
        forked = _recording_forks(monkeypatch)
        data, space = _csv(tmp_path, "binary")
        lines = []
        run_dir = run(_config(tmp_path, data, space), report=lines.append)

    assert forked == [fork and sys.platform.startswith("linux")]
    page = (run_dir / "report.html").read_text()
    assert page.rstrip().endswith("</html>")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((run_dir / "report.html").stat().st_mode) == 0o666 & ~mask  # shareable
    drawn = set(re.findall(r'<g id="([a-z_]+)-figure_1"', page))  # each SVG's outer group
    assert {"learning_curves", "all_trials", "search_history", "hyperparameters", "confusion",
            "roc"} <= drawn, drawn
    assert (run_dir / "model" / "metadata.json").exists()
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "complete"
    kinds = [line.split(":")[0] for line in lines if line.split(":")[0] in
             ("model", "diagnosis", "report")]
    assert kinds == ["model", "diagnosis", "report"]
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []


def test_cross_validated_trials_an_ensemble_and_a_log_target_end_to_end(tmp_path, seed):
    import keras

    from models.predictor import predict_rows, preprocessing_of, read_metadata

    rng = np.random.default_rng(3)
    n = 150
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["price"] = np.exp(1.5 + frame["x1"] + 0.3 * rng.normal(size=n)) * 1000
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    lines: list[str] = []
    config = RunConfig(data=str(path), target="price", tuner="random", max_trials=3, epochs=3,
                       patience=2, cv=3, ensemble=3, out=str(tmp_path / "runs"), name="cv")
    run_dir = run(config, report=lines.append)
    metrics = json.loads((run_dir / "metrics.json").read_text())

    assert metrics["target_transform"]["kind"] == "log"  # chosen by auto: right-skewed
    assert any(line.startswith("target: learned log1p") for line in lines)
    assert any("3-fold cross-validation on train+validation (127 rows)" in line for line in lines)
    cv = metrics["cv"]
    assert cv["folds"] == 3 and cv["rows"] == 127 and len(cv["best_trial_fold_scores"]) == 3
    rows = {r["trial_id"]: r for r in csv.DictReader((run_dir / "trials.csv").open())}
    best = rows[metrics["best_trial"]]
    assert float(best["score"]) == pytest.approx(np.mean(cv["best_trial_fold_scores"]), rel=1e-5)
    # The diagnosis compares the test loss with the loss over all 127 held-out rows.
    evidence = metrics["diagnosis"]["evidence"]
    assert evidence["held_out_rows"] == 127
    assert evidence["held_out_loss"] == cv["best_trial_held_out_loss"] > 0
    history = json.loads((run_dir / "histories" / f"trial_{best['trial_id']}.json").read_text())
    assert len(history["folds"]) == 3
    for trial_id in rows:
        assert np.load(run_dir / "predictions" / f"trial_{trial_id}.npy").shape == (127, 1)

    exported = metrics["exported_model"]
    assert exported["kind"] in ("ensemble", "best_trial")
    assert exported["trained_on"] == ["train", "validation"]
    weights = [m["weight"] for m in exported["members"]]
    assert sum(weights) == pytest.approx(1.0) and 1 <= len(weights) <= 3
    assert exported["networks"] == 3 * len(weights)  # every member is its 3 fold networks
    assert exported["single_best"]["trial_id"] == metrics["best_trial"]
    # The exported file, loaded as any user would, is the ensemble measured in metrics.json,
    # in the target's own units.
    model = keras.models.load_model(run_dir / "model" / "model.keras", safe_mode=True)
    metadata = read_metadata(run_dir / "model")
    assert metadata["preprocessing"]["target_transform"]["kind"] == "log"
    test_rows = frame.iloc[:20]
    predicted = predict_rows(model, preprocessing_of(metadata), test_rows)[:, 0]
    assert np.corrcoef(predicted, test_rows["price"])[0, 1] > 0.5
    assert exported["test"]["r2"] == pytest.approx(exported["splits"]["test"]["r2"], abs=1e-4)


@pytest.mark.parametrize(("task", "transform", "message"), [
    ("regression", "log", "needs a non-negative target"),
    ("binary", "quantile", "is for regression"),
])
def test_an_impossible_target_transform_is_bad_input_and_leaves_no_folder(
        tmp_path, task, transform, message):
    from common.errors import ConfigError

    data, space = _csv(tmp_path, task)
    if task == "regression":
        pd.read_csv(data).assign(label=lambda f: f["label"] - 100).to_csv(data, index=False)
    with pytest.raises(ConfigError, match=message):
        run(_config(tmp_path, data, space, target_transform=transform), report=lambda _: None)
    assert not (tmp_path / "runs").exists()
