"""Encode the splits once per run: feature matrices for training, targets in training form.

Many-valued categorical columns get their target encoding here (`data.preprocessing`), once the
training target is in training form: its table comes from the training split; the training
matrix's target-encoded features are out of fold (each training row's from the other folds'
rows), validation's and test's from the whole training table, as the exported model computes
them. With cross-validation (`--cv`) or `--refit`, whose networks train on the training rows
and the validation rows together, the training rows keep their out-of-fold features and the
validation rows the whole table's: no row's features hold its own target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from data.cleaning import Column
from data.preprocessing import (
    Preprocessing,
    TargetEncodingCheck,
    add_target_encoding,
    encode,
    fit_preprocessing,
    fold_of_rows,
)
from data.splits import SPLIT_NAMES, Splits
from data.target import TargetTransform, choose_transform
from data.task import Task

if TYPE_CHECKING:
    import keras


_PREDICT_ROWS = 8192  # rows per eager call when predicting a split


@dataclass(frozen=True)
class EncodedSplits:
    """The splits as the network sees them; preprocessing learned on train, applied to all.

    Attributes:
        preprocessing: the learned statistics.
        preprocessing_model: the Keras model that applies them to raw rows.
        x: split name -> float32 feature matrix.
        y: split name -> training targets: float32 (n, 1) of 0/1 (binary), int64 class
            indices (multiclass) or, for regression, the target on its learned scale
            (`target_transform`) standardized with that scale's training μ and σ.
        target_mean: regression: training μ of the transformed target (0 otherwise).
        target_std: regression: training σ of the transformed target (1 otherwise).
        target_transform: regression: the scale the target is learned on.
        variants: numeric encoding (`data.numeric_encoding`) -> its preprocessing model and
            feature matrices, for every encoding the search may choose; "standard" is
            `preprocessing_model` and `x`.
        target_encoding_checks: every many-valued categorical column's check, whether it got
            a target encoding or not (`data.preprocessing.add_target_encoding`).
    """

    preprocessing: Preprocessing
    preprocessing_model: keras.Model
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    target_mean: float = 0.0
    target_std: float = 1.0
    target_transform: TargetTransform = TargetTransform()
    variants: dict[str, tuple[Any, dict[str, np.ndarray]]] = field(default_factory=dict)
    target_encoding_checks: tuple[TargetEncodingCheck, ...] = ()

    @property
    def n_features(self) -> int:
        return int(self.x["train"].shape[1])

    def x_for(self, encoding: str) -> dict[str, np.ndarray]:
        """The feature matrices of every split in one numeric encoding."""
        return self.x if encoding == "standard" else self.variants[encoding][1]

    def model_for(self, encoding: str) -> Any:
        """The preprocessing model of one numeric encoding."""
        return self.preprocessing_model if encoding == "standard" else self.variants[encoding][0]

    def widths(self) -> dict[str, int]:
        """Encoded features per numeric encoding."""
        return {"standard": self.n_features,
                **{name: int(x["train"].shape[1]) for name, (_, x) in self.variants.items()}}

    def fit_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.x[name], self.y[name]

    def predict(self, model: keras.Model, name: str) -> np.ndarray:
        """The network's output on one split, regression values back in original units."""
        return self.original_units(call_in_blocks(model, self.x[name]))

    def original_units(self, output: np.ndarray) -> np.ndarray:
        """A network's output with regression values back in the target's units."""
        scaled = np.asarray(output, dtype=np.float64) * self.target_std + self.target_mean
        return self.target_transform.inverse(scaled)


def call_in_blocks(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """A network's output on `x` in inference mode, called eagerly in blocks of `_PREDICT_ROWS`:
    the same numbers as `model.predict`, without tracing a predict function for a few calls."""
    import keras

    x = np.asarray(x, dtype=np.float32)
    blocks = [
        keras.ops.convert_to_numpy(model(x[start : start + _PREDICT_ROWS], training=False))
        for start in range(0, max(len(x), 1), _PREDICT_ROWS)
    ]
    return np.concatenate(blocks)


def _training_target(
    y: np.ndarray, task: Task, mean: float, std: float, transform: TargetTransform
) -> np.ndarray:
    if task.kind == "binary":
        return y.astype(np.float32).reshape(-1, 1)
    if task.kind == "multiclass":
        return y.astype(np.int64)
    return ((transform.forward(y) - mean) / std).astype(np.float32).reshape(-1, 1)


def _encoding_targets(y: np.ndarray, task: Task) -> np.ndarray:
    """The training targets a target encoding averages, (n, d): 0/1, one-hot classes, or the
    standardized target on its learned scale."""
    if task.kind == "multiclass":
        return np.eye(task.n_classes, dtype=np.float64)[np.asarray(y, dtype=np.int64)]
    return np.asarray(y, dtype=np.float64).reshape(-1, 1)


def _use_out_of_fold(
    preprocessing: Preprocessing, x: np.ndarray, encoding: str, out_of_fold: dict[str, np.ndarray]
) -> np.ndarray:
    """The training matrix with its target-encoded features replaced by their out-of-fold
    values (`x` itself when there are none)."""
    found = preprocessing.target_encoded_columns(x.shape[1], encoding)
    if found:
        x = np.array(x, dtype=np.float32)
        for spec, columns in found:
            x[:, columns] = out_of_fold[spec.input_name]
    return x


def _variants(
    preprocessing: Preprocessing, splits: Splits, encodings: tuple[str, ...]
) -> dict[str, tuple[Any, dict[str, np.ndarray]]]:
    """The preprocessing model and encoded splits of each numeric encoding but "standard"."""
    variants = {}
    for encoding in dict.fromkeys(encodings):
        if encoding != "standard":
            other = preprocessing.build(encoding)
            variants[encoding] = (
                other, {name: encode(preprocessing, other, splits.x[name]) for name in SPLIT_NAMES})
    return variants


def encode_splits(
    columns: tuple[Column, ...],
    splits: Splits,
    task: Task,
    target_transform: str = "none",
    encodings: tuple[str, ...] = ("standard",),
) -> EncodedSplits:
    """Learn preprocessing on the training split and encode all three splits with it.

    Args:
        columns: the feature columns and their kinds.
        splits: the raw splits.
        task: the task.
        target_transform: regression: "auto", "none", "log" or "quantile"
            (`data.target.choose_transform`, decided on the training split). Defaults to "none".
        encodings: the numeric encodings to prepare (the search space's choices); "standard"
            is always prepared. Defaults to ("standard",).

    Raises:
        ValueError: a requested transform the training target does not allow.
    """
    train = splits.x["train"]
    preprocessing = fit_preprocessing(train, columns)
    model = preprocessing.build()
    x = {name: encode(preprocessing, model, splits.x[name]) for name in SPLIT_NAMES}
    regression = task.kind == "regression"
    # A regression's target transform is judged on every numeric encoding, so they come first.
    variants = _variants(preprocessing, splits, encodings) if regression else {}
    mean, std, transform = 0.0, 1.0, TargetTransform()
    if regression:  # decided on the one-hot features, before any target encoding
        # Every numeric encoding the search will try: the ridge judge sees what a network can.
        views = {"standard": x["train"]} | {
            encoding: matrices["train"] for encoding, (_, matrices) in variants.items()}
        transform = choose_transform(splits.y["train"], target_transform, views)
        train_y = transform.forward(splits.y["train"])
        mean, std = float(train_y.mean()), float(train_y.std()) or 1.0
    y = {name: _training_target(splits.y[name], task, mean, std, transform)
         for name in SPLIT_NAMES}
    targets = _encoding_targets(y["train"], task)
    encoded, out_of_fold, checks = add_target_encoding(
        preprocessing, train, targets, fold_of_rows(len(train)))
    if out_of_fold:
        preprocessing, model = encoded, encoded.build()
        x = {name: encode(preprocessing, model, splits.x[name]) for name in SPLIT_NAMES}
        x["train"] = _use_out_of_fold(preprocessing, x["train"], "standard", out_of_fold)
    if out_of_fold or not regression:  # built from the final preprocessing
        variants = _variants(preprocessing, splits, encodings)
        for encoding, (_, matrices) in variants.items():
            matrices["train"] = _use_out_of_fold(preprocessing, matrices["train"], encoding,
                                                 out_of_fold)
    return EncodedSplits(preprocessing, model, x, y, mean, std, transform, variants,
                         tuple(checks))


def describe(encoded: EncodedSplits) -> dict[str, Any]:
    return {
        "features": encoded.preprocessing.to_dict(),
        "target_mean": encoded.target_mean,
        "target_std": encoded.target_std,
        "target_transform": encoded.target_transform.to_dict(),
    }
