"""Baselines on tiny synthetic data for each task."""

from __future__ import annotations

import numpy as np
import pytest

from data.task import Task
from reports.baselines import fit_baselines
from reports.evaluation import Predictions, score

TASKS = {
    "binary": Task("binary", ("no", "yes")),
    "multiclass": Task("multiclass", ("a", "b", "c")),
    "regression": Task("regression"),
}


def _data(kind: str, n: int = 160, seed: int = 0):
    """A learnable problem: the target depends on the first two of four features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    signal = 2.0 * x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=n)
    if kind == "regression":
        y = 10.0 * signal + 100.0
    elif kind == "binary":
        y = (signal > 0.5).astype(np.int64)  # unbalanced: fewer ones than zeros
    else:
        y = np.digitize(signal, [-1.0, 1.0]).astype(np.int64)
    return x[:100], y[:100], x[100:130], y[100:130], x[130:], y[130:]


@pytest.mark.parametrize("kind", list(TASKS), ids=list(TASKS))
def test_every_baseline_scores_every_split_with_the_networks_metric_names(kind):
    task = TASKS[kind]
    x_tr, y_tr, x_va, y_va, x_te, y_te = _data(kind)
    result = fit_baselines(task, x_tr, y_tr, x_te, y_te, seed=0, x_val=x_va, y_val=y_va)

    assert list(result) == ["naive", "linear", "gradient_boosting"]
    dummy = (
        Predictions(y_te.astype(float), y_te.astype(float))
        if kind == "regression"
        else Predictions(y_te, y_te, np.eye(task.n_classes)[y_te])
    )
    names = set(score(task, dummy))
    for splits in result.values():
        assert list(splits) == ["train", "validation", "test"]
        assert all(set(metrics) == names for metrics in splits.values())


@pytest.mark.parametrize("kind", list(TASKS), ids=list(TASKS))
def test_linear_beats_naive_on_a_learnable_problem(kind):
    task = TASKS[kind]
    x_tr, y_tr, _, _, x_te, y_te = _data(kind)
    result = fit_baselines(task, x_tr, y_tr, x_te, y_te, seed=0)
    assert result["linear"]["test"]["loss"] < 0.5 * result["naive"]["test"]["loss"]


def test_naive_classifier_predicts_the_majority_class_with_training_frequencies():
    task = TASKS["binary"]
    x_tr, y_tr, _, _, x_te, y_te = _data("binary")
    naive = fit_baselines(task, x_tr, y_tr, x_te, y_te, seed=0)["naive"]
    majority = np.bincount(y_tr).argmax()
    assert naive["test"]["accuracy"] == pytest.approx(np.mean(y_te == majority))
    prior = np.bincount(y_tr, minlength=2) / len(y_tr)
    entropy = -np.sum(prior * np.log(prior))
    assert naive["train"]["loss"] == pytest.approx(entropy)  # log loss of the priors
    assert naive["test"]["auc"] == pytest.approx(0.5)


def test_naive_regressor_predicts_the_training_mean():
    task = TASKS["regression"]
    x_tr, y_tr, _, _, x_te, y_te = _data("regression")
    naive = fit_baselines(task, x_tr, y_tr, x_te, y_te, seed=0)["naive"]
    assert naive["train"]["r2"] == pytest.approx(0.0, abs=1e-12)
    assert naive["train"]["loss"] == pytest.approx(np.var(y_tr))
    assert naive["test"]["loss"] == pytest.approx(np.mean((y_te - y_tr.mean()) ** 2))


def test_validation_is_scored_only_when_given():
    task = TASKS["binary"]
    x_tr, y_tr, _, _, x_te, y_te = _data("binary")
    result = fit_baselines(task, x_tr, y_tr, x_te, y_te, seed=0)
    assert list(result["linear"]) == ["train", "test"]


def test_class_missing_from_training_still_lines_up_with_the_task_classes():
    task = TASKS["multiclass"]
    x_tr, y_tr, _, _, x_te, y_te = _data("multiclass")
    keep = y_tr != 2  # class "c" only appears in the test split
    result = fit_baselines(task, x_tr[keep], y_tr[keep], x_te, y_te, seed=0)
    for name in ("naive", "linear", "gradient_boosting"):
        test = result[name]["test"]
        assert np.isfinite(test["loss"])
        assert test["accuracy"] <= np.mean(y_te != 2) + 1e-12  # class "c" is never predicted


def test_same_seed_same_scores():
    task = TASKS["multiclass"]
    data = _data("multiclass")
    first = fit_baselines(task, *data[:2], *data[4:], seed=3)
    again = fit_baselines(task, *data[:2], *data[4:], seed=3)
    assert first == again


def test_gradient_boosting_is_skipped_on_tables_above_the_size_limit(monkeypatch):
    import reports.baselines

    x_tr, y_tr, _, _, x_te, y_te = _data("binary")
    monkeypatch.setattr(reports.baselines, "GRADIENT_BOOSTING_MAX_CELLS", x_tr.size - 1)
    result = fit_baselines(TASKS["binary"], x_tr, y_tr, x_te, y_te, seed=0)
    assert list(result) == ["naive", "linear"]


def test_with_the_networks_folds_baselines_are_scored_as_the_network_is():
    """Fitted per fold of train+validation: a training row by the folds that trained on it, a
    validation row by the fold that held it out, a test row by the mean of all folds."""
    from sklearn.linear_model import Ridge

    from data.splits import fold_masks

    task = TASKS["regression"]
    x_tr, y_tr, x_va, y_va, x_te, y_te = _data("regression")
    x, y = np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])
    mask = fold_masks(y, task, 4, seed=0)
    result = fit_baselines(task, x_tr, y_tr, x_te, y_te, seed=0, x_val=x_va, y_val=y_va,
                           train_mask=mask)
    fits = [Ridge(alpha=1.0).fit(x[mask[:, k]], y[mask[:, k]]) for k in range(4)]
    shared = np.stack([f.predict(x) for f in fits], axis=1)
    held = np.where(~mask, shared, 0).sum(1)  # each row is held out by exactly one fold
    in_fold = np.where(mask, shared, 0).sum(1) / mask.sum(1)
    test = np.mean([f.predict(x_te) for f in fits], axis=0)
    expected = {"train": (y_tr, in_fold[:100]), "validation": (y_va, held[100:]),
                "test": (y_te, test)}
    for split, (truth, predicted) in expected.items():
        assert result["linear"][split]["loss"] == pytest.approx(
            np.mean((truth - predicted) ** 2), rel=1e-9), split
