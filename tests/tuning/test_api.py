"""The Python API: tune a DataFrame or a CSV, load_run, Predictor, errors worded for both uses."""

from __future__ import annotations

import gc
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.errors import ConfigError, DataError, ModelError, SearchInterrupted, TuningError
from tests.conftest import RUN_SPACE
from tuning.api import load_run, tune

ROOT = Path(__file__).resolve().parents[2]
# A target name that would be markup if the notebook summary did not escape it.
HOSTILE_TARGET = "<i>label</i>"
FAST = dict(tuner="random", max_trials=2, epochs=2, patience=2)


def _frame(seed: int = 0, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    frame = pd.DataFrame({
        "x1": x1,
        "x2": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 5, n)), dtype="Int64"),
        "color": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
    })
    frame[HOSTILE_TARGET] = np.where(x1 + 0.5 * (frame["color"] == "red") > 0.2, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("space") / "space.toml"
    path.write_text(RUN_SPACE)
    return str(path)


@pytest.fixture(scope="module")
def frame_run(tmp_path_factory, space):
    """One binary run from a DataFrame (2 trials x 2 epochs): (result, console lines, frame)."""
    import keras

    keras.utils.set_random_seed(0)
    lines: list[str] = []
    frame = _frame()
    out = tmp_path_factory.mktemp("api_runs")
    result = tune(frame, target=HOSTILE_TARGET, space=space, out=str(out), report=lines.append,
                  **FAST)
    return result, lines, frame


def test_importing_tuning_loads_no_heavy_library_and_names_resolve_lazily():
    code = (
        "import sys, tuning\n"
        "heavy = [m for m in ('tensorflow', 'pandas', 'sklearn', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert issubclass(tuning.TuningError, ValueError)\n"
        "assert {'tune', 'load_run', 'Predictor', 'MLPSearchClassifier'} <= set(dir(tuning))\n"
        "from tuning import tune, load_run, MLPSearchClassifier, MLPSearchRegressor, Predictor\n"
        "assert tune.__module__ == 'tuning.api' and Predictor.__name__ == 'Predictor'\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow on import'\n"
        "try:\n    tuning.nothing\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_a_dataframe_run_is_a_complete_run_folder(frame_run):
    result, lines, frame = frame_run
    assert result.metrics["status"] == "complete" and result.task == "binary"
    assert result.target == HOSTILE_TARGET
    assert result.metrics["n_rows"] == {"train": 84, "validation": 18, "test": 18}
    assert result.run_dir.name.startswith("dataframe-")
    assert set(result.best_hyperparameters) >= {"layers", "units_0", "learning_rate"}
    assert list(result.trials["trial_id"]) == ["0", "1"]
    assert set(result.trials["status"]) == {"COMPLETED"}
    assert result.trials["score"].dtype == np.float64
    assert result.diagnosis["verdict"] == result.verdict
    assert result.report_path.stat().st_size > 10_000
    assert result.test_score == result.metrics["exported_model"]["test"]
    # Progress went to `report`, as the command line prints it.
    assert any(line.startswith("data: DataFrame: 120 rows, 3 features") for line in lines)
    assert lines[-1] == f"run folder: {result.run_dir}"
    # The nullable integer column (with missing values) is numeric, as in a CSV.
    kinds = {f["name"]: f["kind"] for f in result.metrics["features"]}
    assert kinds == {"x1": "numeric", "x2": "numeric", "color": "categorical"}


def test_settings_identify_the_dataframe_by_its_contents(frame_run, tmp_path):
    from data.loading import frame_digest

    result, _, frame = frame_run
    settings = json.loads((result.run_dir / "settings.json").read_text())
    assert settings["data"] is None
    assert settings["data_sha256"] == frame_digest(frame)
    # The index does not count; a changed value does.
    assert frame_digest(frame.set_axis(range(100, 220))) == settings["data_sha256"]
    changed = frame.copy()
    changed.loc[5, "x1"] += 1
    assert frame_digest(changed) != settings["data_sha256"]
    # So a resume with other rows is refused before anything runs, naming the change.
    options = dict(space=str(Path(settings["space"])), out=str(result.run_dir.parent),
                   name=result.run_dir.name, resume=True, **FAST)
    with pytest.raises(ConfigError, match="data file's contents changed"):
        tune(changed, target=HOSTILE_TARGET, verbose=False, **options)


def test_load_run_gives_the_same_result_and_predict_matches_the_command_line(frame_run, tmp_path):
    from tuning.cli.predict import main as predict_main

    result, _, frame = frame_run
    loaded = load_run(result.run_dir)
    assert loaded.metrics == result.metrics
    rows = frame.head(7).drop(columns=[HOSTILE_TARGET])
    table = loaded.predict(rows)
    assert list(table.columns) == ["prediction", "probability_no", "probability_yes"]
    assert len(table) == 7 and set(table["prediction"]) <= {"yes", "no"}
    # The same code path as `predict`: the CSV it writes holds the same predictions.
    csv_in, csv_out = tmp_path / "rows.csv", tmp_path / "predictions.csv"
    rows.to_csv(csv_in, index=False)
    assert predict_main(["--model", str(result.model_dir), "--data", str(csv_in),
                         "--out", str(csv_out)]) == 0
    written = pd.read_csv(csv_out)
    assert list(written["prediction"]) == list(table["prediction"])
    np.testing.assert_allclose(written["probability_yes"], table["probability_yes"], rtol=1e-6)
    proba = loaded.predict_proba(rows)
    assert proba.shape == (7, 2) and loaded.classes == ["no", "yes"]
    np.testing.assert_allclose(proba, table[["probability_no", "probability_yes"]].to_numpy())
    # A CSV path works as well as a frame.
    assert list(loaded.predict(csv_in)["prediction"]) == list(table["prediction"])
    # Pickled (as joblib returns fitted estimators), it reloads the model from the folder.
    import pickle

    copy = pickle.loads(pickle.dumps(loaded))
    assert "predictor" not in copy.__dict__ and copy.metrics == loaded.metrics
    assert list(copy.predict(rows)["prediction"]) == list(table["prediction"])


def test_the_notebook_summary_escapes_the_data_and_links_the_report(frame_run):
    result, _, _ = frame_run
    page = result._repr_html_()
    assert HOSTILE_TARGET not in page and "&lt;i&gt;label&lt;/i&gt;" in page
    assert "report.html" in page and result.verdict in page
    assert "linear baseline" in page
    exported = result.metrics["exported_model"]["test"]["accuracy"]
    assert f"{exported:.4f}" in page
    for warning in result.diagnosis["warnings"]:
        assert warning.split("(")[0].strip() in page


def test_predictor_loads_an_exported_model_and_checks_rows(frame_run):
    from models.predictor import Predictor

    result, _, frame = frame_run
    predictor = Predictor.load(result.model_dir)
    assert predictor.task == "binary" and predictor.columns == ["x1", "x2", "color"]
    table = predictor.predict(frame.head(3))
    assert list(table["prediction"]) == list(result.predict(frame.head(3))["prediction"])
    with pytest.raises(DataError, match="lacks 1 feature column.*'color'"):
        predictor.predict(frame.drop(columns=["color"]))
    with pytest.raises(DataError, match="Expected a pandas DataFrame"):
        predictor.predict([[1, 2, "red"]])
    with pytest.raises(ModelError, match=r"does not exist.*Predictor.load"):
        Predictor.load(result.run_dir / "nothing")


def test_two_runs_in_one_process_different_data_both_correct(frame_run, tmp_path, space):
    """After the DataFrame run, a regression run from a CSV in the same process."""
    first, _, _ = frame_run
    rng = np.random.default_rng(1)
    n = 120
    x = rng.normal(size=(n, 2))
    csv = tmp_path / "reg.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": 3 * x[:, 0] - x[:, 1] + 50}).to_csv(
        csv, index=False)
    second = tune(csv, target="y", space=space, out=str(tmp_path / "runs"), verbose=False, **FAST)
    assert second.task == "regression" and second.metrics["source"] == "reg.csv"
    assert second.run_dir.name.startswith("reg-")
    assert set(second.metrics["metrics"]["test"]) == {"loss", "rmse", "mae", "r2"}
    predicted = second.predict(pd.read_csv(csv).head(5))["prediction"]
    assert predicted.between(20, 80).all()  # the target's units, around its mean of 50
    with pytest.raises(ModelError, match="regression model"):
        second.predict_proba(pd.read_csv(csv).head(5))
    # The first run's folder and model are untouched by the second.
    assert load_run(first.run_dir).metrics == first.metrics
    assert first.predict(_frame().head(2))["prediction"].isin(["yes", "no"]).all()


def test_ctrl_c_in_tune_writes_the_results_so_far_and_raises(tmp_path, space, monkeypatch):
    from contextlib import contextmanager

    from models.hypermodel import MLPHyperModel
    from tuning import process

    fit, calls, frozen = MLPHyperModel.fit, [], []

    @contextmanager
    def recorded_frozen_gc():
        frozen.append("in")
        try:
            yield
        finally:
            frozen.append("out")

    monkeypatch.setattr(process, "frozen_gc", recorded_frozen_gc)

    def interrupted_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(MLPHyperModel, "fit", interrupted_second)
    handler, hook = signal.getsignal(signal.SIGINT), sys.unraisablehook
    with pytest.raises(SearchInterrupted) as stopped:
        tune(_frame(), target=HOSTILE_TARGET, space=space, out=str(tmp_path), name="cut",
             verbose=False, **(FAST | {"max_trials": 3}))
    run_dir = tmp_path / "cut"
    assert Path(stopped.value.run_dir) == run_dir and stopped.value.trials_done == 1
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "interrupted"
    assert (run_dir / "trials.csv").read_text().count("\n") == 3  # header and two trials
    # No handler was installed and nothing process-wide was left changed: the collector was
    # frozen for the call only, and given back on the way out.
    assert signal.getsignal(signal.SIGINT) is handler and sys.unraisablehook is hook
    assert frozen == ["in", "out"]
    with pytest.raises(ConfigError, match="interrupted before its search ended.*resume=True"):
        load_run(run_dir)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_trial": 3}, r"Unknown option 'max_trial'\. The options are: target, drop, "),
        ({"max_trials": "3"}, r"--max-trials \(max_trials\) must be a whole number, got '3'"),
        ({"max_trials": True}, r"--max-trials \(max_trials\) must be a whole number"),
        ({"max_trials": 0}, r"--max-trials \(max_trials\) must be a whole number ≥ 1, got 0"),
        ({"val_size": "big"}, r"--val-size \(val_size\) must be a number"),
        ({"refit": "yes"}, r"--refit must be True or False"),
        ({"drop": [1]}, r"--drop must be a list of column names"),
        ({"tuner": "genetic"}, r"--tuner 'genetic' is not one of"),
        ({"workers": 2}, r"need the data as a CSV path, not a DataFrame"),
        ({"dataset": "iris"}, r"Pass the data once"),
        ({"drop": "nope"}, r"--drop names columns that are not in the data: nope"),
    ],
    ids=["unknown", "text-int", "bool-int", "zero", "text-float", "text-bool", "drop-ints",
         "tuner", "workers", "frame-and-dataset", "drop-unknown"],
)
def test_bad_options_raise_tuning_error_with_the_cli_wording(tmp_path, options, match):
    with pytest.raises(TuningError, match=match) as error:
        tune(_frame(), target=HOSTILE_TARGET, out=str(tmp_path), verbose=False, **options)
    assert isinstance(error.value, ValueError)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_bad_data_arguments(tmp_path):
    with pytest.raises(ConfigError, match="A DataFrame needs --target"):
        tune(_frame(), out=str(tmp_path))
    with pytest.raises(ConfigError, match="data must be a pandas DataFrame, a CSV path"):
        tune([[1, 2]], target="y", out=str(tmp_path))
    with pytest.raises(ConfigError, match="--target must be a column name"):
        tune(_frame(), target=3, out=str(tmp_path))
    # A frame's column names are read as text, so its own label 2 names the column '2'.
    numbered = pd.DataFrame({1: np.arange(30.0) % 5, 2: [5] * 30})
    with pytest.raises(DataError, match="Target column '2' has a single value"):
        tune(numbered, target=2, out=str(tmp_path), verbose=False)
    with pytest.raises(DataError, match="Data file '.*none.csv' does not exist"):
        tune(tmp_path / "none.csv", target="y", out=str(tmp_path))
    with pytest.raises(DataError, match="Target column 'nope' not found"):
        tune(_frame(), target="nope", out=str(tmp_path), verbose=False)
    assert list(tmp_path.iterdir()) == []


def test_load_run_refuses_what_is_not_a_finished_run(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_run(tmp_path / "none")
    with pytest.raises(ConfigError, match="not a run folder of this tool"):
        load_run(tmp_path)
    (tmp_path / "settings.json").write_text("{}")
    with pytest.raises(ConfigError, match="not finished: it has no metrics.json"):
        load_run(tmp_path)
    (tmp_path / "metrics.json").write_text('{"status": "failed"}')
    with pytest.raises(ConfigError, match="every trial failed"):
        load_run(tmp_path)
    (tmp_path / "metrics.json").write_text('{"status": "complete"}')
    with pytest.raises(ConfigError, match="no model/ folder"):
        load_run(tmp_path)


def test_frozen_gc_restores_the_collector_and_respects_a_callers_freeze():
    from tuning.process import frozen_gc

    before = gc.get_freeze_count()
    gc.unfreeze()  # as in a process that never froze (the test session's conftest does)
    try:
        with frozen_gc():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() == 0
        gc.freeze()
        frozen = gc.get_freeze_count()
        with frozen_gc():
            pass
        assert gc.get_freeze_count() == frozen  # the caller's freeze is not undone
    finally:
        gc.freeze()
    assert gc.get_freeze_count() >= before


def test_run_folder_names_are_made_unique(tmp_path, monkeypatch):
    """Two runs in the same second (cross-validation folds) get two folders."""
    from tuning.api import make_config
    from tuning.run import prepare

    monkeypatch.setattr(prepare, "run_name", lambda config: "dataframe-20260101-000000")
    first = make_config(_frame(), HOSTILE_TARGET, {"out": str(tmp_path)})
    assert first.name == "dataframe-20260101-000000"
    (tmp_path / first.name).mkdir()
    assert make_config(_frame(), HOSTILE_TARGET, {"out": str(tmp_path)}).name == f"{first.name}-2"
    (tmp_path / f"{first.name}-2").mkdir()
    assert make_config(_frame(), HOSTILE_TARGET, {"out": str(tmp_path)}).name == f"{first.name}-3"
    assert make_config(_frame(), HOSTILE_TARGET, {"name": "mine"}).name == "mine"


def test_tensorflow_info_lines_are_held_back_only_inside_the_block():
    import logging

    from tuning.process import quiet_tensorflow_logs

    logger, seen = logging.getLogger("tensorflow"), []
    handler = logging.Handler()
    handler.emit = seen.append
    logger.addHandler(handler)
    level = logger.level
    try:
        with quiet_tensorflow_logs():
            logger.setLevel(logging.INFO)  # what TensorFlow does in a notebook
            logger.info("Assets written to: x")
            logger.warning("kept")
        logger.info("after")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [r.getMessage() for r in seen] == ["kept", "after"]
