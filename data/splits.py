"""Split rows into train, validation and test sets: stratified for classes, repeatable by seed."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.errors import DataError
from data.task import Task

SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class Splits:
    """Raw feature rows and targets of the three splits.

    Attributes:
        x: split name -> feature frame (converted columns, not yet preprocessed).
        y: split name -> target as class indices into `Task.classes` (int64) or values (float64).
    """

    x: dict[str, pd.DataFrame]
    y: dict[str, np.ndarray]

    def sizes(self) -> dict[str, int]:
        return {name: len(self.x[name]) for name in SPLIT_NAMES}


def encode_target(y: pd.Series, task: Task) -> np.ndarray:
    """Class indices in `task.classes` order, or float values for regression."""
    if task.kind == "regression":
        return y.to_numpy(dtype=np.float64)
    index = {label: i for i, label in enumerate(task.classes)}
    return np.array([index[v] for v in y.tolist()], dtype=np.int64)


def _check_class_counts(y: np.ndarray, task: Task) -> None:
    counts = np.bincount(y, minlength=task.n_classes)
    smallest = int(counts.min())
    if smallest < 3:
        label = task.classes[int(counts.argmin())]
        numbers = all(isinstance(c, (int, float)) and not isinstance(c, bool)
                      for c in task.classes)
        raise DataError(
            f"Class {label!r} of the target has only {smallest} row(s); a stratified "
            "train/validation/test split needs at least 3 per class. Remove that class's rows "
            "or collect more"
            + ("; or, if the target is a quantity rather than classes, pass --task regression."
               if numbers else ".")
        )


# Regression splits are stratified on target quantile bins holding at least this many rows each.
_MIN_ROWS_PER_BIN = 30


def _target_bins(y: np.ndarray, smallest_split: int) -> np.ndarray | None:
    """Quantile bins of a numeric target, so every split covers its whole range.

    On small data a random split can put most extreme targets in one split, which makes the
    validation and test scores disagree for no fault of the model; stratifying on quantile bins
    keeps each split's target distribution alike. None when the data is too small to bin.
    """
    n_bins = min(10, len(y) // _MIN_ROWS_PER_BIN, smallest_split)
    if n_bins < 2:
        return None
    ranks = np.argsort(np.argsort(y, kind="stable"), kind="stable")
    return (ranks * n_bins // len(y)).astype(np.int64)


def split(
    features: pd.DataFrame,
    y: np.ndarray,
    task: Task,
    val_size: float = 0.15,
    test_size: float = 0.15,
    seed: int = 0,
) -> Splits:
    """Split into train/validation/test.

    Args:
        features: converted feature columns.
        y: encoded target (see `encode_target`).
        task: the task; classification splits are stratified by class, regression splits by
            quantile bins of the target.
        val_size: share of all rows for validation. Defaults to 0.15.
        test_size: share of all rows for test. Defaults to 0.15.
        seed: makes the split repeatable. Defaults to 0.

    Raises:
        DataError: if there are too few rows, or a class too small to stratify.
    """
    n = len(features)
    n_test = int(np.ceil(test_size * n))
    n_val = int(np.ceil(val_size * n))
    if n - n_test - n_val < 2 or n_val < 1 or n_test < 1:
        raise DataError(
            f"Only {n} usable rows: too few for train, validation ({val_size:g}) and test "
            f"({test_size:g}) splits. Use a larger file (dozens of rows at the very least)."
        )
    if task.is_classification:
        _check_class_counts(y, task)
        strata = y
    else:
        strata = _target_bins(y, min(n_test, n_val))
    from sklearn.model_selection import train_test_split  # here: importing it takes seconds

    index = np.arange(n)
    try:
        rest, test = train_test_split(index, test_size=n_test, random_state=seed, stratify=strata)
        train, val = train_test_split(
            rest,
            test_size=n_val,
            random_state=seed,
            stratify=None if strata is None else strata[rest],
        )
    except ValueError as exc:
        raise DataError(
            f"Cannot make a stratified split of {n} rows into {task.n_classes} classes "
            f"({exc}). Use a larger --val-size/--test-size (val_size/test_size) or more rows "
            "per class."
        ) from None
    parts = {"train": np.sort(train), "validation": np.sort(val), "test": np.sort(test)}
    return Splits(
        x={k: features.iloc[v].reset_index(drop=True) for k, v in parts.items()},
        y={k: y[v] for k, v in parts.items()},
    )


def fold_masks(y: np.ndarray, task: Task, k: int, seed: int = 0) -> np.ndarray:
    """K cross-validation folds over the rows of `y`, stratified as the splits are.

    Args:
        y: encoded targets of the rows the folds share (train and validation).
        task: the task: folds are stratified by class, or by quantile bins of the target.
        k: the number of folds (at least 2).
        seed: makes the folds repeatable. Defaults to 0.

    Returns:
        (n, k) bool: True where fold j trains on the row; each row is held out by one fold.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y).reshape(len(y), -1)[:, 0]
    if task.is_classification:
        strata = y.astype(np.int64)
    else:
        strata = _target_bins(y, len(y) // k)
    splitter = (KFold(k, shuffle=True, random_state=seed) if strata is None
                else StratifiedKFold(k, shuffle=True, random_state=seed))
    masks = np.ones((len(y), k), dtype=bool)
    with warnings.catch_warnings():
        # A class with fewer rows than folds is spread over as many folds as it has rows.
        warnings.filterwarnings("ignore", message="The least populated class")
        for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(y)), strata)):
            masks[held_out, fold] = False
    return masks
