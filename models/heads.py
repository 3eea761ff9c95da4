"""Output heads: the last layer, loss and training metric of each task."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.task import Task


@dataclass(frozen=True)
class Head:
    """What the network ends with for one task.

    Attributes:
        units: output neurons: 1 (binary, regression) or the number of classes.
        activation: "sigmoid" (binary), "softmax" (multiclass) or "linear" (regression).
        loss: the Keras loss trained on.
        metric: the Keras metric recorded per epoch besides the loss.
    """

    units: int
    activation: str
    loss: str
    metric: str


def head_for(task: Task) -> Head:
    """The output head for `task`.

    Multiclass targets are integer class indices, so the sparse form of categorical
    cross-entropy is used; it is the same loss as categorical cross-entropy on one-hot targets.
    Regression trains on the standardized target with mean squared error.
    """
    if task.kind == "binary":
        return Head(1, "sigmoid", "binary_crossentropy", "accuracy")
    if task.kind == "multiclass":
        return Head(task.n_classes, "softmax", "sparse_categorical_crossentropy", "accuracy")
    return Head(1, "linear", "mean_squared_error", "mae")


def binary_probabilities(output: np.ndarray) -> np.ndarray:
    """The binary head's output, P(classes[1]) of shape (n, 1), as the probabilities of
    (classes[0], classes[1]) of shape (n, 2)."""
    p = np.clip(np.asarray(output, dtype=np.float64).reshape(-1), 0.0, 1.0)
    return np.column_stack([1.0 - p, p])
