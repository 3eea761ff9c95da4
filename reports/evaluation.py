"""Score predictions with scikit-learn's metrics, in the target's original units."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from data.task import Task
from models.heads import binary_probabilities


@dataclass(frozen=True)
class Predictions:
    """A model's predictions on one split.

    Attributes:
        y_true: class indices into `Task.classes` (classification) or values in original units.
        y_pred: predicted class indices, or predicted values in original units.
        proba: class probabilities, shape (n, n_classes); None for regression.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None


@dataclass(frozen=True)
class Evaluation:
    """Metrics and predictions of one model on every split.

    Attributes:
        metrics: split name -> metric name -> value (None where undefined, e.g. AUC on one class).
        predictions: split name -> predictions, for plots (confusion matrix, ROC, residuals).
    """

    metrics: dict[str, dict[str, float | None]]
    predictions: dict[str, Predictions]
    history_train_loss: float | None = None  # see `reports.diagnosis.diagnose`
    # With cross-validation: the loss over every train+validation row, each predicted by the
    # fold that held it out, with the number of those rows (see `reports.diagnosis.diagnose`).
    held_out: tuple[float, int] | None = None


def predictions_from_output(task: Task, y_true: np.ndarray, output: np.ndarray) -> Predictions:
    """Turn a network's raw output into `Predictions`.

    Args:
        task: the task.
        y_true: class indices or values in original units.
        output: the model's output: P(second class) with shape (n, 1) for binary, softmax
            probabilities (n, k) for multiclass, values in original units for regression.
    """
    output = np.asarray(output, dtype=np.float64)
    if task.kind == "regression":
        return Predictions(np.asarray(y_true, dtype=np.float64), output.reshape(-1))
    if task.kind == "binary":
        proba = binary_probabilities(output)
    else:
        proba = output / np.clip(output.sum(axis=1, keepdims=True), 1e-12, None)
    return Predictions(np.asarray(y_true, dtype=np.int64), proba.argmax(axis=1), proba)


def score(task: Task, predictions: Predictions) -> dict[str, float | None]:
    """The task's metrics for one split.

    Classification: `loss` (log loss), `accuracy`, plus `auc` (binary) or `f1_macro`
    (multiclass). Regression: `loss` (mean squared error), `rmse`, `mae`, `r2`, all in the
    target's original units.
    """
    y, y_hat = predictions.y_true, predictions.y_pred
    if task.kind == "regression":
        mse = float(skm.mean_squared_error(y, y_hat))
        return {
            "loss": mse,
            "rmse": math.sqrt(mse),
            "mae": float(skm.mean_absolute_error(y, y_hat)),
            "r2": float(skm.r2_score(y, y_hat)) if len(y) > 1 else None,
        }
    labels = list(range(task.n_classes))
    result: dict[str, float | None] = {
        "loss": float(skm.log_loss(y, predictions.proba, labels=labels)),
        "accuracy": float(skm.accuracy_score(y, y_hat)),
    }
    if task.kind == "binary":
        # AUC is undefined when a split holds one class only.
        both = len(np.unique(y)) == 2
        result["auc"] = float(skm.roc_auc_score(y, predictions.proba[:, 1])) if both else None
    else:
        result["f1_macro"] = float(
            skm.f1_score(y, y_hat, labels=labels, average="macro", zero_division=0)
        )
    return result


def evaluate(task: Task, predictions: dict[str, Predictions]) -> Evaluation:
    """Score each split's predictions.

    Args:
        task: the task.
        predictions: split name -> predictions.

    Returns:
        The metrics of every split, with the predictions kept for plotting.
    """
    return Evaluation({name: score(task, p) for name, p in predictions.items()}, predictions)
