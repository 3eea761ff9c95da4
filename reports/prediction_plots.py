"""Prediction plots: confusion matrix and ROC curve for classification, residuals for regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from sklearn import metrics as skm

from data.task import Task
from reports.evaluation import Predictions
from reports.figures import MUTED_COLOR, TRAIN_COLOR, VALIDATION_COLOR, _finite, _short

# ---------------------------------------------------------------------------------------------
# Classification


@dataclass(frozen=True)
class ConfusionData:
    """Counts of true class (rows) against predicted class (columns).

    Attributes:
        labels: class labels as text, in the task's output order.
        counts: integer matrix, shape (n_classes, n_classes).
    """

    labels: tuple[str, ...]
    counts: np.ndarray


def confusion_data(task: Task, predictions: Predictions) -> ConfusionData:
    """The confusion matrix over every class of the task, including unseen ones."""
    labels = list(range(task.n_classes))
    counts = skm.confusion_matrix(predictions.y_true, predictions.y_pred, labels=labels)
    return ConfusionData(tuple(str(c) for c in task.classes), counts)


def draw_confusion(ax: Axes, data: ConfusionData) -> None:
    """A heat map with the count in each cell; labels printed as text, never as mathtext."""
    n = len(data.labels)
    ax.imshow(data.counts, cmap="Blues")
    peak = data.counts.max() if data.counts.size else 0
    if n <= 20:
        for i in range(n):
            for j in range(n):
                value = data.counts[i, j]
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value > peak / 2 else "black",
                )
    short = [_short(label) for label in data.labels]
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    crowded = sum(len(label) for label in short) > 4 * n or n > 6
    ax.set_xticklabels(
        short, parse_math=False, rotation=45 if crowded else 0, ha="right" if crowded else "center"
    )
    ax.set_yticklabels(short, parse_math=False)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")


@dataclass(frozen=True)
class RocData:
    """Receiver operating characteristic of a binary classifier.

    Attributes:
        fpr: false-positive rate at each threshold.
        tpr: true-positive rate at each threshold.
        auc: area under the curve.
        positive_label: the class whose probability is thresholded (the second class).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    positive_label: str


def roc_data(task: Task, predictions: Predictions) -> RocData | None:
    """The ROC curve for the second class, or None when the split holds one class only."""
    if task.kind != "binary" or predictions.proba is None:
        return None
    if len(np.unique(predictions.y_true)) < 2:
        return None
    fpr, tpr, _ = skm.roc_curve(predictions.y_true, predictions.proba[:, 1], pos_label=1)
    return RocData(fpr, tpr, float(skm.auc(fpr, tpr)), str(task.classes[1]))


def draw_roc(ax: Axes, data: RocData) -> None:
    """The ROC curve against the chance diagonal."""
    ax.plot(data.fpr, data.tpr, color=TRAIN_COLOR, label=f"AUC = {data.auc:.3f}")
    ax.plot([0, 1], [0, 1], color=MUTED_COLOR, linestyle="--", lw=1, label="chance")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel(f"true-positive rate ({_short(data.positive_label)})", parse_math=False)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="lower right")


# ---------------------------------------------------------------------------------------------
# Regression


@dataclass(frozen=True)
class ResidualData:
    """Regression predictions against the truth, in the target's original units.

    Attributes:
        actual: true values.
        predicted: predicted values.
        residuals: actual minus predicted.
        limits: a common range for both axes of the predicted-vs-actual plot.
    """

    actual: np.ndarray
    predicted: np.ndarray
    residuals: np.ndarray
    limits: tuple[float, float]


def residual_data(predictions: Predictions) -> ResidualData:
    """Actual, predicted and residual values, with a shared axis range."""
    actual = np.asarray(predictions.y_true, dtype=np.float64)
    predicted = np.asarray(predictions.y_pred, dtype=np.float64)
    both = _finite(np.concatenate([actual, predicted]))
    low, high = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    pad = 0.03 * (high - low) if high > low else 1.0
    return ResidualData(actual, predicted, actual - predicted, (low - pad, high + pad))


def draw_predicted_vs_actual(ax: Axes, data: ResidualData) -> None:
    """Each row as a dot; dots on the diagonal are perfect predictions."""
    ax.plot(data.limits, data.limits, color=MUTED_COLOR, linestyle="--", lw=1, label="perfect")
    ax.plot(data.actual, data.predicted, "o", color=TRAIN_COLOR, alpha=0.6, ms=4)
    ax.set_xlim(*data.limits)
    ax.set_ylim(*data.limits)
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)


def draw_residuals(ax: Axes, data: ResidualData) -> None:
    """Residuals against predictions: a pattern or a funnel means systematic error."""
    ax.axhline(0.0, color=MUTED_COLOR, linestyle="--", lw=1)
    ax.plot(data.predicted, data.residuals, "o", color=VALIDATION_COLOR, alpha=0.6, ms=4)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual − predicted")
    ax.grid(alpha=0.3)
