"""The diagnosis's checks on the best model: its evidence, each rule's check, its warnings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.records import TrialRecord
from data.task import Task
from reports.fit_rules import (
    BASELINE_BEATS_WARNING,
    OVERFIT_BEHIND_LINEAR,
    OVERFIT_GAP,
    OVERFIT_MIN_EPOCHS_PAST_MIN,
    OVERFIT_TRAIN_DROP,
    OVERFIT_VAL_RISE,
    REGULARIZATION_COST,
    STILL_LEARNING_TRAIN_DROP,
    TEST_GAP_WARNING,
    UNDERFIT_LINEAR_MARGIN,
    UNDERFIT_MIN_TRAIN_SKILL,
    _rising_after_minimum,
    _still_improving,
)
from reports.scores import format_share


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


def _loss(metrics: Mapping[str, Mapping[str, float | None]], split: str) -> float | None:
    value = metrics.get(split, {}).get("loss")
    return float(value) if value is not None and math.isfinite(value) else None


def _first_loss(metrics: Mapping[str, Mapping[str, float | None]], *splits: str) -> float | None:
    return next((v for v in (_loss(metrics, s) for s in splits) if v is not None), None)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


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
    measure = "validation loss − linear baseline's, × naive loss, fitting training as well"
    if "train_behind_linear" in ev and "validation_behind_linear" in ev:
        # Fits training about as well as linear or better: U2's margin does not hold.
        behind = ev["validation_behind_linear"]
        fits = ev["train_behind_linear"] < UNDERFIT_LINEAR_MARGIN
        checks.append(Check(
            "O3",
            measure,
            f"{behind:.3f}" + ("" if fits else " (fits training worse than linear)"),
            f"≥ {OVERFIT_BEHIND_LINEAR:g}, training loss < linear's + {UNDERFIT_LINEAR_MARGIN:g}, "
            f"gap ≥ {OVERFIT_GAP:g}",
            fits and behind >= OVERFIT_BEHIND_LINEAR and gap >= OVERFIT_GAP,
            f"O3: the network fits the training split as well as the linear baseline (loss "
            f"{_fmt(ev['train_loss'])} vs {_fmt(ev['linear_train_loss'])}) but validates worse "
            f"({_fmt(ev['validation_loss'])} vs {_fmt(ev['linear_validation_loss'])}, "
            f"{behind:.2f} × the naive loss; threshold {OVERFIT_BEHIND_LINEAR:g}), with a gap of "
            f"{gap:.2f} × the naive loss: it memorized rather than learned.",
        ))
    else:
        checks.append(Check("O3", measure, "no linear baseline", "", False))
    return checks


def _unless_ahead_of_linear(
    rule: str, measure: str, value: float, threshold: float, behind: bool, reason: str
) -> Check:
    """A check that fires when `value` reaches `threshold` and the validation loss is also
    behind the linear baseline's (a network that validates better is not held back)."""
    return Check(
        rule,
        measure,
        f"{value:.3f}" + ("" if behind else " (validation ahead of linear)"),
        f"≥ {threshold:g} and validation behind linear",
        behind and value >= threshold,
        reason,
    )


def _outdone_by_a_baseline(ev: Mapping[str, Any]) -> bool:
    """Some baseline validates better than the network and than naive by the margin (or there
    is none to ask): low skill is underfitting only if more is to be had."""
    if "best_baseline" not in ev:
        return True
    return (ev["validation_behind_best_baseline"] >= UNDERFIT_LINEAR_MARGIN
            and _beats_naive(ev, ev["best_baseline_validation_loss"]))


def _behind_linear(ev: Mapping[str, Any]) -> bool:
    """The network validates worse than a linear baseline that itself beats naive by the
    margin: being behind a model that learned nothing says nothing about the network."""
    return (ev.get("validation_behind_linear", -math.inf) > 0
            and _beats_naive(ev, ev["linear_validation_loss"]))


def _beats_naive(ev: Mapping[str, Any], validation_loss: float) -> bool:
    """A baseline's validation skill (1 − its loss / naive loss) reaches the margin."""
    return 1 - validation_loss / ev["naive_validation_loss"] >= UNDERFIT_LINEAR_MARGIN


def best_baseline_skill(ev: Mapping[str, Any]) -> float:
    """The best non-naive baseline's validation skill; 0 when there is none."""
    if "best_baseline" not in ev:
        return 0.0
    return 1 - ev["best_baseline_validation_loss"] / ev["naive_validation_loss"]


def _underfitting_checks(
    ev: Mapping[str, Any], facts: Mapping[str, Any], budget_text: str
) -> list[Check]:
    skill = ev["train_skill"]
    outdone = _outdone_by_a_baseline(ev)
    checks = [
        Check(
            "U1",
            "training skill (1 − training loss / naive loss)",
            f"{skill:.3f}" + ("" if outdone else " (no baseline validates better)"),
            f"< {UNDERFIT_MIN_TRAIN_SKILL:g} and a baseline validates better by ≥ "
            f"{UNDERFIT_LINEAR_MARGIN:g}",
            skill < UNDERFIT_MIN_TRAIN_SKILL and outdone,
            f"U1: training skill {skill:.2f} < {UNDERFIT_MIN_TRAIN_SKILL:g}: training loss "
            f"{_fmt(ev['train_loss'])} against the naive {_fmt(ev['naive_train_loss'])}"
            + (
                f", and the {ev['best_baseline'].replace('_', ' ')} baseline validates better "
                f"({_fmt(ev['best_baseline_validation_loss'])} vs "
                f"{_fmt(ev['validation_loss'])})."
                if "best_baseline" in ev
                else "."
            ),
        )
    ]
    behind = _behind_linear(ev)
    linear_val = ev.get("linear_validation_loss")
    measure = "training loss − linear baseline's, × naive loss"
    if "train_behind_linear" in ev and linear_val is not None:
        value = ev["train_behind_linear"]
        checks.append(
            _unless_ahead_of_linear(
                "U2",
                measure,
                value,
                UNDERFIT_LINEAR_MARGIN,
                behind,
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
            f"{format_share(val_change, signed=True)}, training "
            f"{format_share(train_change, signed=True)}"
        )
        fired = improving and (
            behind or facts["train_drop_last_window"] >= STILL_LEARNING_TRAIN_DROP
        )
        reason = (
            f"U3: training stopped at epoch {facts['epochs_run']} ({budget_text}) while still "
            f"improving: over the last {facts['window']} epochs validation loss fell "
            f"{format_share(facts['val_drop_last_window'])} and training loss "
            f"{format_share(facts['train_drop_last_window'])}"
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
            _unless_ahead_of_linear(
                "U4",
                measure,
                cost,
                REGULARIZATION_COST,
                behind,
                f"U4: regularization costs {cost:.2f} × the naive loss (threshold "
                f"{REGULARIZATION_COST:g}): the L2/L1 penalties and dropout keep the training "
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
    history_train_loss: float | None = None,
    held_out: tuple[float, int] | None = None,
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
        # With cross-validation the search chose on every fold's held-out rows, not only on
        # the validation split's share of them: the test loss is compared with all of them.
        chosen_on = val_loss
        if held_out is not None and math.isfinite(held_out[0]):
            chosen_on = ev["held_out_loss"] = float(held_out[0])
            ev["held_out_rows"] = int(held_out[1])
        ev["test_minus_validation"] = (test_loss - chosen_on) / naive_val
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
    linear_test = _first_loss(linear, "test")
    if test_loss is not None and linear_test is not None \
            and _loss(linear, "validation") is not None:
        # The linear baseline chose nothing on the validation rows: how much worse it does on
        # test is how much harder the test split is, which the search did not cause.
        ev["linear_test_minus_validation"] = (linear_test - linear_val) / naive_val
    others = {
        name: loss
        for name, scores in baselines.items()
        if name != "naive" and (loss := _first_loss(scores, "validation", "test")) is not None
    }
    if others:
        best = min(others, key=others.__getitem__)
        ev["best_baseline"] = best
        ev["best_baseline_validation_loss"] = others[best]
        ev["validation_behind_best_baseline"] = (val_loss - others[best]) / naive_val
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
        plain = (train_loss / naive_train if history_train_loss is None
                 else history_train_loss / history_naive)
        ev["regularization_cost"] = objective / history_naive - plain
    return ev


def _warnings(
    ev: Mapping[str, Any],
    baselines: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    verdict: str,
    facts: Mapping[str, Any],
    exported: tuple[str, float] | None = None,
) -> tuple[Check | None, list[str]]:
    """The test-vs-validation check and the notes that do not change the verdict.

    `exported`: (what was exported, its test loss) when it is not the best trial's network; the
    baseline warning then judges that model, the one the user gets.
    """
    warnings: list[str] = []
    check = None
    if "test_minus_validation" in ev:
        drop = ev["test_minus_validation"]
        harder = max(ev.get("linear_test_minus_validation", 0.0), 0.0)
        check = Check(
            "T",
            ("test loss − cross-validated loss, × naive loss" if "held_out_loss" in ev
             else "test loss − validation loss, × naive loss")
            + ", beyond the linear baseline's own",
            f"{drop - harder:.3f}" + (f" (drop {drop:.3f})" if harder else ""),
            f"≥ {TEST_GAP_WARNING:g} warns",
            drop - harder >= TEST_GAP_WARNING,
        )
        if drop >= TEST_GAP_WARNING and not check.fired:
            warnings.append(
                f"Test loss {_fmt(ev['test_loss'])} is well above the loss the search chose on "
                f"({drop:.2f} × the naive loss), but the linear baseline, which chose nothing "
                f"on those rows, loses about as much from validation to test ({harder:.2f}): "
                "the test split is harder than the rows chosen on, not a sign that the search "
                "overfit them."
            )
        if check.fired:
            if "held_out_loss" in ev:  # cross-validated: --val-size only moves rows in the pool
                against = (f"the cross-validated loss {_fmt(ev['held_out_loss'])} of the "
                           f"{ev['held_out_rows']} training and validation rows")
                chosen_on, remedy = "the rows it chose on", (
                    "fewer trials help, and a larger --test-size makes them steadier")
            else:
                against = f"validation loss {_fmt(ev['validation_loss'])}"
                chosen_on, remedy = "the validation split", (
                    "a larger --val-size or fewer trials help")
            warnings.append(
                f"Test loss {_fmt(ev['test_loss'])} is well above {against} ({drop:.2f} × the "
                f"naive loss; warning at {TEST_GAP_WARNING:g}): the search may have overfit "
                f"{chosen_on}, or the splits are small. Trust the test metrics; {remedy}."
            )
    naive_test = _first_loss(baselines.get("naive", {}), "test")
    judged = None  # (the model in words, its test loss)
    if exported is not None and math.isfinite(exported[1]):
        alone = (f"; the best trial's network alone: {_fmt(ev['test_loss'])}"
                 if "test_loss" in ev else "")
        judged = (f"the exported model ({exported[0]}: {_fmt(exported[1])}{alone})", exported[1])
    elif "test_loss" in ev:
        judged = (f"the network ({_fmt(ev['test_loss'])})", ev["test_loss"])
    if judged is not None and naive_test:
        for name, scores in baselines.items():
            other = _first_loss(scores, "test")
            if name == "naive" or other is None:
                continue
            if (judged[1] - other) / naive_test >= BASELINE_BEATS_WARNING:
                warnings.append(
                    f"The {name.replace('_', ' ')} baseline has a lower test loss "
                    f"({_fmt(other)}) than {judged[0]}."
                )
    if ev["gap"] >= OVERFIT_GAP > ev["excess_gap"] and verdict != "overfitting":
        warnings.append(
            f"Validation loss is well above training loss ({ev['gap']:.2f} × the naive loss), "
            f"but the linear baseline shows a similar gap ({ev['linear_gap']:.2f}): the validation "
            "split is small or differs from the training split, so the gap is not the network's "
            "doing. More data, or a larger --val-size, makes the comparison steadier."
        )
    if ev["train_skill"] < UNDERFIT_MIN_TRAIN_SKILL and not _outdone_by_a_baseline(ev):
        warnings.append(
            f"The network is little better than the naive baseline (training skill "
            f"{ev['train_skill']:.2f}, validation skill {ev['validation_skill']:.2f}), but no "
            f"baseline validates better either (best: {ev['best_baseline'].replace('_', ' ')}, "
            f"validation skill {best_baseline_skill(ev):.2f}"
            "): the features seem to carry little information about the target, so more "
            "capacity or training would not help. Check the target column, and add features."
        )
    if verdict == "good fit" and _still_improving(facts):
        warnings.append(
            "Validation loss was still falling when training stopped; more epochs may help a "
            "little."
        )
    return check, warnings
