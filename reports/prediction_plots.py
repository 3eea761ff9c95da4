"""Prediction plots: confusion matrix and ROC curve for classification, residuals for regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from sklearn import metrics as skm

from data.task import Task
from reports.evaluation import Predictions
from reports.figures import (
    MAX_POINTS,
    MUTED_COLOR,
    TRAIN_COLOR,
    VALIDATION_COLOR,
    _finite,
    _short,
    sample_indices,
)

# ---------------------------------------------------------------------------------------------
# Classification


@dataclass(frozen=True)
class ConfusionData:
    """Counts of true class (rows) against predicted class (columns), with each class's recall
    and precision.

    Attributes:
        labels: class labels as text, in the order shown.
        counts: integer matrix, shape (n_classes, n_classes), rows and columns in that order.
        recall: per true class, the share of its rows predicted as it (NaN with no rows).
        precision: per predicted class, the share of its predictions that were right (NaN when
            it was never predicted).
        order: how the classes are ordered, in words.
    """

    labels: tuple[str, ...]
    counts: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    order: str


def _is_number_label(label: object) -> bool:
    return isinstance(label, (int, float, np.integer, np.floating)) and not isinstance(label, bool)


def confusion_data(task: Task, predictions: Predictions) -> ConfusionData:
    """The confusion matrix over every class of the task, including unseen ones.

    Classes keep the task's order when it means something (two classes, whose second is the
    ROC curve's positive one; numbers, which the task sorts); text labels of three or more
    classes go by their number of rows in the split, largest first, so the big classes and
    their confusions sit together in the top left.
    """
    indices = list(range(task.n_classes))
    counts = skm.confusion_matrix(predictions.y_true, predictions.y_pred, labels=indices)
    order = "in the task's order"
    if task.n_classes > 2 and not all(_is_number_label(c) for c in task.classes):
        # A stable sort: classes with as many rows keep the task's (alphabetical) order.
        indices = sorted(indices, key=lambda i: -counts[i].sum())
        counts = counts[np.ix_(indices, indices)]
        order = "by their number of rows in the test split, largest first"
    elif task.n_classes > 2:
        order = "in their natural (numeric) order"
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(counts) / counts.sum(axis=1)
        precision = np.diag(counts) / counts.sum(axis=0)
    labels = tuple(str(task.classes[i]) for i in indices)
    return ConfusionData(labels, counts, recall, precision, order)


# Confusion matrices with more classes than this show colours only, no numbers in the cells.
_MAX_ANNOTATED_CLASSES = 20
_SUMMARY_FILL = "#f4f6f8"


def _share(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:.0%}"


def draw_confusion(ax: Axes, data: ConfusionData) -> None:
    """A heat map coloured by each true class's share (so small classes read as well as big
    ones), each cell's count and share, and a recall column and a precision row; labels
    printed as text, never as mathtext."""
    n = len(data.labels)
    rows = data.counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(rows > 0, data.counts / np.maximum(rows, 1), 0.0)
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for k in range(n + 1):  # the recall column and the precision row
        ax.add_patch(Rectangle((n - 0.5, k - 0.5), 1, 1, color=_SUMMARY_FILL, lw=0))
        ax.add_patch(Rectangle((k - 0.5, n - 0.5), 1, 1, color=_SUMMARY_FILL, lw=0))
    ax.axvline(n - 0.5, color="#616e7c", lw=1)
    ax.axhline(n - 0.5, color="#616e7c", lw=1)
    if n <= _MAX_ANNOTATED_CLASSES:
        size = 9 if n <= 6 else 7 if n <= 12 else 5.5
        for i in range(n):
            for j in range(n):
                value = int(data.counts[i, j])
                ax.text(
                    j,
                    i,
                    f"{value}\n{_share(shares[i, j])}" if value else "0",
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="white" if shares[i, j] > 0.5 else "black",
                )
            ax.text(n, i, _share(data.recall[i]), ha="center", va="center", fontsize=size)
        for j in range(n):
            ax.text(j, n, _share(data.precision[j]), ha="center", va="center", fontsize=size)
        total = data.counts.sum()
        accuracy = np.trace(data.counts) / total if total else float("nan")
        ax.text(n, n, f"accuracy\n{_share(accuracy)}", ha="center", va="center", fontsize=size)
    short = [_short(label) for label in data.labels]
    ax.set_xticks(range(n + 1))
    ax.set_yticks(range(n + 1))
    crowded = sum(len(label) for label in short) > 9 * n or n > 8
    ax.set_xticklabels(
        [*short, "recall"],
        parse_math=False,
        rotation=45 if crowded else 0,
        ha="right" if crowded else "center",
    )
    ax.set_yticklabels([*short, "precision"], parse_math=False)
    ax.set_xlim(-0.5, n + 0.5)
    ax.set_ylim(n + 0.5, -0.5)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")


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
    auc = float(skm.auc(fpr, tpr))
    if len(fpr) > MAX_POINTS:  # a large split's curve has a vertex per distinct score
        keep = np.unique(np.linspace(0, len(fpr) - 1, MAX_POINTS).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return RocData(fpr, tpr, auc, str(task.classes[1]))


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
        actual: true values of the rows drawn.
        predicted: predicted values of the rows drawn.
        residuals: actual minus predicted, of the rows drawn.
        limits: a common range for both axes of the predicted-vs-actual plot, from every row.
        n_rows: rows in the split; more than are drawn when it holds over `MAX_POINTS`.
    """

    actual: np.ndarray
    predicted: np.ndarray
    residuals: np.ndarray
    limits: tuple[float, float]
    n_rows: int = 0

    @property
    def n_shown(self) -> int:
        return len(self.actual)


def residual_data(predictions: Predictions, seed: int = 0) -> ResidualData:
    """Actual, predicted and residual values, with a shared axis range; at most `MAX_POINTS`
    rows drawn at random (seeded by `seed`, defaults to 0), so a large split keeps the page
    small."""
    actual = np.asarray(predictions.y_true, dtype=np.float64)
    predicted = np.asarray(predictions.y_pred, dtype=np.float64)
    both = _finite(np.concatenate([actual, predicted]))
    low, high = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    pad = 0.03 * (high - low) if high > low else 1.0
    shown = sample_indices(len(actual), MAX_POINTS, seed)
    actual, predicted = actual[shown], predicted[shown]
    return ResidualData(
        actual, predicted, actual - predicted, (low - pad, high + pad), len(predictions.y_true)
    )


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
