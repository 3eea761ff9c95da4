"""Use an exported model folder: check it is this tool's, check new rows against it, predict.

Everything but `load_model` and `predict_rows` works without TensorFlow, so bad input is
reported before the slow import.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from common.errors import DataError, ModelError
from common.files import sha256

# Cleaning's column kinds and conversions, so both sides agree.
from data.cleaning import KINDS, convert_column

# Training's CSV reading (encodings, separator, header checks) and its placeholder texts for a
# missing value ("?", "n.a."), reused so both read alike.
from data.loading import DECIMAL_COMMA_COLUMNS, MISSING_MARKERS, read_csv
from data.preprocessing import Preprocessing
from models.export import FORMAT, METADATA_FILE, MODEL_FILE
from models.heads import binary_probabilities

if TYPE_CHECKING:
    import keras

# pandas' default NA spellings (lower-cased): `read_rows` already reads them as missing, but a
# frame from elsewhere may still hold them as text.
_NA_TEXT = {
    "#n/a",
    "#n/a n/a",
    "#na",
    "-1.#ind",
    "-1.#qnan",
    "-nan",
    "1.#ind",
    "1.#qnan",
    "<na>",
    "n/a",
    "na",
    "nan",
    "null",
    "none",
}
# "0,5": a number written with a decimal comma, which training did not read as a number either.
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
# Rows per call of the model: bounds memory on large files.
_BATCH = 8192
# Bad values quoted per column in an error message.
_EXAMPLES = 3
_REQUIRED = ("format", "task", "target", "classes", "inputs", "preprocessing", "files")


def read_metadata(folder: str | Path) -> dict[str, Any]:
    """Read and verify a model folder's metadata.json.

    The folder must be this tool's: metadata.json with the format marker, and every file it
    lists present with the same SHA-256. This stops a stray or swapped model.keras from being
    loaded by mistake; it is not a defence against someone who can write the folder.

    Raises:
        ModelError: if the folder is missing, not this tool's, or its files do not match.
    """
    folder = Path(folder)
    fix = (
        "Pass a <run>/model folder written by this tool (predict --model DIR, or "
        "Predictor.load(DIR))."
    )
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise ModelError(f"Model folder '{folder}' {what}. {fix}")
    path = folder / METADATA_FILE
    if not path.is_file():
        raise ModelError(
            f"'{folder}' has no {METADATA_FILE}, so it is not a model folder of this "
            f"tool; models from elsewhere are never loaded. {fix}"
        )
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"'{path}' is not readable JSON ({exc}). {fix}") from None
    marker = metadata.get("format") if isinstance(metadata, dict) else None
    if marker != FORMAT:
        raise ModelError(
            f"'{path}' has format {marker!r}, not {FORMAT!r}: not a model folder of "
            f"this tool (or of another version of it). {fix}"
        )
    damaged = _damage(metadata)
    if damaged:
        raise ModelError(f"'{path}' {damaged}; the folder is damaged. {fix}")
    for name, digest in metadata["files"].items():
        file = folder / name
        if not file.is_file():
            raise ModelError(f"'{file}' is missing from the model folder. {fix}")
        if sha256(file) != digest:
            raise ModelError(
                f"'{file}' is not the file this tool wrote (its SHA-256 differs from "
                f"{METADATA_FILE}'s). Re-export the model, or restore the original file."
            )
    return metadata


def _damage(metadata: dict[str, Any]) -> str:
    """What is wrong with the structure of a metadata.json carrying the marker ("" if nothing)."""
    absent = [key for key in _REQUIRED if key not in metadata]
    if absent:
        return f"lacks {', '.join(absent)}"
    files, inputs = metadata["files"], metadata["inputs"]
    if not isinstance(files, dict) or MODEL_FILE not in files:
        return f"does not list {MODEL_FILE} under 'files'"
    for name in files:
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
            return f"lists a file outside the folder ({name!r})"
    keys = {"column", "kind", "input_name"}
    if not isinstance(inputs, list) or not all(
        isinstance(i, dict) and keys <= set(i) and i["kind"] in KINDS for i in inputs
    ):
        return "has malformed 'inputs'"
    features = (
        metadata["preprocessing"].get("features")
        if isinstance(metadata["preprocessing"], dict)
        else None
    )
    if not isinstance(features, list) or [
        f.get("name") if isinstance(f, dict) else None for f in features
    ] != [i["column"] for i in inputs]:
        return "has preprocessing that does not match its 'inputs'"
    for item, feature in zip(inputs, features, strict=True):
        for key in ("kind", "input_name"):
            if feature.get(key) != item[key]:
                return (
                    f"gives column {item['column']!r} {key} {item[key]!r} under 'inputs' but "
                    f"{feature.get(key)!r} under 'preprocessing'"
                )
        if "dtype" in item and item["dtype"] != input_dtype_of(item["kind"]):
            return (
                f"gives column {item['column']!r} dtype {item['dtype']!r}, but a "
                f"{item['kind']} column's input is {input_dtype_of(item['kind'])!r}"
            )
    return _task_damage(metadata["task"], metadata["classes"])


def input_dtype_of(kind: str) -> str:
    """The dtype of a column's model input, by its kind."""
    return "string" if kind == "categorical" else "float32"


def _task_damage(task: Any, classes: Any) -> str:
    """What is wrong with the task and its classes ("" if nothing)."""
    if task not in ("binary", "multiclass", "regression"):
        return f"has task {task!r}, not 'binary', 'multiclass' or 'regression'"
    if not isinstance(classes, list):
        return "has malformed 'classes'"
    wanted = {"binary": "exactly 2", "multiclass": "at least 2", "regression": "none"}[task]
    count_ok = {"binary": len(classes) == 2, "multiclass": len(classes) >= 2,
                "regression": not classes}[task]
    if not count_ok:
        return f"lists {len(classes)} classes for a {task} task, which has {wanted}"
    if len({str(c) for c in classes}) != len(classes):
        return "lists the same class label twice"
    return ""


def output_width(metadata: dict[str, Any]) -> int:
    """How many numbers the model gives per row: one per class for multiclass, else one."""
    return len(metadata["classes"]) if metadata["task"] == "multiclass" else 1


def read_rows(path: str | Path, metadata: dict[str, Any]) -> pd.DataFrame:
    """Read a CSV of rows to predict, like training read its data.

    Categorical columns are read as text, so "007" stays "007" as it was in training.

    Raises:
        DataError: if the file is unreadable, not a CSV or has no data rows.
    """
    categorical = frozenset(i["column"] for i in metadata["inputs"] if i["kind"] == "categorical")
    return read_csv(path, text_columns=categorical)


def decimal_comma_columns(metadata: dict[str, Any], frame: pd.DataFrame) -> list[str]:
    """The model's columns that `read_rows` read as numbers written with a decimal comma."""
    used = {i["column"] for i in metadata["inputs"]}
    return [c for c in frame.attrs.get(DECIMAL_COMMA_COLUMNS, []) if c in used]


def decimal_comma_note(column: str) -> str:
    """What predict says (a console warning, a Python warning) of a decimal-comma column."""
    return (
        f"column {column!r}: numbers with a decimal comma read as numbers (e.g. '5,2' = 5.2), "
        "as training reads them"
    )


def check_rows(metadata: dict[str, Any], frame: pd.DataFrame) -> None:
    """Check that `frame` has every feature column, each holding values of its kind.

    Numeric columns take numbers; boolean columns take true/false, yes/no, 1/0 (any case).
    An empty cell, a common missing-value text ("NA", "?", "n/a") or a placeholder seen in
    training means missing. Categorical columns take any text; values never seen in training
    share the "unseen" slot. Other columns, the target included, are ignored.

    Raises:
        DataError: naming every missing column, or every column with values of the wrong
            kind together with examples of them.
    """
    inputs = metadata["inputs"]
    missing = [i["column"] for i in inputs if i["column"] not in frame.columns]
    if missing:
        lower = {str(c).lower(): c for c in frame.columns}
        hints = [f"'{lower[m.lower()]}' for '{m}'" for m in missing if m.lower() in lower]
        hint = f" (names are case-sensitive: the file has {', '.join(hints)})" if hints else ""
        raise DataError(
            f"The data lacks {len(missing)} feature column(s) the model needs: "
            f"{', '.join(repr(m) for m in missing)}{hint}. The model's columns are: "
            f"{', '.join(i['column'] for i in inputs)}. Add them with the same names; leave "
            "cells empty where a value is unknown."
        )
    problems, decimal_commas = [], False
    for item in inputs:
        if item["kind"] == "categorical":
            continue
        raw = frame[item["column"]]
        bad = _wrong_kind(raw, item)
        if bad.any():
            examples = list(dict.fromkeys(str(v).strip() for v in raw[bad]))[:_EXAMPLES]
            decimal_commas |= any(_DECIMAL_COMMA.match(e) for e in examples)
            first = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            expected = "numbers" if item["kind"] == "numeric" else "true/false, yes/no or 1/0"
            problems.append(
                f"'{item['column']}' should hold {expected} but has {int(bad.sum())} other "
                f"value(s) such as {', '.join(repr(e) for e in examples)} (first in data row "
                f"{first})"
            )
    if problems:
        hint = " Numbers need a '.' as decimal point." if decimal_commas else ""
        raise DataError(
            f"Values of the wrong kind: {'; '.join(problems)}.{hint} Correct them, or leave the "
            "cells empty where a value is unknown."
        )


def _wrong_kind(raw: pd.Series, item: dict[str, Any]) -> pd.Series:
    """True where a present value cannot be read as the column's kind and is no missing marker."""
    converted = convert_column(raw, item["kind"])
    unread = raw.notna() & converted.isna()
    if not unread.any():
        return unread
    text = raw.astype(object).map(lambda v: str(v).strip().lower())
    seen = {m.strip().lower() for m in item.get("missing_markers", [])}
    markers = _NA_TEXT | MISSING_MARKERS | seen
    allowed = text.eq("") | text.isin(markers)
    if item["kind"] == "numeric" and not pd.api.types.is_bool_dtype(raw):
        # Training read infinities as missing too.
        numbers = pd.to_numeric(text.where(unread, ""), errors="coerce")
        allowed |= np.isinf(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    return unread & ~allowed


def load_model(folder: str | Path, metadata: dict[str, Any]) -> keras.Model:
    """Load model.keras with Keras' safe mode on and check its inputs against the metadata.

    Call `read_metadata` first: only files this tool wrote are loaded.

    Raises:
        ModelError: if Keras cannot load the file or its inputs differ from the metadata's.
    """
    import keras

    path = Path(folder) / MODEL_FILE
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any load failure is reported the same way
        made = metadata.get("versions", {}).get("keras", "unknown")
        raise ModelError(
            f"Keras {keras.__version__} cannot load '{path}' (made with Keras {made}): "
            f"{type(exc).__name__}: {exc}. Use the versions in metadata.json or re-export."
        ) from None
    names = set(model.input) if isinstance(model.input, dict) else set()
    expected = {i["input_name"] for i in metadata["inputs"]}
    if names != expected:
        raise ModelError(
            f"'{path}' takes inputs {sorted(names)}, but metadata.json describes "
            f"{sorted(expected)}; the folder is damaged. Re-export the model."
        )
    for item in metadata["inputs"]:
        dtype = str(model.input[item["input_name"]].dtype)
        if dtype != input_dtype_of(item["kind"]):
            raise ModelError(
                f"'{path}' takes column {item['column']!r} as {dtype}, but metadata.json calls "
                f"it {item['kind']} ({input_dtype_of(item['kind'])}); the folder is damaged. "
                "Re-export the model."
            )
    width = int(model.output.shape[-1])
    if width != output_width(metadata):
        raise ModelError(
            f"'{path}' gives {width} output(s) per row, but metadata.json describes a "
            f"{metadata['task']} task with classes {metadata['classes']} "
            f"({output_width(metadata)} output(s)); the folder is damaged. Re-export the model."
        )
    return model


def predict_rows(
    model: keras.Model, preprocessing: Preprocessing, frame: pd.DataFrame
) -> np.ndarray:
    """The model's output for raw rows, in batches.

    Args:
        model: a composed model (see `models.export.compose`).
        preprocessing: its preprocessing, which names and converts the inputs.
        frame: rows with every feature column; other columns are ignored.

    Returns:
        float64 output of shape (n, 1) or (n, n_classes).
    """
    import tensorflow as tf

    outputs = []
    for start in range(0, len(frame), _BATCH):
        chunk = frame.iloc[start : start + _BATCH]
        inputs = {k: tf.constant(v) for k, v in preprocessing.inputs(chunk).items()}
        outputs.append(np.asarray(model(inputs, training=False), dtype=np.float64))
    return np.concatenate(outputs)


def preprocessing_of(metadata: dict[str, Any]) -> Preprocessing:
    """The preprocessing recorded in metadata.json (names and converts the model's inputs).

    Raises:
        ModelError: if its entries are not the ones this tool writes (a hand-edited file).
    """
    try:
        return Preprocessing.from_dict(metadata["preprocessing"]["features"])
    except (TypeError, KeyError, ValueError) as exc:
        raise ModelError(
            f"metadata.json's 'preprocessing' features are not as this tool writes them "
            f"({type(exc).__name__}: {exc}); the folder is damaged. Re-export the model."
        ) from None


def prediction_table(metadata: dict[str, Any], output: np.ndarray) -> pd.DataFrame:
    """One row per input row: `prediction`, and `probability_<label>` per class.

    Labels are written as spelled in the training data; binary models predict classes[1]
    when its probability is above 0.5, as the evaluation does.
    """
    output = np.asarray(output, dtype=np.float64)
    if metadata["task"] == "regression":
        return pd.DataFrame({"prediction": output.reshape(-1)})
    classes = [_label_text(c) for c in metadata["classes"]]
    if metadata["task"] == "binary":
        proba = binary_probabilities(output)
    else:
        proba = output
    table = {"prediction": np.asarray(classes, dtype=object)[proba.argmax(axis=1)]}
    for i, label in enumerate(classes):
        table[f"probability_{label}"] = proba[:, i]
    return pd.DataFrame(table)


def _label_text(label: Any) -> str:
    if isinstance(label, float) and label.is_integer():
        return str(int(label))  # a numeric target with gaps is read as 1.0; the file said 1
    return str(label)


class Predictor:
    """An exported model folder, ready to predict raw rows: `Predictor.load(dir).predict(df)`.

    The command line's `predict` and the Python API share it. The folder and the rows are
    checked before TensorFlow is imported; the Keras model loads on the first prediction.

    Attributes:
        folder: the model folder (`<run>/model`).
        metadata: its verified metadata.json.
    """

    def __init__(self, folder: str | Path, metadata: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.metadata = metadata
        self.preprocessing = preprocessing_of(metadata)
        self._model: keras.Model | None = None

    @classmethod
    def load(cls, folder: str | Path) -> Predictor:
        """Open a model folder this tool exported.

        Raises:
            ModelError: if the folder is missing, not this tool's, or its files do not match
                (see `read_metadata`).
        """
        return cls(folder, read_metadata(folder))

    @property
    def task(self) -> str:
        """"binary", "multiclass" or "regression"."""
        return self.metadata["task"]

    @property
    def classes(self) -> list[Any]:
        """Class labels in the order of the model's outputs (empty for regression)."""
        return list(self.metadata["classes"])

    @property
    def columns(self) -> list[str]:
        """The feature columns the model reads."""
        return [item["column"] for item in self.metadata["inputs"]]

    def read_csv(self, path: str | Path) -> pd.DataFrame:
        """Read a CSV of rows to predict as training read its data (see `read_rows`): in a
        file not separated by commas, decimal commas ("5,2") are read as numbers."""
        return read_rows(path, self.metadata)

    def notes(self, frame: pd.DataFrame) -> list[str]:
        """What reading a CSV with `read_csv` decided of the model's columns (decimal commas),
        one line each; the predict command prints them as warnings."""
        return [decimal_comma_note(c) for c in decimal_comma_columns(self.metadata, frame)]

    def check(self, frame: pd.DataFrame) -> None:
        """Check that `frame` has every feature column with values of its kind.

        Raises:
            DataError: see `check_rows`.
        """
        if not isinstance(frame, pd.DataFrame):
            raise DataError(
                f"Expected a pandas DataFrame of rows to predict, got {type(frame).__name__}."
            )
        check_rows(self.metadata, frame)

    def unseen_categories(self, frame: pd.DataFrame) -> list[tuple[str, int, list[str]]]:
        """(column, rows, examples) for each categorical column with values training did not
        see as categories of their own."""
        return self.preprocessing.unseen_categories(frame)

    def output(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's raw output for checked rows (see `predict_rows`)."""
        if self._model is None:
            self._model = load_model(self.folder, self.metadata)
        return predict_rows(self._model, self.preprocessing, frame.reset_index(drop=True))

    def predict(self, frame: pd.DataFrame | str | Path) -> pd.DataFrame:
        """One row per input row, in order: `prediction` and, for classification,
        `probability_<label>` per class (the predict command's columns).

        Args:
            frame: rows with every feature column (others are ignored), or a CSV path, read
                as the predict command reads it (a `UserWarning` per `notes` line).

        Raises:
            DataError: a missing feature column or values of the wrong kind.
        """
        frame = self._rows(frame)
        table = prediction_table(self.metadata, self.output(frame))
        table.index = frame.index
        return table

    def predict_proba(self, frame: pd.DataFrame | str | Path) -> np.ndarray:
        """Class probabilities, shape (n, classes), columns in `classes` order.

        Raises:
            ModelError: for a regression model, which has no classes.
            DataError: as `predict`.
        """
        if self.task == "regression":
            raise ModelError("A regression model predicts values, not class probabilities. "
                             "Use predict instead.")
        output = self.output(self._rows(frame))
        return binary_probabilities(output) if self.task == "binary" else output

    def _rows(self, frame: pd.DataFrame | str | Path) -> pd.DataFrame:
        if isinstance(frame, (str, Path)):
            frame = self.read_csv(frame)
            for note in self.notes(frame):  # the predict command prints these
                warnings.warn(note, UserWarning, stacklevel=3)
        self.check(frame)
        return frame
