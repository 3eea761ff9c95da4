"""Infer the learning task (binary, multiclass, regression) from the target column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from common.errors import DataError

# An integer-valued numeric target with at most this many distinct values is taken as classes.
_MAX_NUMERIC_CLASSES = 20


@dataclass(frozen=True)
class Task:
    """What is being learned.

    Attributes:
        kind: "binary", "multiclass" or "regression".
        classes: class labels in output order, as spelled in the data (empty for regression).
        reason: one sentence saying why this task was chosen, shown on the console.
    """

    kind: str
    classes: tuple[Any, ...] = ()
    reason: str = ""

    @property
    def is_classification(self) -> bool:
        return self.kind != "regression"

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def _python_scalar(value: Any) -> Any:
    """NumPy scalars become plain Python values so labels serialize to JSON as they look."""
    return value.item() if isinstance(value, np.generic) else value


def _sorted_labels(y: pd.Series) -> tuple[Any, ...]:
    values = pd.unique(y.dropna())
    if pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        ordered = sorted(values)
    else:
        ordered = sorted(values, key=str)
    return tuple(_python_scalar(v) for v in ordered)


def _is_integer_valued(y: pd.Series) -> bool:
    values = y.dropna().to_numpy(dtype=float)
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def infer_task(y: pd.Series, requested: str = "auto") -> Task:
    """Choose the task for target `y`, or check the one the user asked for.

    Args:
        y: the target column with missing values already removed.
        requested: "auto" or one of `TASKS`. Defaults to "auto".

    Returns:
        The task, with class labels in sorted order for classification.

    Raises:
        DataError: if the target cannot support the task (one class, strings for regression...).
    """
    name = y.name
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    n_unique = int(y.nunique(dropna=True))
    if n_unique < 2:
        raise DataError(
            f"Target column '{name}' has a single value ({_python_scalar(y.iloc[0])!r}) in every "
            "row: there is nothing to learn. Pass --target with the column you want to predict."
        )

    if requested == "regression":
        if not numeric:
            example = y.iloc[0]
            raise DataError(
                f"--task regression needs a numeric target, but column '{name}' holds text "
                f"such as {example!r}. Use --task auto, binary or multiclass."
            )
        return Task("regression", (), "regression was requested with --task")

    if requested in ("binary", "multiclass"):
        if requested == "binary" and n_unique != 2:
            raise DataError(
                f"--task binary needs exactly 2 classes, but column '{name}' has {n_unique}. "
                "Use --task multiclass (or auto)."
            )
        return Task(requested, _sorted_labels(y), f"{requested} was requested with --task")

    # auto
    if n_unique == 2:
        labels = _sorted_labels(y)
        return Task("binary", labels, f"the target '{name}' has 2 distinct values {list(labels)}")
    if not numeric:
        labels = _sorted_labels(y)
        return Task("multiclass", labels, f"the target '{name}' holds {n_unique} text labels")
    if _is_integer_valued(y) and n_unique <= _MAX_NUMERIC_CLASSES:
        labels = _sorted_labels(y)
        return Task(
            "multiclass",
            labels,
            f"the target '{name}' holds {n_unique} distinct integers (at most "
            f"{_MAX_NUMERIC_CLASSES} are read as classes; pass --task regression to override)",
        )
    return Task(
        "regression",
        (),
        f"the target '{name}' is numeric with {n_unique} distinct values",
    )
