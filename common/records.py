"""What a search leaves behind: one record per trial, with its full per-epoch history."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrialRecord:
    """One trial of the search, as the report and trials.csv see it.

    Attributes:
        trial_id: Keras Tuner's trial id.
        status: "COMPLETED" or "FAILED" (Keras Tuner's spelling), or "RUNNING" if cut off.
        score: the objective (best validation loss); None when the trial failed.
        hyperparameters: the trial's active hyperparameter values.
        epochs: epochs actually run (early stopping may end a trial before `--epochs`).
        best_epoch: 1-based epoch whose weights were kept (lowest validation loss), or None.
        seconds: wall time of the trial.
        message: why the trial failed, empty otherwise.
        history: per-epoch values keyed like Keras' History: "loss", "val_loss" and the
            task's metric (e.g. "accuracy", "val_accuracy"); one entry per epoch run.
        fold_scores: with cross-validation, each fold's held-out loss (the score is their
            mean); empty otherwise.
        proposed_by: who proposed the trial: "start" (a known-good starting point), "random",
            "model" (the Bayesian model), or "" when the tuner does not say.
        epoch_budget: the most epochs this trial could run when the tuner set it (Hyperband's
            round); None when it is --epochs.
    """

    trial_id: str
    status: str
    score: float | None
    hyperparameters: dict[str, Any]
    epochs: int = 0
    best_epoch: int | None = None
    seconds: float = 0.0
    message: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)
    epoch_budget: int | None = None
    fold_scores: tuple[float, ...] = ()
    proposed_by: str = ""

    @property
    def completed(self) -> bool:
        return self.status == "COMPLETED" and self.score is not None and math.isfinite(self.score)


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a whole search.

    Attributes:
        trials: every trial in the order they were started.
        best_trial_id: the completed trial with the lowest score, or None if none completed.
        seconds: wall time of the search.
        interrupted: True when the user stopped the search early (Ctrl-C).
    """

    trials: tuple[TrialRecord, ...]
    best_trial_id: str | None
    seconds: float
    interrupted: bool = False

    @property
    def best(self) -> TrialRecord | None:
        return next((t for t in self.trials if t.trial_id == self.best_trial_id), None)

    @property
    def n_completed(self) -> int:
        return sum(t.completed for t in self.trials)

    @property
    def n_failed(self) -> int:
        return sum(t.status == "FAILED" for t in self.trials)


# trials.csv and the report's trials table put these first, in this order; others alphabetically.
_HP_ORDER = (
    "layers",
    "units_0",
    "units_1",
    "units_2",
    "units_3",
    "activation",
    "optimizer",
    "learning_rate",
    "batch_size",
    "l2",
    "l1",
    "dropout",
)


def hyperparameter_names(result: SearchResult) -> list[str]:
    """Every hyperparameter any trial used, in a stable, readable order: trials.csv's columns
    and the report's trials table's, from this one place."""
    names = {name for record in result.trials for name in record.hyperparameters}
    return [n for n in _HP_ORDER if n in names] + sorted(names - set(_HP_ORDER))
