"""The diagnosis rules on constructed metrics and learning curves."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from common.records import TrialRecord
from data.task import Task
from reports import diagnosis as dx
from reports.diagnosis import _curve_facts, diagnose, diagnose_trial

BINARY = Task("binary", ("no", "yes"))
REGRESSION = Task("regression")
NAIVE = 0.66  # log loss of predicting breast_cancer's class frequencies


def _record(train, val, *, best_epoch=None, status="COMPLETED", hp=None) -> TrialRecord:
    train, val = list(map(float, train)), list(map(float, val))
    best = best_epoch or int(np.argmin(val)) + 1
    return TrialRecord(
        trial_id="0",
        status=status,
        score=min(val) if status == "COMPLETED" else None,
        hyperparameters=hp
        or {
            "layers": 2,
            "units_0": 64,
            "units_1": 64,
            "learning_rate": 1e-3,
            "l2": 1e-4,
            "dropout": 0.1,
        },
        epochs=len(train),
        best_epoch=best,
        history={"loss": train, "val_loss": val},
    )


def _converged(n=25, best=15, floor_train=0.04, floor_val=0.09) -> TrialRecord:
    """Curves of a run that early-stopped `n - best` epochs after its best epoch."""
    t = np.arange(n)
    train = floor_train + 0.6 * np.exp(-t / 3)
    val = floor_val + 0.55 * np.exp(-t / 3) + 0.001 * np.maximum(t - (best - 1), 0)
    return _record(train, val, best_epoch=best)


def _still_learning(n=100, floor=0.05, tau=60.0) -> TrialRecord:
    """Curves still falling at the last epoch: the budget ended the run."""
    t = np.arange(n)
    return _record(floor + 0.6 * np.exp(-t / tau), floor + 0.02 + 0.6 * np.exp(-t / tau))


def _overtrained(n=300, best=10) -> TrialRecord:
    """No early stopping: validation loss climbs for hundreds of epochs while training falls.

    As in the pipeline without early stopping, the kept epoch is the last one.
    """
    t = np.arange(n)
    train = 0.6 * np.exp(-t / 5) + 1e-4
    val = 0.35 + 0.3 * np.exp(-t / 3) + 0.004 * np.maximum(t - best, 0)
    return _record(train, val, best_epoch=n)


def _metrics(train, val, test=None):
    out = {
        "train": {"loss": train, "accuracy": 0.99},
        "validation": {"loss": val, "accuracy": 0.97},
    }
    out["test"] = {"loss": val if test is None else test, "accuracy": 0.96}
    return out


def _baselines(naive=NAIVE, linear=(0.05, 0.07), boosting=None):
    def split(loss):
        return {"loss": loss, "accuracy": 0.6}

    out = {
        "naive": {s: split(naive) for s in ("train", "validation", "test")},
        "linear": {
            "train": split(linear[0]),
            "validation": split(linear[1]),
            "test": split(linear[1]),
        },
    }
    if boosting is not None:
        out["gradient_boosting"] = {s: split(boosting) for s in ("train", "validation", "test")}
    return out


# ---------------------------------------------------------------------------------------------
# Good fit


@pytest.mark.parametrize(
    ("train", "val"),
    [(0.04, 0.09), (0.03, 0.06), (0.03, 0.12), (0.06, 0.08)],
    ids=["typical", "tight", "widest-gap", "higher-train"],
)
def test_breast_cancer_like_model_is_a_good_fit(train, val):
    result = diagnose(
        BINARY, _metrics(train, val), _baselines(), _converged(), patience=10, epochs=100
    )
    assert result.verdict == "good fit", result.reasons
    assert result.reasons == ()
    assert result.evidence["rules_fired"] == "none"
    assert result.evidence["gap"] == pytest.approx((val - train) / NAIVE)
    assert result.evidence["train_skill"] == pytest.approx(1 - train / NAIVE)


def test_small_absolute_gap_with_large_ratio_is_not_overfitting():
    # val/train = 4, which a pure ratio rule would call overfitting; on the naive scale it is 0.14.
    result = diagnose(
        BINARY, _metrics(0.03, 0.12), _baselines(), _converged(), patience=10, epochs=100
    )
    assert result.verdict == "good fit"
    assert result.evidence["gap"] < dx.OVERFIT_GAP


def test_regression_good_fit_uses_r2_scale():
    metrics = {
        s: {"loss": v, "r2": 1 - v / 100}
        for s, v in (("train", 30.0), ("validation", 45.0), ("test", 47.0))
    }
    baselines = {
        "naive": {s: {"loss": 100.0} for s in ("train", "validation", "test")},
        "linear": {s: {"loss": 48.0} for s in ("train", "validation", "test")},
    }
    result = diagnose(REGRESSION, metrics, baselines, _converged(), patience=10, epochs=100)
    assert result.verdict == "good fit"
    assert result.evidence["train_skill"] == pytest.approx(0.7)  # the training R²
    assert result.evidence["train_r2"] == pytest.approx(0.7)


# ---------------------------------------------------------------------------------------------
# Overfitting


def test_large_gap_is_overfitting_o1():
    result = diagnose(
        BINARY, _metrics(0.01, 0.9), _baselines(), _converged(), patience=10, epochs=100
    )
    assert result.verdict == "overfitting"
    assert result.reasons[0].startswith("O1")
    assert result.evidence["gap"] == pytest.approx(0.89 / NAIVE)
    assert any("l2" in step for step in result.advice)


@pytest.mark.parametrize(
    ("delta", "fires"), [(-0.01, False), (0.01, True)], ids=["just-below", "just-above"]
)
def test_o1_threshold_is_on_the_naive_scale(delta, fires):
    val = 0.05 + (0.25 + delta) * NAIVE  # the documented threshold, not read from the module
    flat_linear = _baselines(linear=(0.06, 0.06))  # a linear model with no gap of its own
    result = diagnose(
        BINARY, _metrics(0.05, val), flat_linear, _converged(), patience=10, epochs=100
    )
    assert (result.verdict == "overfitting") is fires
    assert result.evidence["excess_gap"] == result.evidence["gap"]


def test_gap_shared_by_the_linear_baseline_is_not_overfitting():
    # A small, unusual validation split: the linear model loses as much on it as the network.
    result = diagnose(
        BINARY,
        _metrics(0.28, 0.47),
        _baselines(linear=(0.24, 0.49)),
        _converged(),
        patience=10,
        epochs=100,
    )
    assert result.evidence["gap"] >= dx.OVERFIT_GAP
    assert result.evidence["excess_gap"] == pytest.approx((0.19 - 0.25) / NAIVE)
    assert result.verdict == "good fit"
    assert any("linear baseline shows a similar gap" in w for w in result.warnings)


def test_rising_validation_without_early_stopping_is_overfitting_o2():
    # The restored model's gap is moderate; the curves show 290 epochs of overtraining.
    record = _overtrained()
    result = diagnose(BINARY, _metrics(0.05, 0.15), _baselines(), record, patience=0, epochs=300)
    assert result.verdict == "overfitting"
    assert [r[:2] for r in result.reasons] == ["O2"]
    minimum = int(np.argmin(record.history["val_loss"])) + 1
    assert result.evidence["val_min_epoch"] == minimum
    assert result.evidence["epochs_after_val_min"] == 300 - minimum
    assert result.evidence["kept_epoch"] == 300
    assert result.evidence["val_rise_after_min"] >= dx.OVERFIT_VAL_RISE
    assert result.advice[0].startswith("Turn early stopping on")


def _rising_validation(train_fall: float, n: int = 300, best: int = 10) -> TrialRecord:
    """Early stopping off: validation climbs after epoch `best` while training falls by
    `train_fall` of its value there, in a straight line (its least-squares fall is exact)."""
    t = np.arange(n)
    settled = 0.2
    train = np.where(t < best, settled + 0.4 * (best - t) / best,
                     settled * (1 - train_fall * (t - best) / (n - 1 - best)))
    val = 0.35 + 0.3 * np.exp(-t / 3) + 0.004 * np.maximum(t - best, 0)
    return _record(train, val, best_epoch=n)


@pytest.mark.parametrize(("train_fall", "fires"), [(0.0, False), (0.04, False), (0.06, True)],
                         ids=["train-flat", "train-fell-4%", "train-fell-6%"])
def test_o2_needs_the_training_loss_to_keep_falling_by_5_percent(train_fall, fires):
    record = _rising_validation(train_fall)
    result = diagnose(BINARY, _metrics(0.2, 0.3), _baselines(linear=(0.2, 0.3)), record,
                      patience=0, epochs=300)
    assert result.evidence["val_rise_after_min"] >= 0.1
    assert result.evidence["train_drop_after_min"] == pytest.approx(train_fall, abs=0.005)
    o2 = next(c for c in result.checks if c.rule == "O2")
    assert o2.fired is fires
    assert (result.verdict == "overfitting") is fires


@pytest.mark.parametrize(("gap", "fires"), [(0.24, False), (0.26, True)],
                         ids=["gap-0.24", "gap-0.26"])
def test_a_linear_baseline_that_validates_better_than_it_trains_does_not_inflate_o1(gap, fires):
    # The linear model's own gap is negative (-0.03 × naive): O1 compares the network's gap
    # with 0.25 as it is, not with 0.25 minus a negative number.
    val = 0.05 + gap * NAIVE
    result = diagnose(BINARY, _metrics(0.05, val), _baselines(linear=(0.08, 0.08 - 0.03 * NAIVE)),
                      _converged(), patience=10, epochs=100)
    assert result.evidence["linear_gap"] == pytest.approx(-0.03)
    assert result.evidence["excess_gap"] == pytest.approx(gap)
    assert (result.verdict == "overfitting") is fires


def test_early_stopping_run_is_judged_by_its_gap_not_its_tail():
    # Patience 10: the 10 rising epochs after the minimum are early stopping doing its job.
    result = diagnose(
        BINARY,
        _metrics(0.04, 0.09),
        _baselines(),
        _converged(n=25, best=15),
        patience=10,
        epochs=100,
    )
    assert result.verdict == "good fit"
    assert result.evidence["stopped_by_early_stopping"] is True


def test_o2_needs_early_stopping_off():
    result = diagnose(
        BINARY, _metrics(0.05, 0.15), _baselines(), _overtrained(), patience=10, epochs=300
    )
    assert result.verdict == "good fit"


# ---------------------------------------------------------------------------------------------
# Underfitting


def test_barely_better_than_naive_is_underfitting_u1():
    result = diagnose(
        BINARY, _metrics(0.6, 0.61), _baselines(), _converged(), patience=10, epochs=100
    )
    assert result.verdict == "underfitting"
    assert "U1" in result.evidence["rules_fired"]
    assert result.evidence["train_skill"] == pytest.approx(1 - 0.6 / NAIVE)
    assert any("capacity" in step for step in result.advice)


@pytest.mark.parametrize(("skill", "fires"), [(0.19, True), (0.21, False)],
                         ids=["skill-0.19", "skill-0.21"])
def test_u1_fires_below_the_documented_training_skill_of_0_2(skill, fires):
    train = (1 - skill) * NAIVE
    result = _judged(train, train + 0.01, linear=(0.3, 0.3))
    assert ("U1" in result.evidence["rules_fired"]) is fires


def test_worse_than_linear_on_train_and_validation_is_underfitting_u2():
    result = diagnose(
        BINARY,
        _metrics(0.10, 0.11),
        _baselines(linear=(0.05, 0.07)),
        _converged(),
        patience=10,
        epochs=100,
    )
    assert result.verdict == "underfitting"
    assert result.evidence["rules_fired"] == "U2"
    assert result.evidence["train_behind_linear"] == pytest.approx(0.05 / NAIVE)
    assert result.evidence["validation_behind_linear"] == pytest.approx(0.04 / NAIVE)


@pytest.mark.parametrize(
    ("delta", "fires"), [(-0.002, False), (0.002, True)], ids=["just-below", "just-above"]
)
def test_u2_threshold_is_on_the_training_split(delta, fires):
    train = 0.05 + (0.02 + delta) * NAIVE  # the documented margin
    result = diagnose(
        BINARY,
        _metrics(train, 0.12),
        _baselines(linear=(0.05, 0.07)),
        _converged(),
        patience=10,
        epochs=100,
    )
    assert ("U2" in result.evidence["rules_fired"]) is fires


def test_u2_ignores_a_network_that_fits_training_like_linear_but_validates_worse():
    # Worse than linear on validation only: not a capacity problem (the brief's good-fit corner).
    result = diagnose(
        BINARY,
        _metrics(0.06, 0.09),
        _baselines(linear=(0.053, 0.056)),
        _converged(),
        patience=10,
        epochs=100,
    )
    assert result.verdict == "good fit"


def test_u2_does_not_fire_when_the_network_generalizes_better_than_linear():
    result = diagnose(
        BINARY,
        _metrics(0.10, 0.06),
        _baselines(linear=(0.05, 0.07)),
        _converged(),
        patience=10,
        epochs=100,
    )
    assert result.verdict == "good fit"


def _cut_short(record: TrialRecord, epochs: int) -> dx.Diagnosis:
    """The diagnosis of a run still learning when its budget ended, a little behind linear."""
    last = record.history["loss"][-1]  # no regularization: the objective is the plain loss
    return diagnose(BINARY, _metrics(last, last + 0.02), _baselines(linear=(last, last + 0.01)),
                    record, patience=10, epochs=epochs)


def test_still_improving_at_the_budget_is_underfitting_u3():
    result = _cut_short(_still_learning(), epochs=100)
    assert result.verdict == "underfitting"
    assert result.evidence["rules_fired"] == "U3"
    assert result.evidence["val_drop_last_window"] > 0
    assert result.advice[0].startswith("Train longer")


def test_a_hyperband_round_that_cut_training_short_is_named_with_the_right_advice():
    """Hyperband gave the best trial 100 of --epochs 900: raising --epochs would not help."""
    import dataclasses

    result = _cut_short(dataclasses.replace(_still_learning(), epoch_budget=100), epochs=900)
    assert result.evidence["rules_fired"] == "U3"
    assert "Hyperband's budget for this trial 100 of --epochs 900" in result.reasons[0]
    assert result.evidence["epochs_budget"] == 100
    assert "Raise --max-trials" in result.advice[0] and "--epochs (" not in result.advice[0]


def test_a_fall_over_the_last_window_is_a_share_of_where_it_started():
    """A loss going 0.15 -> 0.05 over the window fell by two thirds (68 % on its least-squares
    line), not by more than all of it (104 % of the window's mean); a flat curve did not fall;
    U3's reason quotes the share."""
    falling = [0.6, 0.4, 0.3, 0.2, 0.15, 0.15, 0.12, 0.09, 0.07, 0.05]
    facts = dx._curve_facts(_record(falling, falling), 10)
    assert facts["window"] == 5
    assert facts["val_drop_last_window"] == pytest.approx(0.685, abs=0.001)
    assert facts["train_drop_last_window"] == pytest.approx(0.685, abs=0.001)
    assert dx._curve_facts(_record([0.5] * 10, [0.5] * 10), 10)["val_drop_last_window"] == \
        pytest.approx(0.0)
    result = _cut_short(_record(falling, falling), epochs=10)
    assert "validation loss fell 68.5% and training loss 68.5%" in " ".join(result.reasons)


def test_still_improving_but_ahead_of_linear_is_a_good_fit_with_a_note():
    # Val still falling, train falling < 10% per window, and already better than linear.
    record = _still_learning(tau=200.0)
    assert dx._curve_facts(record, 10)["train_drop_last_window"] < dx.STILL_LEARNING_TRAIN_DROP
    result = diagnose(
        BINARY,
        _metrics(0.05, 0.06),
        _baselines(linear=(0.05, 0.07)),
        record,
        patience=10,
        epochs=100,
    )
    assert result.verdict == "good fit"
    assert any("still falling" in w for w in result.warnings)


def _regularized(objective: float, n: int = 25, best: int = 15) -> TrialRecord:
    """Converged curves whose training objective (loss + L2 + dropout) settles at `objective`."""
    t = np.arange(n)
    train = objective + 0.6 * np.exp(-t / 2)
    val = objective / 3 + 0.6 * np.exp(-t / 2) + 0.001 * np.maximum(t - (best - 1), 0)
    return _record(train, val, best_epoch=best)


def test_heavy_regularization_behind_linear_is_underfitting_u4():
    # The objective with the L2 penalty and dropout is 0.25; the plain training loss is 0.06.
    record = _regularized(0.25)
    result = diagnose(
        BINARY,
        _metrics(0.06, 0.07),
        _baselines(linear=(0.0527, 0.056)),
        record,
        patience=10,
        epochs=100,
    )
    assert result.verdict == "underfitting"
    assert result.evidence["rules_fired"] == "U4"
    objective = record.history["loss"][14]
    assert result.evidence["regularization_cost"] == pytest.approx((objective - 0.06) / NAIVE)
    assert result.advice[0].startswith("Regularize less")


def test_heavy_regularization_that_beats_linear_is_a_good_fit():
    result = diagnose(
        BINARY,
        _metrics(0.03, 0.05),
        _baselines(linear=(0.0527, 0.056)),
        _regularized(0.25),
        patience=10,
        epochs=100,
    )
    assert result.verdict == "good fit"
    assert result.evidence["regularization_cost"] > dx.REGULARIZATION_COST


def test_regularization_cost_reads_regression_history_in_standardized_units():
    # History MSE 0.6 in standardized units; training MSE 40 against a variance of 100 is 0.4.
    metrics = {s: {"loss": v} for s, v in (("train", 40.0), ("validation", 60.0), ("test", 60.0))}
    baselines = {
        "naive": {s: {"loss": 100.0} for s in ("train", "validation", "test")},
        "linear": {"train": {"loss": 45.0}, "validation": {"loss": 50.0}, "test": {"loss": 50.0}},
    }
    record = _regularized(0.6)
    result = diagnose(REGRESSION, metrics, baselines, record, patience=10, epochs=100)
    assert result.evidence["regularization_cost"] == pytest.approx(record.history["loss"][14] - 0.4)
    assert result.evidence["rules_fired"] == "U4"


def test_a_network_that_fits_like_linear_but_validates_worse_is_overfitting_o3():
    """Defect: with nearly as many columns as rows the linear baseline overfits too, and O1's
    subtraction of its gap excused a network that memorized its 104 training rows."""
    result = diagnose(BINARY, _metrics(0.01, 0.40), _baselines(linear=(0.02, 0.25)),
                      _converged(), patience=10, epochs=100)
    assert result.evidence["excess_gap"] < dx.OVERFIT_GAP  # O1 alone is silent
    assert result.verdict == "overfitting" and result.evidence["rules_fired"] == "O3"
    assert result.reasons[0].startswith("O3: the network fits the training split as well as")
    assert not any("not the network's doing" in w for w in result.warnings)


@pytest.mark.parametrize(("train", "val", "fires"), [
    (0.01, 0.25 + 0.09 * NAIVE, False),  # behind linear by less than 0.1 × naive
    (0.01, 0.25 + 0.11 * NAIVE, True),
    (0.02 + 0.019 * NAIVE, 0.40, True),  # fits training about as well as linear
    (0.02 + 0.021 * NAIVE, 0.40, False),  # fits it worse (U2's margin): not memorizing more
], ids=["just-below", "just-above", "fits-about-as-well", "fits-worse"])
def test_o3_thresholds(train, val, fires):
    result = diagnose(BINARY, _metrics(train, val), _baselines(linear=(0.02, 0.25)),
                      _converged(), patience=10, epochs=100)
    assert ("O3" in result.evidence["rules_fired"]) is fires


def _judged(train: float, val: float, **baselines) -> dx.Diagnosis:
    """The diagnosis of a converged binary classifier with these losses and baselines."""
    return diagnose(BINARY, _metrics(train, val), _baselines(**baselines), _converged(),
                    patience=10, epochs=100)


def test_low_skill_that_no_baseline_beats_is_a_warning_not_underfitting():
    """A table with little signal: the network is barely better than naive, and so is every
    baseline. More capacity would not help, so U1 does not call it underfitting."""
    result = _judged(0.64, 0.65, linear=(0.63, 0.655), boosting=0.651)
    assert result.verdict == "good fit"
    u1 = next(c for c in result.checks if c.rule == "U1")
    assert not u1.fired and "no baseline validates better" in u1.value
    assert result.evidence["best_baseline"] == "gradient_boosting"
    warning = next(w for w in result.warnings if "little information" in w)
    assert "gradient boosting" in warning and "validation skill 0.01" in warning
    assert "Look at the data before the model" in result.advice[0]


def test_a_good_network_on_data_the_baselines_find_hard_gets_no_low_signal_advice():
    result = _judged(0.04, 0.09, linear=(0.6, 0.6), boosting=0.6)
    assert result.verdict == "good fit"
    assert not any("little information" in w for w in result.warnings)
    assert not any("before the model" in step for step in result.advice)


def test_on_pure_noise_a_linear_baseline_worse_than_naive_makes_no_underfitting():
    """Defect: on a regression target of pure noise the linear baseline (validation worse than
    naive) validated a little better than the network, and U1 and U4 called it underfitting
    with 'more capacity' and 'regularize less' advice."""
    # Early-stopped curves whose objective (penalties, dropout) sits well above the plain
    # training loss: U4's regularization cost is 0.47 × naive.
    val = [0.72 - 0.001 * min(t, 14) + 0.0005 * max(t - 14, 0) for t in range(25)]
    record = _record([0.95] * 25, val, best_epoch=15)
    result = diagnose(BINARY, _metrics(0.64, 0.70), _baselines(linear=(0.62, 0.68)), record,
                      patience=10, epochs=100)
    assert result.evidence["regularization_cost"] > dx.REGULARIZATION_COST
    assert result.verdict == "good fit", result.reasons
    assert any("little information" in w for w in result.warnings)


def test_low_skill_is_underfitting_when_a_baseline_validates_better():
    result = _judged(0.64, 0.65, linear=(0.63, 0.65), boosting=0.55)
    assert result.verdict == "underfitting"
    assert result.evidence["rules_fired"] == "U1"
    assert "gradient boosting baseline validates better" in result.reasons[0]
    # Even the best baseline is weak (validation skill 0.17): the advice says so.
    assert any("little information" in step for step in result.advice)
    assert not any("little information" in w for w in result.warnings)


# ---------------------------------------------------------------------------------------------
# Test against validation, and other warnings


def test_test_much_worse_than_validation_warns_without_changing_the_verdict():
    result = diagnose(
        BINARY, _metrics(0.04, 0.09, test=0.3), _baselines(), _converged(), patience=10, epochs=100
    )
    assert result.verdict == "good fit"
    assert result.evidence["test_agrees_with_validation"] is False
    assert result.evidence["test_minus_validation"] == pytest.approx(0.21 / NAIVE)
    assert any("overfit the validation split" in w for w in result.warnings)


def test_a_test_split_the_linear_baseline_finds_as_hard_is_not_blamed_on_the_search():
    """Defect: breast_cancer seed 4 warned that the search overfit the rows it chose on, while
    the linear baseline, which chose nothing there, lost as much from validation to test."""
    baselines = _baselines(linear=(0.05, 0.06))
    baselines["linear"]["test"] = {"loss": 0.25, "accuracy": 0.9}  # 0.19 worse than validation
    result = diagnose(BINARY, _metrics(0.04, 0.09, test=0.3), baselines, _converged(),
                      patience=10, epochs=100)
    t = next(c for c in result.checks if c.rule == "T")
    assert not t.fired and t.value == f"{(0.21 - 0.19) / NAIVE:.3f} (drop {0.21 / NAIVE:.3f})"
    assert result.evidence["test_agrees_with_validation"] is True
    assert not any("overfit the validation split" in w for w in result.warnings)
    assert any("the test split is harder than the rows chosen on" in w for w in result.warnings)


def test_with_cross_validation_test_is_compared_with_the_held_out_loss_of_every_row():
    # The validation split's share of the held-out rows happened to be easy (0.04); over all
    # of the rows the folds held out the loss was 0.2, which the test loss (0.3) is close to.
    result = diagnose(
        BINARY, _metrics(0.03, 0.04, test=0.3), _baselines(), _converged(), patience=10,
        epochs=100, held_out=(0.2, 480),
    )
    assert result.evidence["held_out_loss"] == 0.2
    assert result.evidence["held_out_rows"] == 480
    assert result.evidence["test_minus_validation"] == pytest.approx(0.1 / NAIVE)
    assert result.evidence["test_agrees_with_validation"] is True
    assert not any("well above" in w for w in result.warnings)
    # Far above it, the warning names the cross-validated loss and leaves --val-size out.
    worse = diagnose(
        BINARY, _metrics(0.03, 0.04, test=0.5), _baselines(), _converged(), patience=10,
        epochs=100, held_out=(0.2, 480),
    )
    assert worse.evidence["test_agrees_with_validation"] is False
    warning = next(w for w in worse.warnings if "well above" in w)
    assert "cross-validated loss 0.2 of the 480 training and validation rows" in warning
    assert "--val-size" not in warning


def test_test_close_to_validation_agrees():
    result = diagnose(
        BINARY, _metrics(0.04, 0.09, test=0.11), _baselines(), _converged(), patience=10, epochs=100
    )
    assert result.evidence["test_agrees_with_validation"] is True
    assert not any("validation split" in w for w in result.warnings)


def _beaten_on_test(**options):
    """A network with test loss 0.12 where gradient boosting scores 0.05."""
    return diagnose(BINARY, _metrics(0.04, 0.09, test=0.12), _baselines(boosting=0.05),
                    _converged(), patience=10, epochs=100, **options)


def test_baseline_that_beats_the_network_is_named():
    result = _beaten_on_test()
    assert any("gradient boosting baseline" in w for w in result.warnings)


@pytest.mark.parametrize(("exported_loss", "warned"), [(0.06, False), (0.12, True)])
def test_the_baseline_warning_judges_the_exported_model(exported_loss, warned):
    """An ensemble exported: the user gets it, not the best trial's network (test loss 0.12
    here), so a baseline is compared with the ensemble's test loss."""
    result = _beaten_on_test(exported=("an ensemble of 3 trials", exported_loss))
    said = [w for w in result.warnings if "gradient boosting baseline" in w]
    assert bool(said) == warned
    if warned:
        assert said[0] == ("The gradient boosting baseline has a lower test loss (0.05) than the "
                           "exported model (an ensemble of 3 trials: 0.12; the best trial's "
                           "network alone: 0.12).")


@pytest.mark.parametrize(("above", "warned"), [(0.19, False), (0.21, True)],
                         ids=["below-0.2", "above-0.2"])
def test_test_vs_validation_warning_at_its_threshold(above, warned):
    val = 0.09
    result = diagnose(BINARY, _metrics(0.04, val, test=val + above * NAIVE), _baselines(),
                      _converged(), patience=10, epochs=100)
    assert result.evidence["test_agrees_with_validation"] is not warned
    assert any("validation split" in w for w in result.warnings) is warned


@pytest.mark.parametrize(("ahead", "named"), [(0.04, False), (0.06, True)],
                         ids=["ahead-0.04", "ahead-0.06"])
def test_a_baseline_is_named_from_0_05_naive_losses_ahead(ahead, named):
    test = 0.12
    result = diagnose(BINARY, _metrics(0.04, 0.09, test=test),
                      _baselines(boosting=test - ahead * NAIVE), _converged(), patience=10,
                      epochs=100)
    assert any("gradient boosting baseline" in w for w in result.warnings) is named


# ---------------------------------------------------------------------------------------------
# Output and errors


def test_to_dict_is_json_ready_and_has_the_contract_keys():
    result = diagnose(
        BINARY, _metrics(0.04, 0.09), _baselines(), _converged(), patience=10, epochs=100
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert {"verdict", "evidence", "advice"} <= set(data)
    assert data["verdict"] in dx.VERDICTS
    assert all(isinstance(v, (int, float, str, bool)) for v in data["evidence"].values())


def test_checks_list_every_rule_with_what_fired():
    result = diagnose(
        BINARY, _metrics(0.01, 0.9, test=1.2), _baselines(), _overtrained(), patience=0, epochs=300
    )
    checks = {c.rule: c for c in result.checks}
    assert list(checks) == ["O1", "O2", "O3", "U1", "U2", "U3", "U4", "T"]
    assert [c.rule for c in result.checks if c.fired and c.rule != "T"] == ["O1", "O2", "O3"]
    assert checks["T"].fired
    excess = (0.89 - 0.02) / NAIVE  # beyond the linear baseline's gap of 0.02
    assert checks["O1"].value == f"{excess:.3f} (gap {0.89 / NAIVE:.3f})"
    assert result.reasons == (checks["O1"].reason, checks["O2"].reason, checks["O3"].reason)
    assert [c["rule"] for c in result.to_dict()["checks"]] == list(checks)


def test_o2_is_reported_as_not_checked_with_early_stopping_on():
    result = diagnose(
        BINARY, _metrics(0.04, 0.09), _baselines(), _converged(), patience=10, epochs=100
    )
    o2 = next(c for c in result.checks if c.rule == "O2")
    assert not o2.fired and "early stopping is on" in o2.value


# Each rule's thresholds as the README documents them: (README bullet, its bold numbers, what the
# report's rules text says). Literal on purpose: changing a threshold must change this table.
DOCUMENTED_RULES = [
    ("O1", ["0.25"], ["≥ 0.25 × naive validation loss"]),
    ("O2", ["10", "10%", "5%"], ["at least 10 epochs", "≥ 10% of that minimum", "fell by ≥ 5%"]),
    ("O3", ["0.02", "0.1", "0.25"], ["less than 0.02 × naive loss above",
                                     "baseline's by ≥ 0.1 × naive loss",
                                     "training loss ≥ 0.25 × naive"]),
    ("U1", ["0.2", "0.02"], ["training skill < 0.2", "validates better by ≥ 0.02 × naive"]),
    ("U2", ["0.02"], ["above the linear baseline's by ≥ 0.02 × naive loss"]),
    ("U3", ["10%"], ["last 10% of epochs (at least 5)", "fell ≥ 10% of its value"]),
    ("U4", ["0.1"], ["≥ 0.1 × naive loss"]),
]


def _readme_rule(rule: str) -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = text.index(f"- **{rule}** ")
    end = text.find("\n- **", start + 1)
    return " ".join(text[start : end if end > 0 else None].split())


@pytest.mark.parametrize(("rule", "bold", "phrases"), DOCUMENTED_RULES,
                         ids=[r[0] for r in DOCUMENTED_RULES])
def test_rules_text_and_readme_state_the_documented_thresholds(rule, bold, phrases):
    bullet = _readme_rule(rule)
    assert [f"**{b}**" in bullet for b in bold] == [True] * len(bold), bullet
    line = " ".join(next(x for x in dx.RULES.splitlines() if x.strip().startswith(rule)).split())
    # A number must end where the phrase does: "< 0.2" is not "< 0.25".
    found = [re.search(re.escape(p) + r"(?![\d.]\d)", line) is not None for p in phrases]
    assert found == [True] * len(phrases), line


def test_warning_thresholds_are_the_documented_ones():
    assert "test loss − validation loss ≥ 0.2 × naive loss" in " ".join(dx.RULES.split())
    assert "network's by ≥ 0.05 × naive loss" in " ".join(dx.RULES.split())


def test_without_curves_the_split_rules_still_decide():
    record = TrialRecord("0", "COMPLETED", 0.9, {}, 0, None)
    result = diagnose(BINARY, _metrics(0.01, 0.9), _baselines(), record, patience=0, epochs=100)
    assert result.verdict == "overfitting"
    values = {c.rule: c.value for c in result.checks}
    assert values["O2"] == values["U3"] == values["U4"] == "no curves recorded"


def test_missing_validation_loss_is_an_error_that_says_what_to_pass():
    with pytest.raises(ValueError, match="needs a finite 'loss'.*Evaluation.metrics"):
        diagnose(
            BINARY, {"train": {"loss": 0.1}}, _baselines(), _converged(), patience=10, epochs=100
        )


# ---------------------------------------------------------------------------------------------
# Per-trial verdicts


def test_trial_verdicts_from_curves():
    assert diagnose_trial(_overtrained(), patience=0).startswith("overfitting")
    assert diagnose_trial(_still_learning(), patience=10).startswith("underfitting")
    assert diagnose_trial(_converged(), patience=10) == (
        "good fit: early stopping kept epoch 15 of 25"
    )
    failed = TrialRecord("1", "FAILED", None, {}, message="boom")
    assert diagnose_trial(failed) == "failed"


def test_trials_that_ran_out_of_epochs_at_their_best_read_alike():
    """Every run cut off by its budget while still at its lowest validation loss says so,
    whatever its slope: "still improving" (underfitting) from 1% over the last window, else
    "levelling off" (good fit); never a bare "good fit: kept epoch 100 of 100"."""
    verdicts = {}
    for tau in (10.0, 15.0, 20.0, 30.0, 60.0):
        verdicts[tau] = diagnose_trial(_still_learning(tau=tau), patience=10)
    for verdict in verdicts.values():
        assert verdict.startswith(
            ("underfitting: still improving when its 100 epochs ran out (validation -",
             "good fit: levelling off when its 100 epochs ran out (validation -")
        ), verdict
    assert verdicts[15.0].startswith("good fit: levelling off")  # -0.9% over the last 10
    assert verdicts[20.0].startswith("underfitting: still improving")  # -3.1%
    # The boundary is the 1% of the last window's fitted fall.
    levelled = [_still_learning(tau=tau) for tau in (15.0, 20.0)]
    drops = [_curve_facts(r, 10)["val_drop_last_window"] for r in levelled]
    assert [diagnose_trial(r, patience=10).startswith("under") for r in levelled] == [
        d >= 0.01 for d in drops
    ] == [False, True]


def test_trial_whose_loss_never_moved_is_underfitting():
    record = _record(np.linspace(0.70, 0.68, 100), np.linspace(0.71, 0.70, 100))
    assert diagnose_trial(record, patience=10).startswith("underfitting: the loss barely moved")


def test_trial_that_converged_in_one_epoch_is_not_called_stuck():
    # Validation is best at epoch 1, but the training loss kept falling: fast, not stuck.
    train = 0.3 * np.exp(-np.arange(11) / 2) + 0.004
    val = 0.079 + 0.005 * np.arange(11)
    assert diagnose_trial(_record(train, val), patience=10).startswith("good fit")


def test_trial_verdict_skips_o2_when_patience_is_unknown():
    assert not diagnose_trial(_overtrained()).startswith("overfitting: validation loss rose")


def test_trial_with_nan_loss_is_reported_as_diverged():
    record = _record([0.7, float("nan")], [0.7, 0.6])
    assert diagnose_trial(record).startswith("diverged")


# ---------------------------------------------------------------------------------------------
# Curve facts at their edges (found by mutation testing)


@pytest.mark.parametrize(("epochs", "window"), [(3, 3), (30, 5), (100, 10), (300, 30)])
def test_the_last_window_is_10_percent_of_the_epochs_at_least_5(epochs, window):
    from reports.fit_rules import _window

    assert _window(epochs) == window


def test_the_last_window_is_read_at_the_end_of_the_curve():
    # Falls for 15 epochs, then flat for the last 5: the last window did not fall.
    curve = list(np.linspace(1.0, 0.2, 15)) + [0.2] * 5
    facts = dx._curve_facts(_record(curve, curve), 10)
    assert facts["window"] == 5
    assert facts["val_drop_last_window"] == pytest.approx(0.0, abs=1e-9)
    assert facts["train_drop_last_window"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("which", ["loss", "val_loss"])
def test_curves_with_a_non_finite_value_give_no_facts(which):
    good = [0.7, 0.6, 0.5]
    record = _record(good, good)
    record.history[which] = [0.7, float("inf"), 0.5]
    assert dx._curve_facts(record, 0) == {}


@pytest.mark.parametrize(("after", "fires"), [(9, False), (10, True)],
                         ids=["9-epochs-after", "10-epochs-after"])
def test_o2_needs_10_epochs_of_rising_validation_loss(after, fires):
    best = 10
    n = best + after
    t = np.arange(n)
    train = 0.5 - 0.02 * t  # keeps falling
    val = np.where(t < best, 0.6 - 0.02 * t, 0.42 + 0.05 * (t - best + 1))
    facts = dx._curve_facts(_record(train, val, best_epoch=n), 0)
    assert facts["epochs_after_val_min"] == after
    assert dx._rising_after_minimum(facts) is fires


def test_a_late_fall_after_an_early_minimum_is_not_still_improving():
    # The minimum is at epoch 2, long before the last window; the last window falls a little.
    val = [0.5, 0.3] + list(np.linspace(0.6, 0.55, 28))
    facts = dx._curve_facts(_record(val, val), 10)
    assert facts["val_drop_last_window"] > 0 and facts["val_min_epoch"] == 2
    assert not dx._still_improving(facts)


def test_the_training_fall_after_the_minimum_is_never_more_than_the_curve_fell():
    """A least-squares line through a fall that comes all at once overshoots it (by half, for
    a step halfway): it read "fell 153%"."""
    n = 40
    t = np.arange(n)
    train = np.where(t < 21, 0.5, 0.05)  # falls 90 % from epoch 2, in one step
    val = np.where(t < 2, 0.7 - 0.1 * t, 0.5 + 0.02 * (t - 1))
    facts = dx._curve_facts(_record(train, val, best_epoch=n), 0)
    assert facts["val_min_epoch"] == 3
    assert facts["train_drop_after_min"] == pytest.approx(0.9)
    assert dx._rising_after_minimum(facts)  # still overfitting, by a fall that happened


def test_a_small_change_never_reads_as_zero_percent():
    """U3's "still improving" next to "validation -0.0%" read as a contradiction."""
    val = list(np.linspace(0.6, 0.3, 30)) + list(np.linspace(0.3, 0.29993, 10))
    facts = dx._curve_facts(_record(val, val), 10)
    assert 0 < facts["val_drop_last_window"] < 0.0005 and dx._still_improving(facts)
    result = _cut_short(_record(val, val), epochs=40)
    u3 = next(c for c in result.checks if c.rule == "U3")
    assert "0.0%" not in u3.value and "-0.0" in u3.value, u3.value
    assert "0.0%" not in diagnose_trial(_record(val, val), patience=10)
