"""Export the chosen network as one model that takes raw rows: `<run>/model/`, written atomically.

The folder holds `model.keras` (preprocessing + network + output scaling, loadable with plain
Keras and `safe_mode=True`), `saved_model/` (the same model for TensorFlow Serving) and
`metadata.json` (what goes in, what comes out, how it was made). The folder is built beside its
final place and renamed into it, so a reader sees a complete folder or none.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from common import compat
from common.files import sha256, write_json
from data.cleaning import convert_column
from data.preprocessing import MISSING_CATEGORY, FeatureSpec
from data.target import inverse_layers

if TYPE_CHECKING:
    import keras

    from data.encoding import EncodedSplits
    from data.task import Task

# Marks a model folder as this tool's; bump the number when the folder's layout changes.
FORMAT = "keras-mlp-tuner/1"
MODEL_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"
METADATA_FILE = "metadata.json"
# Key of the output in the SavedModel's serving_default signature (Keras' export names it so).
SERVING_OUTPUT = "output_0"
# Distinct placeholder texts ("?", "n/a") of a numeric column remembered for prediction.
_MAX_MARKERS = 20
# How boolean columns are fed to the model.
_BOOLEAN_ENCODING = "1.0 for true/t/yes/y/1, 0.0 for false/f/no/n/0 (any case)"


@dataclass(frozen=True)
class ExportedModel:
    """Which trained network went into the model folder.

    Attributes:
        kind: "best_trial" (the search's kept weights), "refit" (the best configuration
            retrained on train+validation) or "ensemble" (several trials' networks averaged).
        trial_id: the best trial, whose hyperparameters the network has.
        epochs: epochs the exported weights were trained for; None when unknown.
        trained_on: the splits the weights were fitted on.
        test: the exported model's test metrics, computed from the raw test rows.
        note: anything a reader must know (e.g. why a refit fell back to the best trial).
        members: (trial id, weight) of every trial whose networks are averaged.
        networks: how many networks the model averages (a cross-validated trial has one per
            fold).
        splits: the exported networks' metrics on every split, computed from the encoded
            splits (with cross-validation: training rows by the folds that trained on them,
            validation rows by the fold that held them out).
        single_best: the best trial's own metrics on every split, for comparison.
    """

    kind: str
    trial_id: str
    epochs: int | None
    trained_on: tuple[str, ...] = ("train",)
    test: dict[str, float | None] = field(default_factory=dict)
    note: str = ""
    members: tuple[tuple[str, float], ...] = ()
    networks: int = 1
    splits: dict[str, dict[str, float | None]] = field(default_factory=dict)
    single_best: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "trial_id": self.trial_id,
            "epochs": self.epochs,
            "trained_on": list(self.trained_on),
            "test": dict(self.test),
            "note": self.note,
            "members": [{"trial_id": t, "weight": round(w, 6)} for t, w in self.members],
            "networks": self.networks,
            "splits": {name: dict(m) for name, m in self.splits.items()},
            "single_best": dict(self.single_best),
        }


def input_dtype(spec: FeatureSpec) -> str:
    """The Keras dtype of one column's model input: "string" (categorical) or "float32"."""
    return "string" if spec.kind == "categorical" else "float32"


def compose(
    encoded: EncodedSplits,
    network: keras.Model | list[tuple[keras.Model, float, str]],
    task: Task,
) -> keras.Model:
    """One model from raw named inputs to the task's output.

    Args:
        encoded: holds the preprocessing models learned on the training split and, for
            regression, the target's training scale.
        network: the trained MLP on the (standard) encoded features, or the members of an
            ensemble: (network, weight, numeric encoding of its input) each, weights summing
            to 1; the output is their weighted average.
        task: the task.

    Returns:
        An uncompiled functional model. Inputs: one (n, 1) tensor per feature column, keyed
        by its input name (float32 with NaN for missing, or strings with "" for missing).
        Output: P(classes[1]) with shape (n, 1) (binary), softmax probabilities in
        `task.classes` order (multiclass), or the value in the target's original units.
    """
    import keras

    from models.ensemble import combine

    inputs = {
        spec.input_name: keras.Input(shape=(1,), name=spec.input_name, dtype=input_dtype(spec))
        for spec in encoded.preprocessing.features
    }
    members = [(network, 1.0, "standard")] if isinstance(network, keras.Model) else network
    features: dict[str, Any] = {}  # each encoding's preprocessing once, shared by its members
    for _, _, encoding in members:
        if encoding not in features:
            features[encoding] = encoded.model_for(encoding)(inputs)
    # The trained networks' layers are copied rather than nesting the compiled models, so the
    # file holds no optimizer state or training configuration.
    x = combine([(net, weight, features[encoding]) for net, weight, encoding in members])
    if task.kind == "regression":
        # In float64: float32 cannot hold μ + σ·z when σ is tiny next to μ (1 + 1e-9·z is 1.0).
        # A Dense layer's float64 weights hold σ and μ exactly; Rescaling would not (it makes
        # its scale and offset float32 tensors before casting them: 1e12 becomes 1e12 − 4096).
        rescale = keras.layers.Dense(1, dtype="float64", name="original_units")
        rescale.build((None, 1))
        rescale.set_weights([np.array([[encoded.target_std]]), np.array([encoded.target_mean])])
        x = rescale(x)
        for layer in inverse_layers(encoded.target_transform, dtype="float64"):
            x = layer(x)
    return keras.Model(inputs, x, name="keras_mlp_tuner")


def export_model(
    folder: str | Path,
    model: keras.Model,
    encoded: EncodedSplits,
    task: Task,
    *,
    target: str,
    hyperparameters: dict[str, Any],
    exported: ExportedModel,
    raw: pd.DataFrame | None = None,
    source: str = "",
) -> dict[str, Any]:
    """Write the model folder atomically: model.keras, saved_model/ and metadata.json.

    Args:
        folder: the model folder to create or replace, usually `<run>/model`.
        model: the composed model from `compose`.
        encoded: the run's encoded splits (preprocessing statistics, target scaling).
        task: the task.
        target: the target column's name.
        hyperparameters: the exported network's hyperparameters.
        exported: which network this is and its test metrics.
        raw: the data as read, to remember the placeholder texts ("?") that training read as
            missing in numeric columns, so prediction accepts them too. Defaults to None.
        source: where the training rows came from. Defaults to "".

    Returns:
        The metadata written to metadata.json.
    """
    metadata = _metadata(encoded, task, target, hyperparameters, exported, raw, source)

    def fill(tmp: Path) -> None:
        model.save(tmp / MODEL_FILE)
        model.export(str(tmp / SAVED_MODEL_DIR), format="tf_saved_model", verbose=False)
        metadata["files"] = file_digests(tmp)
        write_json(tmp / METADATA_FILE, metadata)

    _write_folder_atomically(Path(folder), fill)
    return metadata


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder` except metadata.json, keyed by POSIX relative path."""
    digests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative != METADATA_FILE:
            digests[relative] = sha256(path)
    return digests


def _output_meaning(task: Task) -> dict[str, Any]:
    if task.kind == "binary":
        return {
            "shape": [None, 1],
            "meaning": (
                f"probability of class {task.classes[1]!r} (classes[1]); the probability of "
                f"{task.classes[0]!r} is 1 minus it; the predicted class is {task.classes[1]!r} "
                "when it is above 0.5"
            ),
        }
    if task.kind == "multiclass":
        return {
            "shape": [None, task.n_classes],
            "meaning": (
                "softmax probability of each class, in the order of 'classes'; the predicted "
                "class is the most probable"
            ),
        }
    return {
        "shape": [None, 1],
        "dtype": "float64",
        "meaning": "the predicted target value in its original units",
    }


def _input_entry(spec: FeatureSpec, raw: pd.DataFrame | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "column": spec.name,
        "kind": spec.kind,
        "input_name": spec.input_name,
        "dtype": input_dtype(spec),
        "shape": [None, 1],
        "missing": MISSING_CATEGORY if spec.kind == "categorical" else "NaN",
    }
    if spec.kind == "boolean":
        entry["encoding"] = _BOOLEAN_ENCODING
    if spec.kind == "categorical":
        entry["unseen"] = "values not in the vocabulary share one extra one-hot slot"
        if spec.target_encoding:
            entry["unseen"] += (
                "; the column is also target-encoded (many values): values training never had "
                "get the training prior")
    if spec.kind == "numeric":
        entry["missing_markers"] = (
            _missing_markers(raw[spec.name]) if raw is not None and spec.name in raw else []
        )
    return entry


def _missing_markers(values: pd.Series) -> list[str]:
    """The non-numeric texts training read as missing in a numeric column, most frequent first."""
    converted = convert_column(values, "numeric")
    text = values[values.notna() & converted.isna()].astype(str).str.strip()
    text = text[text != ""]
    return [str(v) for v in text.value_counts().index[:_MAX_MARKERS]]


def _metadata(
    encoded: EncodedSplits,
    task: Task,
    target: str,
    hyperparameters: dict[str, Any],
    exported: ExportedModel,
    raw: pd.DataFrame | None,
    source: str,
) -> dict[str, Any]:
    preprocessing_note = "statistics learned on the training split only"
    if exported.kind == "refit":
        preprocessing_note += (
            "; the refit network was trained on train+validation encoded with these same "
            "statistics (they were not re-learned)"
        )
    return {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": task.kind,
        "target": target,
        "source": source,
        "classes": list(task.classes),
        "inputs": [_input_entry(spec, raw) for spec in encoded.preprocessing.features],
        "output": {"serving_key": SERVING_OUTPUT, **_output_meaning(task)},
        "hyperparameters": dict(hyperparameters),
        "exported_model": exported.to_dict(),
        "preprocessing": {
            "fitted_on": "train",
            "note": preprocessing_note,
            "features": encoded.preprocessing.to_dict(),
            "target_mean": encoded.target_mean,
            "target_std": encoded.target_std,
            "target_transform": encoded.target_transform.to_dict(),
        },
        "versions": compat.versions(),
        "files": {},  # filled in once the model files are written
    }


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under `folder` to disk before it is renamed into place."""
    for path in [*folder.rglob("*"), folder]:
        flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
        try:
            fd = os.open(path, flags)
        except OSError:  # some platforms cannot open folders; the files are what matters
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _write_folder_atomically(folder: Path, fill: Callable[[Path], None]) -> None:
    """Build the folder in a hidden sibling, then rename it into place.

    A folder that already exists (a resumed run) is moved aside first and removed after the
    new one is in place, so `folder` is always either complete or absent.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}.{secrets.token_hex(4)}"
    tmp = folder.with_name(f".{folder.name}.{token}.tmp")
    tmp.mkdir()
    old = folder.with_name(f".{folder.name}.{token}.old")
    try:
        fill(tmp)
        _fsync_tree(tmp)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.replace(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)
