"""The diagnosis's evidence in plain words, for the report's grid (metrics.json keeps the keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.fit_rules import _window
from reports.scores import format_number, format_share

# Evidence key -> what the report calls it. "{window}" is the last window's epochs.
NAMES: dict[str, str] = {
    "train_loss": "training loss",
    "validation_loss": "validation loss",
    "test_loss": "test loss",
    "naive_train_loss": "naive baseline's training loss",
    "naive_validation_loss": "naive baseline's validation loss",
    "train_skill": "training skill (1 − loss ÷ naive loss)",
    "validation_skill": "validation skill",
    "gap": "validation − training loss, × naive loss",
    "linear_gap": "the linear baseline's own gap",
    "excess_gap": "the network's gap beyond the linear one",
    "test_minus_validation": "test − validation loss (with cross-validation: − the "
                             "cross-validated loss), × naive loss",
    "linear_test_minus_validation": "the linear baseline's own test − validation loss, × "
                                    "naive loss (how much harder the test split is)",
    "held_out_loss": "cross-validated loss: every training and validation row predicted by "
                     "the fold that held it out",
    "held_out_rows": "rows of the cross-validated loss",
    "train_accuracy": "training accuracy",
    "validation_accuracy": "validation accuracy",
    "test_accuracy": "test accuracy",
    "train_r2": "training R²",
    "validation_r2": "validation R²",
    "test_r2": "test R²",
    "linear_train_loss": "linear baseline's training loss",
    "linear_validation_loss": "linear baseline's validation loss",
    "train_behind_linear": "training loss above the linear baseline's, × naive loss",
    "validation_behind_linear": "validation loss above the linear baseline's, × naive loss",
    "best_baseline": "best baseline on validation",
    "best_baseline_validation_loss": "its validation loss",
    "validation_behind_best_baseline": "validation loss above the best baseline's, × naive loss",
    "early_stopping": "early stopping on",
    "epochs_budget": "epoch budget",
    "epochs_run": "epochs run",
    "kept_epoch": "epoch whose weights were kept",
    "val_min_epoch": "epoch of the lowest validation loss",
    "epochs_after_val_min": "epochs run after it",
    "stopped_by_early_stopping": "ended by early stopping",
    "train_drop_last_window": "training loss change over the last {window} epochs",
    "val_drop_last_window": "validation loss change over the last {window} epochs",
    "val_rise_after_min": "validation loss rise after its lowest point",
    "train_drop_after_min": "training loss fall after that point",
    "regularization_cost": "cost of L2 and dropout, × naive loss",
    "rules_fired": "rules fired",
    "also_fired": "underfitting rules that also fired",
    "test_agrees_with_validation": "test loss in line with validation",
}
# Shares shown as percentages; the "drop" ones as the change they measure (a drop is −).
_PERCENT = frozenset({"val_rise_after_min", "train_drop_after_min"})
_CHANGE = frozenset({"train_drop_last_window", "val_drop_last_window"})


def _label(key: str, epochs_run: Any) -> str:
    window = _window(int(epochs_run)) if isinstance(epochs_run, int) and epochs_run > 0 else "last"
    name = NAMES.get(key, key.replace("_", " "))
    return name.replace("{window}", str(window)).replace("last last", "last")


def _value(key: str, value: Any) -> str:
    if key in _CHANGE and isinstance(value, (int, float)):
        return format_share(-value, signed=True)
    if key in _PERCENT and isinstance(value, (int, float)):
        return format_share(value)
    if key == "best_baseline" and isinstance(value, str):
        return value.replace("_", " ")
    return format_number(value) if not isinstance(value, str) else value


def plain_evidence(evidence: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for the report, in the diagnosis's order."""
    epochs_run = evidence.get("epochs_run")
    return [(_label(k, epochs_run), _value(k, v)) for k, v in evidence.items()]
