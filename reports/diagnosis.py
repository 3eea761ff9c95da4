"""Diagnose the best model as underfitting, overfitting or a good fit, with the numbers behind it.

Pure functions over numbers: the best model's metrics on each split (`Evaluation.metrics`), the
baselines' metrics (`reports.baselines.fit_baselines`) and the best trial's learning curves
(`TrialRecord.history`). No Keras.

Losses are compared on the scale of the naive baseline's loss (log loss of predicting the class
frequencies, or the target's variance for regression): "closes 20% of the gap between naive and
perfect" means the same on every data set, and a gap of 0.05 in log loss is small when the
naive loss is 0.66 but large when it is 0.05. Learning curves are only read for their shape
(relative slopes, where the minimum lies), because Keras' per-epoch training loss includes the
L2 penalty and is measured with dropout active.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from data.task import Task
from tuning.records import TrialRecord

VERDICTS = ("underfitting", "overfitting", "good fit")

# --- Underfitting -------------------------------------------------------------------------------
# U1: the model closes less than this share of the gap between the naive baseline's training loss
# and a perfect fit (1 - train loss / naive train loss; for regression this is the training R²).
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
# U4: the objective Keras minimized at the kept epoch (the loss plus the L2 penalty, measured with
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
# O2 (early stopping off): after its minimum, validation loss rose for at least this many epochs
# (and at least `WINDOW_FRACTION` of the run) while the training loss kept falling ...
OVERFIT_MIN_EPOCHS_PAST_MIN = 10
# ... the fitted rise being at least this share of the minimum validation loss ...
OVERFIT_VAL_RISE = 0.1
# ... and the fitted fall of the training loss at least this share of its value at the minimum.
OVERFIT_TRAIN_DROP = 0.05

# --- Checks that warn without changing the verdict ----------------------------------------------
# Test loss exceeds validation loss by at least this share of the naive loss: the search may have
# overfit the validation split (it picked the hyperparameters that were lucky on it).
TEST_GAP_WARNING = 0.2
# diagnose_trial: a validation loss falling less than this over the last window counts as flat.
_TRIAL_MIN_VAL_DROP = 0.01
# diagnose_trial: training and validation loss both fell less than this share from the first epoch.
_TRIAL_BARELY_MOVED = 0.1
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
≥ {OVERFIT_TRAIN_DROP:.0%}. With early stopping on, the restored best weights are judged by O1 only.
Underfitting:
  U1  training skill < {UNDERFIT_MIN_TRAIN_SKILL:g}: the model is little better than naive even \
on the data it was trained on.
  U2  the network's training loss is above the linear baseline's by ≥ {UNDERFIT_LINEAR_MARGIN:g} \
× naive loss, and its validation loss is above the linear baseline's too: it fits its own \
training data worse than a linear model and does not generalize better for it.
  U3  training ended at the epoch budget (not by early stopping) with the validation loss still \
falling over the last {WINDOW_FRACTION:.0%} of epochs (at least {MIN_WINDOW}), and either the \
training loss fell ≥ {STILL_LEARNING_TRAIN_DROP:.0%} over that window or the validation loss is \
still above the linear model's.
  U4  the objective Keras minimized at the kept epoch (loss + L2 penalty, with dropout on) is \
above the plain training loss by ≥ {REGULARIZATION_COST:g} × naive loss, and the validation loss \
is above the linear baseline's: regularization costs more than it gives back.
Good fit: none of the above.
Warnings (the verdict stays): test loss − validation loss ≥ {TEST_GAP_WARNING:g} × naive loss \
(the search may have overfit the validation split); a baseline's test loss lower than the \
network's by ≥ {BASELINE_BEATS_WARNING:g} × naive loss.
Curves are read from Keras' history, whose training loss includes the L2 penalty and dropout; \
only their shape is used. Split metrics come from the restored best weights, without dropout."""


@dataclass(frozen=True)
class Check:
    """One rule applied to the best model, for the report's table of rules.

    Attributes:
        rule: "O1", "O2", "U1" … "U4", or "T" for the test-vs-validation warning.
        measure: what the rule measures, in words.
        value: the measured value as text, or why the rule could not be checked.
        threshold: when the rule fires, in words.
        fired: whether it fired.
        reason: the sentence shown when it fired, with its numbers.
    """

    rule: str
    measure: str
    value: str
    threshold: str
    fired: bool
    reason: str = ""


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
        "train_drop_last_window": _relative(
            -_fitted_change(train[-window:]), float(np.mean(train[-window:]))
        ),
        "val_drop_last_window": _relative(
            -_fitted_change(val[-window:]), float(np.mean(val[-window:]))
        ),
        "val_rise_after_min": 0.0,
        "train_drop_after_min": 0.0,
    }
    if after >= 1:
        segment = slice(minimum - 1, n)
        facts["val_rise_after_min"] = _relative(_fitted_change(val[segment]), val[minimum - 1])
        facts["train_drop_after_min"] = _relative(
            -_fitted_change(train[segment]), train[minimum - 1]
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


# ---------------------------------------------------------------------------------------------
# The best model


def _loss(metrics: Mapping[str, Mapping[str, float | None]], split: str) -> float | None:
    value = metrics.get(split, {}).get("loss")
    return float(value) if value is not None and math.isfinite(value) else None


def _first_loss(metrics: Mapping[str, Mapping[str, float | None]], *splits: str) -> float | None:
    return next((v for v in (_loss(metrics, s) for s in splits) if v is not None), None)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _advice(
    verdict: str,
    hp: Mapping[str, Any],
    patience: int,
    facts: Mapping[str, Any],
    epochs: int,
    weak_data: bool,
    fired: set[str],
) -> list[str]:
    """Next steps for the verdict, naming the best trial's values where they are known."""
    units = [
        hp[k]
        for k in sorted((k for k in hp if k.startswith("units_")), key=lambda k: int(k[6:]))
        if hp[k] is not None
    ]
    shape = ""
    if "layers" in hp and units:
        sizes = ", ".join(map(str, units))
        shape = f" (the best trial has {hp['layers']} hidden layer(s) of {sizes} units)"
    now = {
        k: f" (now {hp[k]:.3g})" if isinstance(hp.get(k), (int, float)) else ""
        for k in ("learning_rate", "l2", "dropout")
    }
    if verdict == "underfitting":
        capacity = (
            f"Give the network more capacity: more layers or more neurons per layer{shape}; widen "
            "`layers` and `units` in the --space file if the search could not go higher."
        )
        regularize = f"Regularize less: lower l2{now['l2']} and dropout{now['dropout']}."
        rate = f"Raise the learning rate{now['learning_rate']} or use the adam optimizer."
        longer = (
            f"Train longer: raise --epochs (the best trial ran {facts.get('epochs_run', '?')} of "
            f"{epochs})" + (" and was still improving." if "U3" in fired else ".")
        )
        # The step that answers the rule that fired comes first.
        first = [step for rule, step in (("U4", regularize), ("U3", longer)) if rule in fired]
        steps = first + [s for s in (capacity, regularize, rate, longer) if s not in first]
        if facts.get("stopped_by_early_stopping"):
            steps.remove(longer)  # early stopping ended it: more epochs would not be used
        if weak_data:
            steps.append(
                "No baseline does much better than the naive one either: the features may carry "
                "little information about the target. Check the target column and add features "
                "before adding capacity."
            )
        return steps
    if verdict == "overfitting":
        steps = [
            f"Regularize more: raise l2{now['l2']} or dropout{now['dropout']}.",
            f"Use a smaller network: fewer neurons or layers{shape}.",
            "Get more training data, or leave out features that only add noise (--drop).",
        ]
        if patience == 0:
            steps.insert(
                0,
                "Turn early stopping on (e.g. --patience 10): it is off, so training "
                "ran on long after the validation loss stopped improving.",
            )
        else:
            steps.append(
                f"Keep early stopping on (--patience {patience}); a smaller patience "
                "alone will not close the gap, because the best weights are already "
                "restored."
            )
        return steps
    return [
        "No change is forced. To look for a better model, run a longer search (--max-trials) or "
        "narrow the search space around the best hyperparameters.",
        "Judge the model by its test metrics next to the baselines above.",
    ]


def _overfitting_checks(
    ev: Mapping[str, Any], facts: Mapping[str, Any], patience: int
) -> list[Check]:
    gap, excess = ev["gap"], ev["excess_gap"]
    beyond = f" beyond the linear baseline's {ev['linear_gap']:.2f}" if "linear_gap" in ev else ""
    checks = [
        Check(
            "O1",
            "validation loss − training loss, × naive loss, beyond the linear baseline's gap",
            f"{excess:.3f}" + (f" (gap {gap:.3f})" if excess != gap else ""),
            f"≥ {OVERFIT_GAP:g}",
            excess >= OVERFIT_GAP,
            f"O1: validation loss {_fmt(ev['validation_loss'])} is above training loss "
            f"{_fmt(ev['train_loss'])} by {gap:.2f} × the naive loss{beyond} (threshold "
            f"{OVERFIT_GAP:g}).",
        )
    ]
    measure = "epochs of rising validation loss after its minimum, with training loss falling"
    threshold = (
        f"≥ {OVERFIT_MIN_EPOCHS_PAST_MIN} epochs, rise ≥ {OVERFIT_VAL_RISE:.0%}, fall ≥ "
        f"{OVERFIT_TRAIN_DROP:.0%}; early stopping off"
    )
    if not facts:
        checks.append(Check("O2", measure, "no curves recorded", threshold, False))
    elif patience > 0:
        checks.append(Check("O2", measure, "not checked: early stopping is on", threshold, False))
    else:
        value = (
            f"{facts['epochs_after_val_min']} epochs, rise {facts['val_rise_after_min']:.0%}, "
            f"fall {facts['train_drop_after_min']:.0%}"
        )
        reason = (
            f"O2: without early stopping, validation loss rose {facts['val_rise_after_min']:.0%} "
            f"over the {facts['epochs_after_val_min']} epochs after its minimum at epoch "
            f"{facts['val_min_epoch']}, while training loss fell "
            f"{facts['train_drop_after_min']:.0%}."
        )
        checks.append(Check("O2", measure, value, threshold, _rising_after_minimum(facts), reason))
    return checks


def _underfitting_checks(
    ev: Mapping[str, Any], facts: Mapping[str, Any], epochs: int
) -> list[Check]:
    skill = ev["train_skill"]
    checks = [
        Check(
            "U1",
            "training skill (1 − training loss / naive loss)",
            f"{skill:.3f}",
            f"< {UNDERFIT_MIN_TRAIN_SKILL:g}",
            skill < UNDERFIT_MIN_TRAIN_SKILL,
            f"U1: training skill {skill:.2f} < {UNDERFIT_MIN_TRAIN_SKILL:g}: training loss "
            f"{_fmt(ev['train_loss'])} against the naive {_fmt(ev['naive_train_loss'])}.",
        )
    ]
    behind = ev.get("validation_behind_linear", -math.inf) > 0
    linear_val = ev.get("linear_validation_loss")
    measure = "training loss − linear baseline's, × naive loss"
    if "train_behind_linear" in ev and linear_val is not None:
        value = ev["train_behind_linear"]
        checks.append(
            Check(
                "U2",
                measure,
                f"{value:.3f}" + ("" if behind else " (validation ahead of linear)"),
                f"≥ {UNDERFIT_LINEAR_MARGIN:g} and validation behind linear",
                behind and value >= UNDERFIT_LINEAR_MARGIN,
                f"U2: the linear baseline fits the training split better (loss "
                f"{_fmt(ev['linear_train_loss'])} vs {_fmt(ev['train_loss'])}, {value:.3f} × the "
                f"naive loss; threshold {UNDERFIT_LINEAR_MARGIN:g}) and validates better too "
                f"({_fmt(linear_val)} vs {_fmt(ev['validation_loss'])}).",
            )
        )
    else:
        checks.append(Check("U2", measure, "no linear baseline", "", False))

    measure = "validation loss still falling when the epoch budget ran out"
    threshold = (
        f"ended by the budget, validation falling, and training falling ≥ "
        f"{STILL_LEARNING_TRAIN_DROP:.0%} or validation behind linear"
    )
    if facts:
        improving = _still_improving(facts)
        val_change, train_change = -facts["val_drop_last_window"], -facts["train_drop_last_window"]
        value = (
            f"{'yes' if improving else 'no'}: over the last {facts['window']} epochs validation "
            f"{val_change:+.1%}, training {train_change:+.1%}"
        )
        fired = improving and (
            behind or facts["train_drop_last_window"] >= STILL_LEARNING_TRAIN_DROP
        )
        reason = (
            f"U3: training stopped at epoch {facts['epochs_run']} (budget {epochs}) while still "
            f"improving: over the last {facts['window']} epochs validation loss fell "
            f"{facts['val_drop_last_window']:.1%} and training loss "
            f"{facts['train_drop_last_window']:.1%}"
            + (
                f", and validation loss is still above the linear model's {_fmt(linear_val)}."
                if behind
                else "."
            )
        )
        checks.append(Check("U3", measure, value, threshold, fired, reason))
    else:
        checks.append(Check("U3", measure, "no curves recorded", threshold, False))

    measure = "regularization cost: Keras' objective − plain training loss, × naive loss"
    if "regularization_cost" in ev:
        cost = ev["regularization_cost"]
        checks.append(
            Check(
                "U4",
                measure,
                f"{cost:.3f}" + ("" if behind else " (validation ahead of linear)"),
                f"≥ {REGULARIZATION_COST:g} and validation behind linear",
                behind and cost >= REGULARIZATION_COST,
                f"U4: regularization costs {cost:.2f} × the naive loss (threshold "
                f"{REGULARIZATION_COST:g}): the L2 penalty and dropout keep the training "
                f"objective well above the plain training loss {_fmt(ev['train_loss'])}, and "
                f"validation loss {_fmt(ev['validation_loss'])} is above the linear baseline's "
                f"{_fmt(linear_val)}.",
            )
        )
    else:
        checks.append(Check("U4", measure, "no curves recorded", "", False))
    return checks


def _evidence(
    task: Task,
    metrics: Mapping[str, Mapping[str, float | None]],
    baselines: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    record: TrialRecord,
    facts: Mapping[str, Any],
    patience: int,
    epochs: int,
) -> dict[str, float | str | bool]:
    """The numbers every rule reads, on the naive baseline's scale where they are compared."""
    naive = baselines.get("naive", {})
    naive_train = _first_loss(naive, "train", "validation", "test")
    naive_val = _first_loss(naive, "validation", "train", "test")
    train_loss, val_loss = _loss(metrics, "train"), _loss(metrics, "validation")
    if naive_train is None or naive_val is None or train_loss is None or val_loss is None:
        raise ValueError(
            "diagnose() needs a finite 'loss' for the model on 'train' and 'validation' and for "
            f"the naive baseline; got model splits {sorted(metrics)} and naive splits "
            f"{sorted(naive)}. Pass Evaluation.metrics and the output of fit_baselines()."
        )
    naive_train, naive_val = max(naive_train, 1e-12), max(naive_val, 1e-12)
    ev: dict[str, float | str | bool] = {
        "train_loss": train_loss,
        "validation_loss": val_loss,
        "naive_train_loss": naive_train,
        "naive_validation_loss": naive_val,
        "train_skill": 1 - train_loss / naive_train,
        "validation_skill": 1 - val_loss / naive_val,
        "gap": (val_loss - train_loss) / naive_val,
        "early_stopping": patience > 0,
        "epochs_budget": epochs,
    }
    test_loss = _loss(metrics, "test")
    if test_loss is not None:
        ev["test_loss"] = test_loss
        ev["test_minus_validation"] = (test_loss - val_loss) / naive_val
    metric = "accuracy" if task.is_classification else "r2"
    for split in ("train", "validation", "test"):
        value = metrics.get(split, {}).get(metric)
        if value is not None:
            ev[f"{split}_{metric}"] = float(value)
    linear = baselines.get("linear", {})
    linear_train = _first_loss(linear, "train")
    linear_val = _first_loss(linear, "validation", "test")
    if linear_train is not None:
        ev["linear_train_loss"] = linear_train
        ev["train_behind_linear"] = (train_loss - linear_train) / naive_train
    if linear_val is not None:
        ev["linear_validation_loss"] = linear_val
        ev["validation_behind_linear"] = (val_loss - linear_val) / naive_val
    ev["excess_gap"] = ev["gap"]
    if linear_train is not None and linear_val is not None:
        ev["linear_gap"] = (linear_val - linear_train) / naive_val
        ev["excess_gap"] = ev["gap"] - max(ev["linear_gap"], 0.0)
    ev.update({k: v for k, v in facts.items() if k != "window"})
    if facts:
        # Keras' history holds regression losses in standardized units, where the naive loss
        # (the training variance) is 1; classification losses are in the naive loss's units.
        history_naive = 1.0 if task.kind == "regression" else naive_train
        objective = float(record.history["loss"][facts["kept_epoch"] - 1])
        ev["regularization_cost"] = objective / history_naive - train_loss / naive_train
    return ev


def _warnings(
    ev: Mapping[str, Any],
    baselines: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    verdict: str,
    facts: Mapping[str, Any],
) -> tuple[Check | None, list[str]]:
    """The test-vs-validation check and the notes that do not change the verdict."""
    warnings: list[str] = []
    check = None
    if "test_minus_validation" in ev:
        drop = ev["test_minus_validation"]
        check = Check(
            "T",
            "test loss − validation loss, × naive loss",
            f"{drop:.3f}",
            f"≥ {TEST_GAP_WARNING:g} warns",
            drop >= TEST_GAP_WARNING,
        )
        if check.fired:
            warnings.append(
                f"Test loss {_fmt(ev['test_loss'])} is well above validation loss "
                f"{_fmt(ev['validation_loss'])} ({drop:.2f} × the naive loss; warning at "
                f"{TEST_GAP_WARNING:g}): the search may have overfit the validation split, or "
                "the splits are small. Trust the test metrics; a larger --val-size or fewer "
                "trials help."
            )
    naive_test = _first_loss(baselines.get("naive", {}), "test")
    if "test_loss" in ev and naive_test:
        for name, scores in baselines.items():
            other = _first_loss(scores, "test")
            if name == "naive" or other is None:
                continue
            if (ev["test_loss"] - other) / naive_test >= BASELINE_BEATS_WARNING:
                warnings.append(
                    f"The {name.replace('_', ' ')} baseline has a lower test loss "
                    f"({_fmt(other)}) than the network ({_fmt(ev['test_loss'])})."
                )
    if ev["gap"] >= OVERFIT_GAP > ev["excess_gap"]:
        warnings.append(
            f"Validation loss is well above training loss ({ev['gap']:.2f} × the naive loss), "
            f"but the linear baseline shows a similar gap ({ev['linear_gap']:.2f}): the validation "
            "split is small or differs from the training split, so the gap is not the network's "
            "doing. More data, or a larger --val-size, makes the comparison steadier."
        )
    if verdict == "good fit" and _still_improving(facts):
        warnings.append(
            "Validation loss was still falling when training stopped; more epochs may help a "
            "little."
        )
    return check, warnings


def diagnose(
    task: Task,
    metrics: Mapping[str, Mapping[str, float | None]],
    baselines: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    record: TrialRecord,
    *,
    patience: int,
    epochs: int,
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

    Returns:
        The verdict with its evidence, checks, reasons, advice and warnings.

    Raises:
        ValueError: if a required loss is missing.
    """
    facts = _curve_facts(record, patience)
    ev = _evidence(task, metrics, baselines, record, facts, patience, epochs)
    overfit = _overfitting_checks(ev, facts, patience)
    underfit = _underfitting_checks(ev, facts, epochs)
    fired = [c for c in overfit if c.fired] or [c for c in underfit if c.fired]
    verdict = (
        "good fit" if not fired else "overfitting" if fired[0].rule[0] == "O" else "underfitting"
    )
    ev["rules_fired"] = ", ".join(c.rule for c in fired) or "none"
    also = [c.rule for c in underfit if c.fired] if verdict == "overfitting" else []
    if also:
        ev["also_fired"] = ", ".join(also)
    test_check, warnings = _warnings(ev, baselines, verdict, facts)
    ev["test_agrees_with_validation"] = not (test_check and test_check.fired)

    naive_val = ev["naive_validation_loss"]
    best_val_skill = max(
        (
            1 - v / naive_val
            for s in baselines.values()
            if (v := _first_loss(s, "validation", "test")) is not None
        ),
        default=0.0,
    )
    advice = _advice(
        verdict,
        record.hyperparameters,
        patience,
        facts,
        epochs,
        weak_data=best_val_skill < UNDERFIT_MIN_TRAIN_SKILL,
        fired={c.rule for c in fired},
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

    Without the naive scale only the curves' shape is judged: "overfitting" when O2 holds (only
    when `patience` is 0) or when, at the best epoch, the validation loss exceeds the training
    loss by `OVERFIT_GAP` × the first epoch's loss; "underfitting" when neither loss fell by
    `_TRIAL_BARELY_MOVED` from the first epoch, or when the run ended at its budget with the
    validation loss still falling by at least `_TRIAL_MIN_VAL_DROP` over the last window;
    "good fit" otherwise.

    Args:
        record: the trial.
        patience: early-stopping patience of the search (0 = off). None when unknown, which
            skips O2 (an early-stopped run always shows `patience` epochs past its minimum).
            Defaults to None.

    Returns:
        The verdict followed by a short reason, e.g. "good fit: best epoch 14 of 24".
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
    if _still_improving(facts) and facts["val_drop_last_window"] >= _TRIAL_MIN_VAL_DROP:
        return f"underfitting: still improving at its last epoch ({n})"
    return f"good fit: kept epoch {kept} of {n}"
