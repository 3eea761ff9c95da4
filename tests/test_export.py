"""The exported model folder: round trips through plain Keras, the SavedModel and `predict`.

One tiny network per task is trained once per module (2 epochs on 48 rows) and exported; the
reference predictions come from the training path (preprocessing model → network → target
scaling). The fresh-interpreter and `predict` subprocesses run concurrently to keep the file fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError, ModelError
from data.encoding import EncodedSplits, encode_splits
from data.preprocessing import encode
from data.task import Task
from models.export import FORMAT, ExportedModel, compose, export_model
from models.predictor import (
    Predictor,
    check_rows,
    predict_rows,
    preprocessing_of,
    read_metadata,
)
from models.refit import trained_epochs
from tuning.config import RunConfig
from tuning.run.pipeline import run
from tuning.run.prepare import prepare

REPO = Path(__file__).resolve().parents[1]
TASKS = ["binary", "multiclass", "regression"]
ATOL = 1e-5
_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}

# Runs in a fresh interpreter outside the repository: only Keras and NumPy, no project code.
_PLAIN_KERAS = """
import json, sys
import numpy as np
import keras
jobs = json.load(open(sys.argv[1]))
result = {}
for name, job in jobs.items():
    model = keras.models.load_model(job["model"], safe_mode=True)
    inputs = {
        key: keras.ops.convert_to_tensor(
            np.array(value) if isinstance(value[0][0], str) else np.array(value, np.float32))
        for key, value in job["inputs"].items()
    }
    result[name] = np.asarray(model(inputs)).tolist()
assert not {"models", "tuning", "data"} & set(sys.modules), "project code was imported"
json.dump(result, open(sys.argv[2], "w"))
"""


def _training_frame(task: str, n: int = 48) -> pd.DataFrame:
    """Numbers with gaps and a '?' placeholder, a text category with gaps, a yes/no column."""
    rng = np.random.default_rng({"binary": 1, "multiclass": 2, "regression": 3}[task])
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n).round(3).astype(object)
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    flag = rng.choice(["yes", "no"], n).astype(object)
    x2[[1, 5, 9]] = np.nan
    x2[[11, 20]] = "?"
    color[[2, 7]] = np.nan
    flag[3] = np.nan
    frame = pd.DataFrame({"x1": x1, "x 2": x2, "color": color, "flag": flag})
    if task == "binary":  # text labels
        frame["label"] = np.where(x1 + 0.8 * (color == "red") > 0.2, "yes", "no")
    elif task == "multiclass":  # integer labels
        frame["label"] = np.select([x1 < -0.4, x1 < 0.4], [0, 1], 2)
    else:  # far from 0 and 1, so a missing rescaling would show
        frame["label"] = 100.0 + 10.0 * x1 + 5.0 * (flag == "yes") + rng.normal(0, 0.5, n)
    return frame


# Raw rows as users send them: other column order, extra and target columns, spaces, an unseen
# category, every kind of missing value, mixed spellings of booleans.
_NEW_ROWS = pd.DataFrame(
    {
        "note": ["a", "b", "c", "d", "e", "f"],
        "flag": ["yes", "", "No", "TRUE", "n", "1"],
        "color": ["red", "purple", "", " green ", "blue", "red"],
        "label": ["", "", "", "", "", ""],
        "x 2": ["1.5", "", "?", "NA", "-0.25", "3"],
        "x1": ["0.3", "-1", "0.1", "2", "", "1e-1"],
    }
)


@dataclass
class Export:
    """One task's exported folder and what the predictions must be."""

    task: Task
    encoded: EncodedSplits
    composed: Any  # keras.Model
    folder: Path
    new_csv: Path
    reference: np.ndarray  # the training path's output on new_csv's rows


def _export(task_name: str, root: Path) -> Export:
    import keras
    import keras_tuner as kt

    from models.heads import head_for
    from models.hypermodel import MLPHyperModel

    root.mkdir()
    raw = _training_frame(task_name)
    data = root / "train.csv"
    raw.to_csv(data, index=False)
    config = RunConfig(data=str(data), target="label", out=str(root / "runs"), name="r")
    prepared = prepare(config, report=lambda line: None)
    assert prepared.task.kind == task_name
    encoded = encode_splits(prepared.data.columns, prepared.splits, prepared.task)
    keras.utils.set_random_seed(0)
    hypermodel = MLPHyperModel(encoded.n_features, head_for(prepared.task), prepared.space, 2, 0)
    hp = kt.HyperParameters()
    network = hypermodel.build(hp)
    hypermodel.fit(
        hp,
        network,
        *encoded.fit_data("train"),
        epochs=2,
        validation_data=encoded.fit_data("validation"),
    )
    composed = compose(encoded, network, prepared.task)
    export_model(
        root / "model",
        composed,
        encoded,
        prepared.task,
        target="label",
        hyperparameters=hp.values,
        raw=prepared.dataset.frame,
        source=data.name,
        exported=ExportedModel("best_trial", "0", 2, ("train",), {"loss": 0.5}),
    )
    new_rows = pd.concat([_NEW_ROWS, raw.head(14).astype(str).replace("nan", "")])
    new_csv = root / "new.csv"
    new_rows.to_csv(new_csv, index=False)
    # The training path, independent of the exported model and of the predict command.
    features = encode(encoded.preprocessing, encoded.preprocessing_model, pd.read_csv(new_csv))
    output = np.asarray(network.predict(features, verbose=0), dtype=np.float64)
    reference = output * encoded.target_std + encoded.target_mean
    return Export(prepared.task, encoded, composed, root / "model", new_csv, reference)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Export]:
    root = tmp_path_factory.mktemp("export")
    return {task: _export(task, root / task) for task in TASKS}


_EACH_PREDICT = """
import json, sys
from tuning.cli.main import main
for argv in json.loads(sys.argv[1]):
    status = main(argv)
    if status != 0:
        sys.exit(f"{argv}: exit {status}")
"""


@pytest.fixture(scope="module")
def outside(exports, target_encoded, tmp_path_factory) -> dict[str, Any]:
    """Plain Keras in a fresh interpreter (every task's model and the target-encoded one), and
    `predict` once per task, all at once."""
    work = tmp_path_factory.mktemp("outside")
    jobs = {
        task: {
            "model": str(e.folder / "model.keras"),
            "inputs": {
                k: v.tolist()
                for k, v in e.encoded.preprocessing.inputs(pd.read_csv(e.new_csv)).items()
            },
        }
        for task, e in exports.items()
    }
    jobs["target_encoded"] = {
        "model": str(target_encoded.folder / "model.keras"),
        "inputs": {k: v.tolist()
                   for k, v in target_encoded.encoded.preprocessing.inputs(
                       target_encoded.rows).items()},
    }
    (work / "jobs.json").write_text(json.dumps(jobs))
    (work / "plain.py").write_text(_PLAIN_KERAS)
    procs = {
        "keras": subprocess.Popen(
            [
                sys.executable,
                "-I",
                str(work / "plain.py"),
                str(work / "jobs.json"),
                str(work / "keras.json"),
            ],
            cwd=work,
            env=_ENV,
            stderr=subprocess.PIPE,
            text=True,
        )
    }
    # `predict` for every task in one interpreter, one command after the other, as
    # `run_tuning.py predict ...` runs each: most of a process is TensorFlow's start-up.
    commands = [["predict", "--model", str(e.folder), "--data", str(e.new_csv), "--out",
                 str(work / f"{task}.csv")] for task, e in exports.items()]
    procs["predict"] = subprocess.Popen(
        [sys.executable, "-c", _EACH_PREDICT, json.dumps(commands)],
        cwd=REPO,
        env=_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name}: {err}"
    result: dict[str, Any] = {"keras": json.loads((work / "keras.json").read_text())}
    for task in exports:
        labels_as_text = {"prediction": str} if exports[task].task.is_classification else None
        result[task] = pd.read_csv(work / f"{task}.csv", dtype=labels_as_text)
    return result


def _as_probabilities(task: Task, output: np.ndarray) -> np.ndarray:
    if task.kind == "binary":
        return np.column_stack([1.0 - output[:, 0], output[:, 0]])
    return output


@pytest.mark.parametrize("task", TASKS)
def test_round_trip_predictions_match(exports, outside, task):
    import tensorflow as tf

    e = exports[task]
    inputs = e.encoded.preprocessing.inputs(pd.read_csv(e.new_csv))
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    in_process = np.asarray(e.composed(tensors, training=False), dtype=np.float64)
    assert in_process.shape == (20, 3 if task == "multiclass" else 1)
    np.testing.assert_allclose(in_process, e.reference, rtol=1e-6, atol=ATOL)

    plain_keras = np.asarray(outside["keras"][task])
    np.testing.assert_allclose(plain_keras, in_process, rtol=0, atol=ATOL)

    served = tf.saved_model.load(str(e.folder / "saved_model")).signatures["serving_default"]
    serving = np.asarray(served(**tensors)["output_0"], dtype=np.float64)
    np.testing.assert_allclose(serving, in_process, rtol=0, atol=ATOL)

    table = outside[task]
    assert len(table) == 20
    if task == "regression":
        assert list(table.columns) == ["prediction"]
        np.testing.assert_allclose(table["prediction"], in_process[:, 0], rtol=0, atol=ATOL)
        return
    labels = [str(c) for c in e.task.classes]
    assert list(table.columns) == ["prediction", *(f"probability_{c}" for c in labels)]
    proba = _as_probabilities(e.task, in_process)
    np.testing.assert_allclose(table.iloc[:, 1:].to_numpy(float), proba, rtol=0, atol=ATOL)
    assert list(table["prediction"]) == [labels[i] for i in proba.argmax(axis=1)]


@pytest.mark.parametrize("task", TASKS)
def test_metadata_is_complete(exports, task):
    e = exports[task]
    metadata = read_metadata(e.folder)  # also checks every file's SHA-256
    assert metadata["format"] == FORMAT
    assert metadata["task"] == task and metadata["target"] == "label"
    assert (
        metadata["classes"]
        == {"binary": ["no", "yes"], "multiclass": [0, 1, 2], "regression": []}[task]
    )
    inputs = {i["column"]: i for i in metadata["inputs"]}
    assert {c: i["kind"] for c, i in inputs.items()} == {
        "x1": "numeric",
        "x 2": "numeric",
        "color": "categorical",
        "flag": "boolean",
    }
    assert inputs["x 2"]["input_name"] == "x_2"
    assert {c: (i["dtype"], i["missing"]) for c, i in inputs.items()} == {
        "x1": ("float32", "NaN"),
        "x 2": ("float32", "NaN"),
        "color": ("string", ""),
        "flag": ("float32", "NaN"),
    }
    assert inputs["x 2"]["missing_markers"] == ["?"]
    assert metadata["output"]["shape"] == [None, 3 if task == "multiclass" else 1]
    assert metadata["output"]["meaning"]
    assert metadata["exported_model"]["kind"] == "best_trial"
    assert set(metadata["hyperparameters"]) >= {"layers", "units_0", "optimizer", "batch_size"}
    assert set(metadata["versions"]) >= {
        "tensorflow",
        "keras",
        "keras_tuner",
        "numpy",
        "pandas",
        "sklearn",
    }
    assert metadata["created"]
    stats = metadata["preprocessing"]
    assert stats["fitted_on"] == "train"
    assert [f["name"] for f in stats["features"]] == ["x1", "x 2", "color", "flag"]
    assert stats["target_std"] == pytest.approx(e.encoded.target_std)
    assert set(metadata["files"]) >= {"model.keras", "saved_model/saved_model.pb"}
    assert sorted(p.name for p in e.folder.parent.iterdir() if p.name.startswith(".")) == []


def test_model_file_needs_no_custom_code(exports):
    with zipfile.ZipFile(exports["regression"].folder / "model.keras") as archive:
        config = archive.read("config.json").decode()
    assert "Lambda" not in config
    modules = {m for m in _values(json.loads(config), "module") if m}
    assert modules and all(m.startswith("keras") for m in modules), modules


def _values(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [
            x for v in node.values() for x in _values(v, key)
        ]
    if isinstance(node, list):
        return [x for v in node for x in _values(v, key)]
    return []


def _predict(*argv: str) -> int:
    from tuning.cli.predict import main

    return main(list(argv))


def test_missing_column_is_named(exports, tmp_path, capsys):
    frame = pd.read_csv(exports["binary"].new_csv).drop(columns=["flag", "x 2"])
    frame.to_csv(tmp_path / "new.csv", index=False)
    status = _predict(
        "--model",
        str(exports["binary"].folder),
        "--data",
        str(tmp_path / "new.csv"),
        "--out",
        str(tmp_path / "out.csv"),
    )
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "'x 2', 'flag'" in err
    assert not (tmp_path / "out.csv").exists()


def test_wrong_kind_values_are_named_with_examples(exports):
    metadata = read_metadata(exports["binary"].folder)
    frame = pd.DataFrame(
        {
            "x1": ["1", "abc", "2", "abc"],
            "x 2": ["?", "", "n/a", "inf"],
            "color": ["1", "2", "x", ""],
            "flag": ["yes", "maybe", "0", ""],
        }
    )
    with pytest.raises(
        DataError,
        match=r"'x1' should hold numbers but has 2 other value\(s\) "
        r"such as 'abc' \(first in data row 2\)",
    ) as info:
        check_rows(metadata, frame)
    assert "'flag' should hold true/false" in str(info.value) and "'maybe'" in str(info.value)
    assert "'x 2'" not in str(info.value)  # placeholders and infinity read as missing
    assert "color" not in str(info.value)  # any text is a category
    check_rows(metadata, frame.assign(x1=["1", "", "NA", "3.5"], flag=["TRUE", "n", "", "1"]))
    with pytest.raises(DataError, match=r"'0,5'.*Numbers need a '\.' as decimal point"):
        check_rows(metadata, frame.assign(x1=["1", "0,5", "", ""], flag=""))


def test_wrong_kind_is_exit_2_before_tensorflow(exports, tmp_path):
    pd.DataFrame({"x1": ["abc"], "x 2": [1], "color": ["red"], "flag": ["yes"]}).to_csv(
        tmp_path / "new.csv", index=False
    )
    code = (
        "import sys, run_tuning; status = run_tuning.main(sys.argv[1:]); "
        "assert 'tensorflow' not in sys.modules; sys.exit(status)"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "predict",
            "--model",
            str(exports["binary"].folder),
            "--data",
            str(tmp_path / "new.csv"),
            "--out",
            str(tmp_path / "out.csv"),
        ],
        cwd=REPO,
        env=_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: Values of the wrong kind: 'x1'")
    assert "'abc'" in proc.stderr


def _copy(exports, tmp_path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(exports["binary"].folder, folder)
    return folder


@pytest.mark.parametrize("damage", ["no_metadata", "other_format", "swapped_model", "file_outside"])
def test_only_this_tools_folders_are_loaded(exports, tmp_path, capsys, damage):
    folder = _copy(exports, tmp_path)
    metadata_file = folder / "metadata.json"
    if damage == "no_metadata":
        metadata_file.unlink()
        expected = "has no metadata.json"
    elif damage == "other_format":
        metadata_file.write_text(metadata_file.read_text().replace(FORMAT, "something-else/1"))
        expected = "not a model folder of this tool"
    elif damage == "swapped_model":
        shutil.copy(exports["multiclass"].folder / "model.keras", folder / "model.keras")
        expected = "SHA-256 differs"
    else:
        metadata = json.loads(metadata_file.read_text())
        metadata["files"]["../../secret.txt"] = "0" * 64
        metadata_file.write_text(json.dumps(metadata))
        expected = "lists a file outside the folder"
    with pytest.raises(ModelError, match=expected):
        read_metadata(folder)
    status = _predict(
        "--model",
        str(folder),
        "--data",
        str(exports["binary"].new_csv),
        "--out",
        str(tmp_path / "out.csv"),
    )
    assert status == 2 and expected in capsys.readouterr().err


def test_new_categories_are_warned_about(exports, tmp_path, capsys):
    status = _predict(
        "--model",
        str(exports["binary"].folder),
        "--data",
        str(exports["binary"].new_csv),
        "--out",
        str(tmp_path / "out.csv"),
    )
    out = capsys.readouterr().out
    assert status == 0
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    # "purple" never occurred in training; " green " is "green" once stripped, "" is missing.
    assert len(warnings) == 1 and "'color'" in warnings[0], out
    assert "'purple'" in warnings[0] and "green" not in warnings[0]
    assert len(pd.read_csv(tmp_path / "out.csv")) == len(pd.read_csv(exports["binary"].new_csv))


def test_a_gap_seen_in_training_is_not_new(exports, tmp_path, capsys):
    frame = pd.read_csv(exports["binary"].new_csv, dtype=str, keep_default_na=False)
    spec = next(f for f in exports["binary"].encoded.preprocessing.features if f.name == "color")
    assert "" in spec.vocabulary  # the fixture's training colors had gaps
    frame["color"] = "purple"
    frame.loc[0, "color"] = ""
    frame.to_csv(tmp_path / "new.csv", index=False)
    _predict("--model", str(exports["binary"].folder), "--data", str(tmp_path / "new.csv"),
             "--out", str(tmp_path / "out.csv"))
    warning = capsys.readouterr().out.splitlines()[0]
    assert f"{len(frame) - 1} row(s)" in warning and "'purple'" in warning
    assert "missing" not in warning  # a gap was seen in training: it has its own slot


def test_a_new_gap_is_named_missing():
    from tuning.cli.predict import unseen_warning

    line = unseen_warning("plan", 3, ["", "gold"])
    assert line.startswith("warning: column 'plan': 3 row(s) ")
    assert "(missing, 'gold')" in line


def test_never_overwrites_the_input(exports, tmp_path, capsys):
    data = tmp_path / "new.csv"
    shutil.copy(exports["binary"].new_csv, data)
    before = data.read_bytes()
    status = _predict(
        "--model",
        str(exports["binary"].folder),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "." / "new.csv"),
    )
    assert status == 2 and "never overwrites its input" in capsys.readouterr().err
    assert data.read_bytes() == before


@pytest.mark.parametrize("where", ["model-folder", "a-folder"])
def test_predict_refuses_an_out_inside_the_model_or_a_folder(exports, tmp_path, capsys, where):
    folder = exports["binary"].folder
    before = sorted(p.name for p in folder.rglob("*"))
    out = folder / "predictions.csv" if where == "model-folder" else tmp_path
    status = _predict("--model", str(folder), "--data", str(exports["binary"].new_csv),
                      "--out", str(out))
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ")
    assert ("inside the model folder" if where == "model-folder" else "is a folder") in err
    assert sorted(p.name for p in folder.rglob("*")) == before


def test_failed_export_leaves_no_folder(exports, tmp_path):
    class Broken:  # saves, then fails while exporting the SavedModel
        def save(self, path: Path) -> None:
            Path(path).write_bytes(b"half")

        def export(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("disk full")

    e = exports["binary"]
    kwargs = dict(target="label", hyperparameters={}, exported=ExportedModel("best_trial", "0", 1))
    with pytest.raises(OSError, match="disk full"):
        export_model(tmp_path / "model", Broken(), e.encoded, e.task, **kwargs)
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "earlier.txt").write_text("complete")
    with pytest.raises(OSError):
        export_model(tmp_path / "model", Broken(), e.encoded, e.task, **kwargs)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["earlier.txt"]


def test_trained_epochs_counts_hyperband_inheritance():
    assert trained_epochs(3, {"units_0": 16}) == 3
    assert trained_epochs(2, {"tuner/initial_epoch": 4, "tuner/epochs": 12}) == 6


@pytest.mark.slow
def test_refit_exports_and_reports_it(cli_run):
    """The shared command-line run (iris, --refit): the exported network is the refit one, and
    the test metrics reported for it are those of the exported file itself."""
    import keras

    proc, run_dir = cli_run
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    exported = metrics["exported_model"]
    assert exported["kind"] == "refit" and exported["trial_id"] == metrics["best_trial"]
    assert exported["epochs"] == 1 and exported["trained_on"] == ["train", "validation"]
    assert set(exported["test"]) == {"loss", "accuracy", "f1_macro"}
    metadata = read_metadata(run_dir / "model")
    assert metadata["exported_model"] == exported
    assert metadata["hyperparameters"] == metrics["best_hyperparameters"]
    assert "train+validation" in metadata["preprocessing"]["note"]
    assert any(line.startswith("refit:") for line in proc.stdout.splitlines())

    model = keras.models.load_model(run_dir / "model" / "model.keras", safe_mode=True)
    config = RunConfig(dataset="iris", max_trials=1, epochs=1, out=str(run_dir.parent),
                       name="again")
    prepared = prepare(config, lambda s: None)
    p = predict_rows(model, preprocessing_of(metadata), prepared.splits.x["test"])
    accuracy = float(np.mean(p.argmax(axis=1) == prepared.splits.y["test"]))
    assert accuracy == pytest.approx(exported["test"]["accuracy"])


def test_a_refit_that_diverges_exports_the_best_trial_and_says_why(tmp_path, monkeypatch, seed):
    import keras_tuner as kt

    import models.refit

    def diverging(*args, **kwargs):
        raise kt.errors.FailedTrialError("training diverged: the loss became nan at epoch 1")

    monkeypatch.setattr(models.refit, "refit", diverging)
    _training_frame("binary").to_csv(tmp_path / "train.csv", index=False)
    config = RunConfig(data=str(tmp_path / "train.csv"), target="label", tuner="random",
                       max_trials=1, epochs=2, patience=0, refit=True, cv=0, out=str(tmp_path),
                       name="r")
    lines: list[str] = []
    run_dir = run(config, report=lines.append)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    exported = metrics["exported_model"]
    assert exported["kind"] == "best_trial" and exported["trained_on"] == ["train"]
    assert exported["note"].startswith("refit failed (training diverged")
    assert any(line.startswith("warning: refit failed") for line in lines)
    assert read_metadata(run_dir / "model")["exported_model"] == exported


@pytest.mark.parametrize(("mean", "std"),
                         [(1.0, 1e-9), (1.7e9 + 37.25, 100.0), (1e12 + 0.5, 3.0)],
                         ids=["tiny-spread", "huge-mean", "mean-1e12"])
def test_regression_export_keeps_a_tiny_spread_next_to_a_large_mean(tmp_path, capsys, seed,
                                                                     mean, std):
    """The exported model, its SavedModel and `predict` give μ + σ·z to ~1e-6 of σ: in float32
    1 + 1e-9·z is 1.0 for every row, 1.7e9 + 100·z moves in steps of 128, and 1e12 + 0.5 is
    1e12 − 4096 (μ must not pass through a float32 tensor on its way into the model)."""
    import keras
    import tensorflow as tf

    from data.cleaning import Column
    from data.preprocessing import fit_preprocessing

    x = np.linspace(-2.0, 2.0, 41)
    pre = fit_preprocessing(pd.DataFrame({"x": x}), (Column("x", "numeric"),))
    encoded = EncodedSplits(pre, pre.build(), {}, {}, mean, std)
    network = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3, activation="tanh"),
                                keras.layers.Dense(1)])
    task = Task("regression")
    folder = tmp_path / "model"
    export_model(folder, compose(encoded, network, task), encoded, task, target="y",
                 hyperparameters={}, exported=ExportedModel("best_trial", "0", 1))
    inputs = {"x": tf.constant(x.reshape(-1, 1), tf.float32)}
    z = np.asarray(network(encoded.preprocessing_model(inputs)), np.float64)[:, 0]
    expected = mean + std * z  # what the evaluation computes (EncodedSplits.predict)
    assert np.ptp(z) > 0.1

    loaded = keras.models.load_model(folder / "model.keras", safe_mode=True)
    served = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
    pd.DataFrame({"x": x}).to_csv(tmp_path / "new.csv", index=False)
    assert _predict("--model", str(folder), "--data", str(tmp_path / "new.csv"),
                    "--out", str(tmp_path / "out.csv")) == 0, capsys.readouterr().err
    outputs = {
        "model.keras": np.asarray(loaded(inputs), np.float64)[:, 0],
        "saved_model": np.asarray(served(**inputs)["output_0"], np.float64)[:, 0],
        "predict": pd.read_csv(tmp_path / "out.csv")["prediction"].to_numpy(np.float64),
    }
    for name, values in outputs.items():
        np.testing.assert_allclose((values - expected) / std, 0.0, atol=1e-6, err_msg=name)


def test_predict_writes_through_a_symlink_to_its_target(exports, tmp_path, capsys):
    target = tmp_path / "kept" / "predictions.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    status = _predict("--model", str(exports["binary"].folder), "--data",
                      str(exports["binary"].new_csv), "--out", str(link))
    assert status == 0, capsys.readouterr().err
    assert link.is_symlink() and link.resolve() == target
    assert pd.read_csv(target).columns[0] == "prediction" and len(pd.read_csv(target)) == 20
    assert sorted(p.name for p in target.parent.iterdir()) == ["predictions.csv"]


@pytest.mark.parametrize("where", ["pipe", "missing-folder", "link-into-missing-folder"])
def test_predict_refuses_an_out_it_cannot_write_as_a_regular_file(exports, tmp_path, capsys,
                                                                   where):
    if where == "pipe":  # a named pipe: a device such as /dev/null is refused the same way
        out = tmp_path / "fifo"
        os.mkfifo(out)
        expected = "is not a regular file"
    elif where == "missing-folder":
        out = tmp_path / "no" / "such" / "predictions.csv"
        expected = f"folder '{tmp_path / 'no' / 'such'}' does not exist"
    else:
        out = tmp_path / "link.csv"
        out.symlink_to(tmp_path / "gone" / "predictions.csv")
        expected = f"folder '{tmp_path / 'gone'}' does not exist"
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    status = _predict("--model", str(exports["binary"].folder), "--data",
                      str(exports["binary"].new_csv), "--out", str(out))
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    if where == "pipe":
        import stat

        assert stat.S_ISFIFO(os.lstat(out).st_mode)


def test_predict_reads_decimal_commas_in_a_semicolon_file_as_training_does(exports, tmp_path,
                                                                            capsys):
    e = exports["binary"]
    frame = pd.read_csv(e.new_csv, dtype=str, keep_default_na=False)
    frame.to_csv(tmp_path / "dot.csv", index=False)
    frame["x1"] = frame["x1"].map(lambda v: f"{float(v):.6f}".replace(".", ",") if v else v)
    frame.to_csv(tmp_path / "comma.csv", index=False, sep=";")
    assert frame["x1"].str.contains(",").any()
    results = []
    for name in ("dot", "comma"):
        status = _predict("--model", str(e.folder), "--data", str(tmp_path / f"{name}.csv"),
                          "--out", str(tmp_path / f"{name}-out.csv"))
        out = capsys.readouterr().out
        assert status == 0
        assert ("column 'x1': numbers with a decimal comma read as numbers" in out) is (
            name == "comma")
        results.append(pd.read_csv(tmp_path / f"{name}-out.csv"))
    np.testing.assert_allclose(results[0].iloc[:, 1:], results[1].iloc[:, 1:], atol=1e-6)
    # The Python API's Predictor reads a CSV path the same way, with the same words as a warning.
    predictor = Predictor.load(e.folder)
    with pytest.warns(UserWarning, match="column 'x1': numbers with a decimal comma") as caught:
        table = predictor.predict(tmp_path / "comma.csv")
    assert len(caught) == 1
    np.testing.assert_allclose(table.iloc[:, 1:], results[0].iloc[:, 1:], atol=1e-6)


def _edit_metadata(folder: Path, edit) -> None:
    path = folder / "metadata.json"
    metadata = json.loads(path.read_text())
    edit(metadata)
    path.write_text(json.dumps(metadata))


def _column(metadata: dict[str, Any], name: str, part: str = "inputs") -> dict[str, Any]:
    items = metadata["inputs"] if part == "inputs" else metadata["preprocessing"]["features"]
    return next(i for i in items if i.get("column", i.get("name")) == name)


# (id, model, edit of metadata.json, what the error says). metadata.json is not in its own
# checksums, so a hand edit gets past them: each must still be one error line, exit 2.
_HAND_EDITS = [
    ("binary-one-more-class", "binary", lambda m: m["classes"].append("maybe"),
     "lists 3 classes for a binary task, which has exactly 2"),
    ("multiclass-one-more-class", "multiclass", lambda m: m["classes"].append(3),
     "gives 3 output(s) per row, but metadata.json describes a multiclass task with classes "
     "[0, 1, 2, 3] (4 output(s))"),
    ("multiclass-one-class-fewer", "multiclass", lambda m: m["classes"].pop(),
     "gives 3 output(s) per row"),
    ("regression-with-classes", "regression", lambda m: m.update(classes=[0, 1]),
     "lists 2 classes for a regression task"),
    ("task-renamed", "binary", lambda m: m.update(task="ranking"), "has task 'ranking'"),
    ("kind-in-inputs-only", "binary", lambda m: _column(m, "x1").update(kind="categorical"),
     "gives column 'x1' kind 'categorical' under 'inputs' but 'numeric' under 'preprocessing'"),
    ("kind-everywhere", "binary",
     lambda m: (_column(m, "x1").update(kind="categorical", dtype="string"),
                _column(m, "x1", "features").update(kind="categorical")),
     "takes column 'x1' as float32, but metadata.json calls it categorical (string)"),
    ("dtype", "binary", lambda m: _column(m, "color").update(dtype="float32"),
     "gives column 'color' dtype 'float32', but a categorical column's input is 'string'"),
    ("feature-entry-broken", "binary",
     lambda m: _column(m, "x1", "features").update(spread=1.0),
     "'preprocessing' features are not as this tool writes them"),
    ("classes-not-a-list", "binary", lambda m: m.update(classes="no,yes"),
     "has malformed 'classes'"),
]


@pytest.mark.parametrize(("task", "edit", "expected"), [c[1:] for c in _HAND_EDITS],
                         ids=[c[0] for c in _HAND_EDITS])
def test_a_hand_edited_metadata_that_contradicts_the_model_is_one_error(exports, tmp_path,
                                                                         capsys, task, edit,
                                                                         expected):
    folder = tmp_path / "model"
    shutil.copytree(exports[task].folder, folder)
    _edit_metadata(folder, edit)
    status = _predict("--model", str(folder), "--data", str(exports[task].new_csv),
                      "--out", str(tmp_path / "out.csv"))
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert expected in captured.err
    assert not (tmp_path / "out.csv").exists()
    # The Python API's Predictor refuses the folder with the same words.
    with pytest.raises(ModelError, match=re.escape(expected)):
        Predictor.load(folder).predict(exports[task].new_csv)


@dataclass
class TargetEncoded:
    """A model with a many-valued column's target encoding, exported, and what it must give."""

    encoded: EncodedSplits
    folder: Path
    rows: pd.DataFrame  # raw rows: a seen shop, an unseen one, a missing one
    features: np.ndarray  # the training path's encoding of rows
    reference: np.ndarray  # the training path's output on rows


def _target_encoded(root: Path) -> TargetEncoded:
    import keras
    import keras_tuner as kt

    from models.heads import head_for
    from models.hypermodel import MLPHyperModel

    rng = np.random.default_rng(4)
    shop = rng.integers(0, 30, 90)
    raw = pd.DataFrame({"shop": [f"shop {s}" for s in shop], "x1": rng.normal(size=90)})
    raw["label"] = 50.0 + 10.0 * np.sin(shop) + raw["x1"] + rng.normal(0, 0.5, 90)
    raw.to_csv(root / "train.csv", index=False)
    config = RunConfig(data=str(root / "train.csv"), target="label",
                       out=str(root / "runs"), name="r")
    prepared = prepare(config, report=lambda line: None)
    encoded = encode_splits(prepared.data.columns, prepared.splits, prepared.task)
    keras.utils.set_random_seed(0)
    hypermodel = MLPHyperModel(encoded.n_features, head_for(prepared.task), prepared.space, 1, 0)
    hp = kt.HyperParameters()
    network = hypermodel.build(hp)
    hypermodel.fit(hp, network, *encoded.fit_data("train"), epochs=1,
                   validation_data=encoded.fit_data("validation"))
    export_model(root / "model", compose(encoded, network, prepared.task), encoded,
                 prepared.task, target="label", hyperparameters=hp.values,
                 exported=ExportedModel("best_trial", "0", 1))
    rows = pd.DataFrame({"x1": ["0.5", "", "-1"], "shop": ["shop 3", "never seen", ""]})
    features = encode(encoded.preprocessing, encoded.preprocessing_model, rows)
    reference = (np.asarray(network.predict(features, verbose=0), np.float64)
                 * encoded.target_std + encoded.target_mean)
    return TargetEncoded(encoded, root / "model", rows, features, reference)


def _few_values_target_encoded(monkeypatch) -> None:
    """A tiny table gets a target-encoded column: the threshold lowered to 8 values."""
    import data.preprocessing

    monkeypatch.setattr(data.preprocessing, "TARGET_ENCODING_MIN_VALUES", 8)


@pytest.fixture(scope="module")
def target_encoded(tmp_path_factory) -> TargetEncoded:
    """Built once for the module: its plain-Keras check runs in `outside`'s interpreter."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _few_values_target_encoded(monkeypatch)
        return _target_encoded(tmp_path_factory.mktemp("target_encoded"))


def test_a_target_encoded_column_loads_in_plain_keras_and_predicts_the_same(target_encoded,
                                                                            outside,
                                                                            monkeypatch):
    """A many-valued column's target encoding (a fixed Embedding after StringLookup) survives
    the export: plain Keras with safe_mode=True and no project code, and `Predictor`, give
    the training path's output (the threshold is lowered so a tiny table has such a column)."""
    _few_values_target_encoded(monkeypatch)
    te = target_encoded
    encoded, features, reference = te.encoded, te.features, te.reference
    spec = encoded.preprocessing.features[0]
    assert spec.name == "shop" and spec.target_width == 1
    columns = encoded.preprocessing.target_encoded_columns(encoded.n_features)[0][1]
    assert features[:, columns].reshape(-1) == pytest.approx(  # unseen and missing: the prior
        [spec.target_encoding[spec.target_vocabulary.index("shop 3") + 1][0],
         spec.target_encoding[0][0], spec.target_encoding[0][0]], abs=1e-6)

    plain = np.asarray(outside["keras"]["target_encoded"])  # `outside`'s fresh interpreter
    np.testing.assert_allclose(plain, reference, rtol=1e-6, atol=ATOL)

    predictor = Predictor.load(te.folder)
    assert predictor.preprocessing == encoded.preprocessing  # metadata.json round-trips it
    np.testing.assert_allclose(predictor.predict(te.rows)["prediction"], reference[:, 0],
                               rtol=1e-6, atol=ATOL)
    with zipfile.ZipFile(te.folder / "model.keras") as archive:
        config_text = archive.read("config.json").decode()
    assert "Embedding" in config_text and "Lambda" not in config_text
    modules = {m for m in _values(json.loads(config_text), "module") if m}
    assert all(m.startswith("keras") for m in modules), modules


def test_metadata_from_before_the_target_encoding_loads(exports):
    metadata = json.loads((exports["binary"].folder / "metadata.json").read_text())
    for item in metadata["preprocessing"]["features"]:
        item.pop("target_vocabulary"), item.pop("target_encoding")
    assert preprocessing_of(metadata) == exports["binary"].encoded.preprocessing
