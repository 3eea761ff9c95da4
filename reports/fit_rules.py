"""The diagnosis rules: verdicts, thresholds, the `RULES` text, and the learning curves' shape.

Losses are compared on the scale of the naive baseline's loss (log loss of predicting the class
frequencies, or the target's variance for regression): "closes 20% of the gap between naive and
perfect" means the same on every data set, and a gap of 0.05 in log loss is small when the
naive loss is 0.66 but large when it is 0.05. Learning curves are only read for their shape
(relative slopes, where the minimum lies), because Keras' per-epoch training loss includes the
L2/L1 penalties and is measured with dropout active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from common.records import TrialRecord

VERDICTS = ("underfitting", "overfitting", "good fit")

# --- Underfitting -------------------------------------------------------------------------------
# U1: the model closes less than this share of the gap between the naive baseline's training loss
# and a perfect fit (1 - train loss / naive train loss; for regression this is the training R²),
# and some baseline's validation loss is lower than the network's by `UNDERFIT_LINEAR_MARGIN` ×
# the naive loss. When none is, the data holds little signal for any model: a warning says so.
UNDERFIT_MIN_TRAIN_SKILL = 0.2
# U2: the network's training loss is above the linear baseline's training loss by at least this
# share of the naive loss, and its validation loss is above the linear baseline's too. Each
# comparison is on the same rows, so split-to-split noise cancels; a network that fits its own
# training data worse than a straight line, and does not generalize better for it, is held back by
# its capacity, its regularization or its optimization.
UNDERFIT_LINEAR_MARGIN = 0.02
# U3: training ended by the epoch budget, not by early stopping, while the validation loss was
# still falling over the last window, and the training loss fell by at least this share of its
# value over that window or the network is still behind the linear model on validation.
STILL_LEARNING_TRAIN_DROP = 0.1
# U4: the objective Keras minimized at the kept epoch (the loss plus the penalties, measured with
# dropout on) exceeds the plain training loss by at least this share of the naive loss, and the
# network does not beat the linear baseline on validation: regularization is what holds it back.
REGULARIZATION_COST = 0.1
# The "last window" of a run: this share of its epochs, at least `MIN_WINDOW` epochs.
WINDOW_FRACTION = 0.1
MIN_WINDOW = 5

# --- Overfitting --------------------------------------------------------------------------------
# O1: validation loss exceeds training loss by at least this share of the naive validation loss,
# beyond the linear baseline's own gap on the same splits. A small or unusual validation split
# can make every model look worse on it; the linear model, which can barely overfit, measures that.
OVERFIT_GAP = 0.25
# O3: the network fits the training split about as well as the linear baseline or better
# (training loss less than `UNDERFIT_LINEAR_MARGIN` × naive above its: U2 does not hold) but
# validates worse than it by at least this share of the naive loss,
# with a gap of at least `OVERFIT_GAP`: its extra capacity went into memorizing. O1 cannot see
# this where the linear model overfits too (nearly as many columns as rows) and its own gap
# excuses the network's.
OVERFIT_BEHIND_LINEAR = 0.1
# O2 (early stopping off): after its minimum, validation loss rose for at least this many epochs
# (and at least `WINDOW_FRACTION` of the run) while the training loss kept falling ...
OVERFIT_MIN_EPOCHS_PAST_MIN = 10
# ... the fitted rise being at least this share of the minimum validation loss ...
OVERFIT_VAL_RISE = 0.1
# ... and the fitted fall of the training loss at least this share of its value at the minimum.
OVERFIT_TRAIN_DROP = 0.05

# --- Checks that warn without changing the verdict ----------------------------------------------
# Test loss exceeds validation loss (with cross-validation, the loss over every fold's held-out
# rows) by at least this share of the naive loss: the search may have overfit the rows it chose
# on (it picked the hyperparameters that were lucky on them).
TEST_GAP_WARNING = 0.2
# A baseline beats the network's test loss by at least this share of the naive loss.
BASELINE_BEATS_WARNING = 0.05

RULES = f"""\
Losses are measured on the naive baseline's scale: skill = 1 − loss / naive loss (0 = no better \
than predicting the class frequencies or the mean, 1 = perfect; for regression the training \
skill is R²), and a gap is a difference of losses divided by the naive loss.
Overfitting (checked first):
  O1  validation loss − training loss ≥ {OVERFIT_GAP:g} × naive validation loss, beyond the \
linear baseline's own gap (when positive) on the same splits.
  O2  early stopping off (--patience 0), and for at least {OVERFIT_MIN_EPOCHS_PAST_MIN} epochs \
(and {WINDOW_FRACTION:.0%} of the run) after its minimum the validation loss rose by \
≥ {OVERFIT_VAL_RISE:.0%} of that minimum while the training loss fell by \
≥ {OVERFIT_TRAIN_DROP:.0%}. With early stopping on, the restored best weights are judged by O1 \
and O3 only.
  O3  training loss less than {UNDERFIT_LINEAR_MARGIN:g} × naive loss above the linear \
baseline's (or below it), validation loss above the linear baseline's by \
≥ {OVERFIT_BEHIND_LINEAR:g} × naive loss, and validation loss − training loss ≥ {OVERFIT_GAP:g} × \
naive loss: the network fits its training data as well as a linear model and generalizes worse.
Underfitting:
  U1  training skill < {UNDERFIT_MIN_TRAIN_SKILL:g}: the model is little better than naive even \
on the data it was trained on, and a baseline (linear, gradient boosting) validates better by \
≥ {UNDERFIT_LINEAR_MARGIN:g} × naive loss, itself beating naive by as much. If none does, the \
features carry little signal: a warning, not a verdict.
  U2  the network's training loss is above the linear baseline's by ≥ {UNDERFIT_LINEAR_MARGIN:g} \
× naive loss, and its validation loss is above the linear baseline's too: it fits its own \
training data worse than a linear model and does not generalize better for it.
  U3  training ended at the epoch budget (not by early stopping) with the validation loss still \
falling over the last {WINDOW_FRACTION:.0%} of epochs (at least {MIN_WINDOW}), and either the \
training loss fell ≥ {STILL_LEARNING_TRAIN_DROP:.0%} of its value over that window (on a \
least-squares line) or the validation loss is \
still above the linear model's. (With Hyperband, the budget is what its round gave the trial.)
  U4  the objective Keras minimized at the kept epoch (loss + L2/L1 penalties, with dropout on) is \
above the plain training loss by ≥ {REGULARIZATION_COST:g} × naive loss, and the validation loss \
is above the linear baseline's: regularization costs more than it gives back.
U2, U3 and U4 count the network as behind the linear baseline only where that baseline \
validates better than naive by ≥ {UNDERFIT_LINEAR_MARGIN:g} × naive loss.
Good fit: none of the above.
Warnings (the verdict stays): test loss − validation loss ≥ {TEST_GAP_WARNING:g} × naive loss, \
beyond the linear baseline's own test − validation loss (the search may have overfit the rows \
it chose on; with cross-validation the loss over every \
fold's held-out rows stands for the validation loss); a baseline's test loss lower than the \
network's by ≥ {BASELINE_BEATS_WARNING:g} × naive loss.
Curves are read from Keras' history, whose training loss includes the L2/L1 penalties and dropout; \
only their shape is used. Split metrics come from the restored best weights, without dropout."""


# ---------------------------------------------------------------------------------------------
# Curve facts


def _window(n_epochs: int) -> int:
    return min(n_epochs, max(MIN_WINDOW, round(WINDOW_FRACTION * n_epochs)))


def _fitted_change(values: np.ndarray) -> float:
    """Change from first to last point of a least-squares line: robust to epoch-to-epoch noise."""
    if len(values) < 2:
        return 0.0
    slope = np.polyfit(np.arange(len(values)), values, 1)[0]
    return float(slope * (len(values) - 1))


def _relative(change: float, reference: float) -> float:
    return change / abs(reference) if abs(reference) > 1e-12 else 0.0


def _drop(values: np.ndarray) -> float:
    """How far a curve fell over `values`, as a share of where it started: the least-squares
    line's fall over its value at the first point: 68 % for a loss going 0.15, 0.12, 0.09,
    0.07, 0.05, where a share of the window's mean said 104 %, more than all of it."""
    change = _fitted_change(values)
    return _relative(-change, float(np.mean(values)) - change / 2)


def _curve_facts(record: TrialRecord, patience: int) -> dict[str, Any]:
    """Shape facts of the learning curves; empty when there is no usable history."""
    train = np.asarray(record.history.get("loss", []), dtype=np.float64)
    val = np.asarray(record.history.get("val_loss", []), dtype=np.float64)
    n = min(len(train), len(val))
    if n == 0 or not (np.isfinite(train[:n]).all() and np.isfinite(val[:n]).all()):
        return {}
    train, val = train[:n], val[:n]
    # The kept epoch is the lowest validation loss with early stopping, the last epoch without.
    kept = record.best_epoch if record.best_epoch and 1 <= record.best_epoch <= n else n
    minimum = int(np.argmin(val)) + 1
    window = _window(n)
    after = n - minimum
    facts: dict[str, Any] = {
        "epochs_run": n,
        "kept_epoch": kept,
        "val_min_epoch": minimum,
        "epochs_after_val_min": after,
        "window": window,
        # Early stopping ends a run exactly `patience` epochs after the kept (best) epoch.
        "stopped_by_early_stopping": patience > 0 and n - kept >= patience,
        "train_drop_last_window": _drop(train[-window:]),
        "val_drop_last_window": _drop(val[-window:]),
        "val_rise_after_min": 0.0,
        "train_drop_after_min": 0.0,
    }
    if after >= 1:
        segment = slice(minimum - 1, n)
        facts["val_rise_after_min"] = _relative(_fitted_change(val[segment]), val[minimum - 1])
        # The fitted line's fall, but never more than the curve's own largest fall from that
        # point: a line through a steep, curving fall overshoots (it read 153 %).
        facts["train_drop_after_min"] = min(
            _relative(-_fitted_change(train[segment]), train[minimum - 1]),
            _relative(train[minimum - 1] - float(train[segment].min()), train[minimum - 1]),
        )
    return facts


def _still_improving(facts: Mapping[str, Any]) -> bool:
    """Training ended by the budget with the validation loss still falling at the end."""
    return bool(
        facts
        and not facts["stopped_by_early_stopping"]
        and facts["val_min_epoch"] > facts["epochs_run"] - facts["window"]
        and facts["val_drop_last_window"] > 0
    )


def _rising_after_minimum(facts: Mapping[str, Any]) -> bool:
    """Validation loss rose for many epochs after its minimum while training loss kept falling."""
    return bool(
        facts
        and facts["epochs_after_val_min"]
        >= max(OVERFIT_MIN_EPOCHS_PAST_MIN, WINDOW_FRACTION * facts["epochs_run"])
        and facts["val_rise_after_min"] >= OVERFIT_VAL_RISE
        and facts["train_drop_after_min"] >= OVERFIT_TRAIN_DROP
    )
