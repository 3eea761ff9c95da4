"""Learning-curve plots: one trial's training and validation curves, all trials' validation loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from common.records import SearchResult, TrialRecord
from reports.figures import BEST_COLOR, MUTED_COLOR, TRAIN_COLOR, VALIDATION_COLOR, _finite
from reports.scores import ScoreScale

# ---------------------------------------------------------------------------------------------
# Learning curves of one trial


@dataclass(frozen=True)
class LearningCurves:
    """Per-epoch training and validation values of one trial.

    Attributes:
        epochs: 1-based epoch numbers.
        train: quantity ("loss", "accuracy", ...; for regression "RMSE" and "MAE" in the
            target's units) -> training value per epoch.
        validation: quantity -> validation value per epoch (same keys as `train`).
        best_epoch: 1-based epoch whose weights were kept, or None.
    """

    epochs: np.ndarray
    train: dict[str, np.ndarray]
    validation: dict[str, np.ndarray]
    best_epoch: int | None


def learning_curves_data(
    record: TrialRecord,
    scale: ScoreScale = ScoreScale(),  # noqa: B008 - frozen
) -> LearningCurves:
    """The quantities that have both a training and a validation curve, loss first, as a
    reader compares them (`ScoreScale.curve`: regression in the target's units)."""
    history = record.history
    names = [k for k in history if not k.startswith("val_") and f"val_{k}" in history]
    names.sort(key=lambda k: (k != "loss", k))
    n = max((len(history[k]) for k in names), default=0)
    train, validation = {}, {}
    for key in names:
        label, values = scale.curve(key, history[key])
        train[label] = values
        validation[label] = scale.curve(key, history[f"val_{key}"])[1]
    return LearningCurves(np.arange(1, n + 1), train, validation, record.best_epoch)


def _dots(curve: np.ndarray) -> str | None:
    """A marker for a one-epoch curve, which as a line alone would not show."""
    return "o" if len(curve) == 1 else None


def draw_learning_curves(ax: Axes, curves: LearningCurves, quantity: str = "loss") -> None:
    """Training and validation curves of one quantity, with the kept epoch marked."""
    train, validation = curves.train[quantity], curves.validation[quantity]
    ax.plot(
        curves.epochs[: len(train)], train, color=TRAIN_COLOR, label="training", marker=_dots(train)
    )
    ax.plot(
        curves.epochs[: len(validation)],
        validation,
        color=VALIDATION_COLOR,
        label="validation",
        marker=_dots(validation),
    )
    if curves.best_epoch is not None and 1 <= curves.best_epoch <= len(validation):
        ax.axvline(curves.best_epoch, color=BEST_COLOR, linestyle="--", linewidth=1)
        ax.plot(
            curves.best_epoch,
            validation[curves.best_epoch - 1],
            "o",
            color=BEST_COLOR,
            label=f"kept: epoch {curves.best_epoch}",
        )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_ylabel(quantity, parse_math=False)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)


# ---------------------------------------------------------------------------------------------
# All trials' validation curves


@dataclass(frozen=True)
class TrialCurves:
    """Validation-loss curves of every completed trial.

    Attributes:
        curves: trial id -> validation loss per epoch.
        best_trial_id: the trial to highlight, or None.
        y_limits: a y range that shows the interesting part: from the lowest value to the 95th
            percentile, so that one diverging trial does not flatten all the others.
        label: what the curves are, for the y axis.
    """

    curves: dict[str, np.ndarray]
    best_trial_id: str | None
    y_limits: tuple[float, float] | None
    label: str = "validation loss"


def trial_curves_data(
    result: SearchResult,
    scale: ScoreScale = ScoreScale(),  # noqa: B008 - frozen
) -> TrialCurves:
    """The validation-loss curve of each completed trial that recorded one, as a reader
    compares it (regression: RMSE in the target's units)."""
    curves = {
        t.trial_id: scale.curve("loss", t.history["val_loss"])[1]
        for t in result.trials
        if t.completed and t.history.get("val_loss")
    }
    values = _finite(np.concatenate(list(curves.values()))) if curves else np.array([])
    limits = None
    if values.size:
        low, high = float(values.min()), float(np.percentile(values, 95))
        pad = 0.05 * (high - low) if high > low else max(abs(low) * 0.05, 1e-3)
        limits = (low - pad, high + pad)
    return TrialCurves(curves, result.best_trial_id, limits, scale.name)


def draw_trial_curves(ax: Axes, data: TrialCurves) -> None:
    """All trials in grey, the best one on top in colour."""
    for trial_id, curve in data.curves.items():
        if trial_id != data.best_trial_id:
            epochs = np.arange(1, len(curve) + 1)
            ax.plot(epochs, curve, color=MUTED_COLOR, alpha=0.6, lw=1, marker=_dots(curve))
    best = data.curves.get(data.best_trial_id) if data.best_trial_id else None
    if best is not None:
        epochs = np.arange(1, len(best) + 1)
        ax.plot(epochs, best, color=BEST_COLOR, lw=2, label="best trial", marker=_dots(best))
        ax.legend(frameon=False)
    if data.y_limits is not None:
        ax.set_ylim(*data.y_limits)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_ylabel(data.label, parse_math=False)
    ax.grid(alpha=0.3)
