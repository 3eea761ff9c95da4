"""Run the Keras Tuner search and collect every trial, completed or failed, as `TrialRecord`s."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.records import SearchResult, TrialRecord, hyperparameter_names
from tuning.config import RunConfig
from tuning.interrupts import deferred

if TYPE_CHECKING:  # Keras Tuner imports TensorFlow: not on the error paths
    import keras_tuner as kt


def run_search(
    tuner: kt.Tuner,
    train: tuple[Any, Any],
    validation: tuple[Any, Any],
    report: Callable[[str], None] = print,
) -> SearchResult:
    """Search until the tuner's budget is spent or the user presses Ctrl-C.

    Args:
        tuner: a tuner from `tuning.search.tuners.make_tuner`.
        train: encoded training features and targets.
        validation: encoded validation features and targets.
        report: where progress lines go. Defaults to print.

    Returns:
        Every trial the tuner knows of (including those of an earlier, resumed session).
    """
    start = time.perf_counter()
    interrupted = False
    try:
        with deferred():  # the search stops at its next epoch's end or trial's start
            tuner.search(*train, validation_data=validation, verbose=0)
    except KeyboardInterrupt:
        interrupted = True
        report("interrupted: stopping the search and writing the results so far")
    return collect(tuner, time.perf_counter() - start, interrupted)


# Why a trial that did not end has no result (it was cut off by Ctrl-C or a kill).
_UNFINISHED = {"RUNNING": "interrupted before it finished; --resume runs it again"}


def _short_message(message: str | None) -> str:
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _round_epochs(values: dict) -> int | None:
    """The epochs Hyperband gave a trial (it continues some from an earlier round's weights)."""
    if "tuner/epochs" not in values:
        return None
    return int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0))


def collect(tuner: kt.Tuner, seconds: float, interrupted: bool = False) -> SearchResult:
    """Merge the oracle's trials with the per-epoch histories the tuner wrote."""
    history_dir = Path(tuner.project_dir).parent / "histories"
    proposed = getattr(tuner.oracle, "proposed", {})
    records = [trial_record(tuner.oracle.trials[trial_id], history_dir, proposed)
               for trial_id in sorted(tuner.oracle.trials, key=int)]
    completed = [r for r in records if r.completed]
    best = min(completed, key=lambda r: r.score).trial_id if completed else None
    return SearchResult(tuple(records), best, seconds, interrupted)


# Hyperparameters of the hidden layers only: a linear trial (`layers` 0) declares them, as every
# trial does, but they change nothing in it, so its record, trials.csv and the report leave them
# blank.
_HIDDEN_LAYER_ONLY = ("activation", "dropout")


def trial_record(trial: Any, history_dir: Path, proposed: dict[str, str]) -> TrialRecord:
    """One Keras Tuner trial with what `histories/trial_<id>.json` adds (epochs, seconds,
    history, why it failed); `proposed` maps trial ids to who proposed them."""
    trial_id = trial.trial_id
    path = history_dir / f"trial_{trial_id}.json"
    extra = json.loads(path.read_text()) if path.exists() else {}
    values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
    if values.get("layers") == 0:  # no hidden layer: an activation or dropout has nothing to act on
        values = {k: v for k, v in values.items() if k not in _HIDDEN_LAYER_ONLY}
    completed = trial.status == "COMPLETED"
    return TrialRecord(
        trial_id=trial_id,
        status=trial.status,
        score=float(trial.score) if completed and trial.score is not None else None,
        hyperparameters=values,
        epochs=int(extra.get("epochs", 0)),
        best_epoch=extra.get("best_epoch"),
        seconds=float(extra.get("seconds", 0.0)),
        message=""
        if completed
        else (
            extra.get("message")
            or _short_message(trial.message)
            or _UNFINISHED.get(trial.status, "")
        ),
        history=extra.get("history", {}),
        epoch_budget=_round_epochs(trial.hyperparameters.values),
        fold_scores=tuple(float(f["score"]) for f in extra.get("folds", ())),
        proposed_by=proposed.get(trial_id, ""),
    )


def trials_csv(result: SearchResult) -> str:
    """trials.csv: one row per trial; columns per the contract."""
    names = hyperparameter_names(result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["trial_id", "status", "score", *names, "epochs", "seconds", "message"])
    for r in result.trials:
        writer.writerow(
            [
                r.trial_id,
                r.status,
                "" if r.score is None else f"{r.score:.6g}",
                *(r.hyperparameters.get(n, "") for n in names),
                r.epochs,
                f"{r.seconds:.2f}",
                r.message,
            ]
        )
    return buffer.getvalue()


def shortfall(config: RunConfig, result: SearchResult) -> str | None:
    """What to say when the search ended before --max-trials because the space ran out.

    Keras Tuner stops a grid search after its last combination, and a random or Bayesian one
    when it can no longer draw an untried combination. (Hyperband's --max-trials is a ceiling
    of its own schedule, so it is not a shortfall.)
    """
    ran = len(result.trials)
    if result.interrupted or config.tuner == "hyperband" or ran >= config.max_trials:
        return None
    why = ("every combination of the grid has run" if config.tuner == "grid"
           else "the space has no untried combination left")
    return (f"search: ended after {ran} of --max-trials {config.max_trials} trials: {why}. "
            "Widen the space (--space) for more.")
