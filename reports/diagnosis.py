"""Diagnose the best model as underfitting, overfitting or a good fit, with the numbers behind it.

Pure functions over numbers: the best model's metrics on each split (`Evaluation.metrics`), the
baselines' metrics (`reports.baselines.fit_baselines`) and the best trial's learning curves
(`TrialRecord.history`). No Keras.

The rules and their thresholds are in `reports.fit_rules`, the checks that apply them to the best
model in `reports.fit_checks`, the next steps in `reports.fit_advice`; their public names are
also importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.records import TrialRecord
from data.task import Task
from reports.fit_advice import next_steps
from reports.fit_checks import (
    Check,
    _evidence,
    _overfitting_checks,
    _underfitting_checks,
    _warnings,
    best_baseline_skill,
)
from reports.fit_rules import (
    BASELINE_BEATS_WARNING,
    MIN_WINDOW,
    OVERFIT_GAP,
    OVERFIT_MIN_EPOCHS_PAST_MIN,
    OVERFIT_TRAIN_DROP,
    OVERFIT_VAL_RISE,
    REGULARIZATION_COST,
    RULES,
    STILL_LEARNING_TRAIN_DROP,
    TEST_GAP_WARNING,
    UNDERFIT_LINEAR_MARGIN,
    UNDERFIT_MIN_TRAIN_SKILL,
    VERDICTS,
    WINDOW_FRACTION,
    _curve_facts,
    _rising_after_minimum,
    _still_improving,
)
from reports.scores import format_share

__all__ = [
    "BASELINE_BEATS_WARNING",
    "MIN_WINDOW",
    "OVERFIT_GAP",
    "OVERFIT_MIN_EPOCHS_PAST_MIN",
    "OVERFIT_TRAIN_DROP",
    "OVERFIT_VAL_RISE",
    "REGULARIZATION_COST",
    "RULES",
    "STILL_LEARNING_TRAIN_DROP",
    "TEST_GAP_WARNING",
    "UNDERFIT_LINEAR_MARGIN",
    "UNDERFIT_MIN_TRAIN_SKILL",
    "VERDICTS",
    "WINDOW_FRACTION",
    "Check",
    "Diagnosis",
    "diagnose",
    "diagnose_trial",
]

# diagnose_trial: a validation loss falling less than this over the last window counts as flat.
_TRIAL_MIN_VAL_DROP = 0.01
# diagnose_trial: training and validation loss both fell less than this share from the first epoch.
_TRIAL_BARELY_MOVED = 0.1


@dataclass(frozen=True)
class Diagnosis:
    """The verdict on the best model and what to do about it.

    Attributes:
        verdict: one of `VERDICTS`.
        evidence: the numbers the rules looked at, by name (losses, skills, gaps, curve facts).
        advice: concrete next steps for this verdict, most useful first.
        reasons: one sentence per rule that fired, with its numbers; empty for a good fit.
        warnings: checks that do not change the verdict (test vs. validation, baselines).
        checks: every rule with its measured value and threshold, fired or not.
        rules: the rules and thresholds in words, for the report.
    """

    verdict: str
    evidence: dict[str, float | str | bool]
    advice: tuple[str, ...]
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    rules: str = field(default=RULES, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to metrics.json under "diagnosis"."""
        return {
            "verdict": self.verdict,
            "evidence": dict(self.evidence),
            "advice": list(self.advice),
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "checks": [
                {"rule": c.rule, "value": c.value, "threshold": c.threshold, "fired": c.fired}
                for c in self.checks
            ],
        }


# ---------------------------------------------------------------------------------------------
# The best model


def diagnose(
    task: Task,
    metrics: Mapping[str, Mapping[str, float | None]],
    baselines: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    record: TrialRecord,
    *,
    patience: int,
    epochs: int,
    history_train_loss: float | None = None,
    exported: tuple[str, float] | None = None,
    held_out: tuple[float, int] | None = None,
) -> Diagnosis:
    """Judge the best model by the rules in `RULES`.

    Args:
        task: the task.
        metrics: the best model's `Evaluation.metrics`: split ("train", "validation", "test")
            -> metric -> value. Needs "loss" on train and validation.
        baselines: the output of `fit_baselines`; "naive" is required, "linear" enables U2-U4's
            comparison, others enable the baseline warning. Baseline scores on the "validation"
            split are used when present, the "test" split otherwise.
        record: the best trial, for its learning curves and hyperparameters.
        patience: early-stopping patience of the search; 0 means early stopping was off.
        epochs: the epoch budget per trial (--epochs).
        history_train_loss: the best model's plain training loss in the units of its training
            history, when they are not the metrics' own units plus a standardization (a
            regression target learned on a log or quantile scale): U4 then compares the
            training objective with it on that scale, where the naive loss is 1. Defaults to
            None.
        exported: what the run exported, in words, and its test loss, when that is not the
            best trial's network as it trained (an ensemble, a refit): the warning that a
            baseline has a lower test loss then compares with what the user gets. Defaults to
            None (the best trial's network is the exported model).
        held_out: with cross-validation, the best model's loss over every train+validation row
            predicted by the fold that held it out, and the number of those rows
            (`Evaluation.held_out`): the rows the search chose on, so the test check compares
            the test loss with it rather than with the validation split's share of them.
            Defaults to None.

    Returns:
        The verdict with its evidence, checks, reasons, advice and warnings.

    Raises:
        ValueError: if a required loss is missing.
    """
    facts = _curve_facts(record, patience)
    # Hyperband sets each trial's epochs itself (a round's share of --epochs).
    budget = record.epoch_budget or epochs
    ev = _evidence(task, metrics, baselines, record, facts, patience, budget, history_train_loss,
                   held_out)
    overfit = _overfitting_checks(ev, facts, patience)
    rounds = record.epoch_budget is not None and record.epoch_budget < epochs
    budget_text = (
        f"Hyperband's budget for this trial {budget} of --epochs {epochs}"
        if rounds
        else f"budget {budget}"
    )
    underfit = _underfitting_checks(ev, facts, budget_text)
    fired = [c for c in overfit if c.fired] or [c for c in underfit if c.fired]
    verdict = (
        "good fit" if not fired else "overfitting" if fired[0].rule[0] == "O" else "underfitting"
    )
    ev["rules_fired"] = ", ".join(c.rule for c in fired) or "none"
    also = [c.rule for c in underfit if c.fired] if verdict == "overfitting" else []
    if also:
        ev["also_fired"] = ", ".join(also)
    test_check, warnings = _warnings(ev, baselines, verdict, facts, exported)
    ev["test_agrees_with_validation"] = not (test_check and test_check.fired)

    best_val_skill = max(0.0, best_baseline_skill(ev))  # the naive baseline's is 0
    advice = next_steps(
        verdict,
        record.hyperparameters,
        patience,
        facts,
        epochs,
        weak_data=best_val_skill < UNDERFIT_MIN_TRAIN_SKILL,
        fired={c.rule for c in fired},
        low_signal=max(best_val_skill, ev["validation_skill"]) < UNDERFIT_MIN_TRAIN_SKILL,
        round_epochs=budget if rounds else None,
    )
    checks = overfit + underfit + ([test_check] if test_check else [])
    return Diagnosis(
        verdict,
        ev,
        tuple(advice),
        tuple(c.reason for c in fired),
        tuple(warnings),
        tuple(checks),
    )


# ---------------------------------------------------------------------------------------------
# Every trial, from its curves alone


def diagnose_trial(record: TrialRecord, *, patience: int | None = None) -> str:
    """A short verdict on one trial from its learning curves alone, for the trials table.

    Without the naive scale only the curves' shape is judged, in this order: "overfitting"
    when O2 holds (only when `patience` is 0) or when, at the kept epoch, the validation loss
    exceeds the training loss by `OVERFIT_GAP` × the first epoch's loss; "underfitting" when
    neither loss fell by `_TRIAL_BARELY_MOVED` from the first epoch, or when the run ended at
    its budget still improving (the diagnosis's U3 test: the lowest validation loss in the last
    window, and falling there) by at least `_TRIAL_MIN_VAL_DROP`; "good fit" otherwise, its
    reason saying how the run ended, so that two trials in the same state never read
    differently: stopped early, levelling off (still improving, by less than
    `_TRIAL_MIN_VAL_DROP`), flat or rising at the end.

    Args:
        record: the trial.
        patience: early-stopping patience of the search (0 = off). None when unknown, which
            skips O2 (an early-stopped run always shows `patience` epochs past its minimum).
            Defaults to None.

    Returns:
        The verdict followed by a short reason, e.g. "good fit: early stopping kept epoch 14
        of 24".
    """
    if not record.completed:
        return "failed" if record.status == "FAILED" else record.status.lower()
    train = np.asarray(record.history.get("loss", []), dtype=np.float64)
    val = np.asarray(record.history.get("val_loss", []), dtype=np.float64)
    if len(train) == 0 or len(val) == 0:
        return "no learning curves recorded"
    if not (np.isfinite(train).all() and np.isfinite(val).all()):
        return "diverged: the loss became infinite or NaN"
    facts = _curve_facts(record, patience or 0)
    kept, n = facts["kept_epoch"], facts["epochs_run"]
    if patience == 0 and _rising_after_minimum(facts):
        return (
            f"overfitting: validation loss rose {facts['val_rise_after_min']:.0%} in the "
            f"{facts['epochs_after_val_min']} epochs after epoch {facts['val_min_epoch']}"
        )
    gap = (val[kept - 1] - train[kept - 1]) / max(train[0], val[0], 1e-12)
    if gap >= OVERFIT_GAP:
        return (
            f"overfitting: at epoch {kept} validation loss is {gap:.0%} of the first loss "
            "above training"
        )
    train_fall, val_fall = 1 - train[-1] / train[0], 1 - float(val.min()) / val[0]
    if max(train_fall, val_fall) < _TRIAL_BARELY_MOVED:
        return (
            f"underfitting: the loss barely moved (training {-train_fall:+.0%}, "
            f"validation {-val_fall:+.0%} from the first epoch)"
        )
    window, drop = facts["window"], facts["val_drop_last_window"]
    if _still_improving(facts):
        change = f"validation {format_share(-drop, signed=True)} over the last {window} epochs"
        if drop >= _TRIAL_MIN_VAL_DROP:
            return f"underfitting: still improving when its {n} epochs ran out ({change})"
        return f"good fit: levelling off when its {n} epochs ran out ({change})"
    if facts["stopped_by_early_stopping"]:
        return f"good fit: early stopping kept epoch {kept} of {n}"
    return f"good fit: validation flat or rising at the end; kept epoch {kept} of {n}"
