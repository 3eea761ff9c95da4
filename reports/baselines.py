"""Reference models that put the network's scores in context: naive, linear, gradient boosting."""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from data.task import Task
from reports.evaluation import Predictions, score

# What each baseline is, in the words the report shows next to its scores.
DESCRIPTIONS: dict[str, str] = {
    "naive": "predicts the training set's class frequencies (majority class) or its mean",
    "linear": "logistic regression (classification) or ridge regression, default regularization",
    "gradient_boosting": "scikit-learn's histogram gradient boosting with default settings",
}

# Gradient boosting is skipped above this many training cells (rows x columns) to stay cheap;
# at this size it still takes well under a minute on 2 cores.
GRADIENT_BOOSTING_MAX_CELLS = 20_000_000

# LogisticRegression's default of 100 iterations often stops short on one-hot inputs.
_LINEAR_MAX_ITER = 2000


def _models(task: Task, seed: int, n_cells: int) -> dict[str, object]:
    """Unfitted baselines for the task, in the order the report lists them."""
    if task.is_classification:
        models: dict[str, object] = {
            "naive": DummyClassifier(strategy="prior"),
            "linear": LogisticRegression(max_iter=_LINEAR_MAX_ITER),
        }
        if n_cells <= GRADIENT_BOOSTING_MAX_CELLS:
            models["gradient_boosting"] = HistGradientBoostingClassifier(random_state=seed)
        return models
    models = {"naive": DummyRegressor(strategy="mean"), "linear": Ridge(alpha=1.0)}
    if n_cells <= GRADIENT_BOOSTING_MAX_CELLS:
        models["gradient_boosting"] = HistGradientBoostingRegressor(random_state=seed)
    return models


def _predict(task: Task, model, x: np.ndarray, y: np.ndarray) -> Predictions:
    """Predictions in the layout `score` expects: probabilities over every class of the task.

    A class that is absent from the training split is missing from `model.classes_`; it gets
    probability 0 so the columns still line up with `Task.classes`.
    """
    return _from_outputs(task, _outputs(task, model, x), y)


def fit_baselines(
    task: Task,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    seed: int,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    train_mask: np.ndarray | None = None,
) -> dict[str, dict[str, dict[str, float | None]]]:
    """Fit the baselines on the training split and score them like the network.

    Args:
        task: the task.
        x_train: encoded training features (normalized, one-hot), shape (n, d).
        y_train: class indices into `task.classes`, or values in original units.
        x_test: encoded test features.
        y_test: test targets, encoded like `y_train`.
        seed: random state of the models that have one.
        x_val: encoded validation features; when given with `y_val`, the baselines are
            scored on the validation split too (the diagnosis compares against it).
            Defaults to None.
        y_val: validation targets. Defaults to None.
        train_mask: with cross-validation, the network's folds over the training rows
            followed by the validation rows ((n, K) bool, True where a fold trains on a row):
            the baselines are then fitted per fold and scored as the network is. Defaults to
            None.

    Returns:
        Baseline name -> split name ("train", "validation" when given, "test") -> metric name
        -> value, with exactly the metric names of `reports.evaluation.score`. Baselines:
        "naive", "linear" and, unless the data is very large, "gradient_boosting".
    """
    x_train = np.asarray(x_train, dtype=np.float64)
    y_fit = np.asarray(y_train, dtype=np.int64 if task.is_classification else np.float64)
    splits = {"train": (x_train, y_train)}
    if x_val is not None and y_val is not None:
        splits["validation"] = (x_val, y_val)
    splits["test"] = (x_test, y_test)

    results: dict[str, dict[str, dict[str, float | None]]] = {}
    # One thread: OpenMP's workers spin-wait for busy cores, and on a small machine shared with
    # TensorFlow that turned a 0.1 s gradient-boosting fit on 200 rows into 10 s.
    with threadpool_limits(limits=1):
        if train_mask is not None and "validation" in splits:
            return _cross_validated(task, splits, train_mask, seed)
        for name, model in _models(task, seed, x_train.size).items():
            model.fit(x_train, y_fit)
            results[name] = {
                split: score(task, _predict(task, model, np.asarray(x, dtype=np.float64), y))
                for split, (x, y) in splits.items()
            }
    return results


def _cross_validated(
    task: Task, splits: dict[str, tuple[np.ndarray, np.ndarray]], train_mask: np.ndarray,
    seed: int,
) -> dict[str, dict[str, dict[str, float | None]]]:
    """The baselines fitted on the network's folds of train+validation, scored as it is.

    A training row is predicted by the mean of the fold models that trained on it, a
    validation row by the fold model that held it out, a test row by the mean of all.
    """
    x = np.concatenate([splits["train"][0], splits["validation"][0]]).astype(np.float64)
    y = np.concatenate([splits["train"][1], splits["validation"][1]])
    y_fit = y.astype(np.int64 if task.is_classification else np.float64)
    n_train, k = len(splits["train"][0]), train_mask.shape[1]
    x_test, y_test = np.asarray(splits["test"][0], dtype=np.float64), splits["test"][1]
    results = {}
    for name in _models(task, seed, x.size):
        shared, test = [], []
        for fold in range(k):
            model = _models(task, seed, x.size)[name]
            model.fit(x[train_mask[:, fold]], y_fit[train_mask[:, fold]])
            shared.append(_outputs(task, model, x))
            test.append(_outputs(task, model, x_test))
        shared_out, trained = np.stack(shared, axis=1), train_mask[..., None]
        in_fold = (shared_out * trained).sum(1) / np.maximum(trained.sum(1), 1)
        held = (shared_out * ~trained).sum(1) / np.maximum((~trained).sum(1), 1)
        outputs = {"train": in_fold[:n_train], "validation": held[n_train:],
                   "test": np.mean(test, axis=0)}
        truth = {"train": y[:n_train], "validation": y[n_train:], "test": y_test}
        results[name] = {
            split: score(task, _from_outputs(task, outputs[split], truth[split]))
            for split in ("train", "validation", "test")
        }
    return results


def _outputs(task: Task, model, x: np.ndarray) -> np.ndarray:
    """Class probabilities over every class of the task (n, k), or values (n, 1)."""
    if not task.is_classification:
        return np.asarray(model.predict(x), float).reshape(-1, 1)
    proba = np.zeros((len(x), task.n_classes))
    proba[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(x)
    return proba


def _from_outputs(task: Task, output: np.ndarray, y: np.ndarray) -> Predictions:
    if not task.is_classification:
        return Predictions(np.asarray(y, dtype=np.float64), output[:, 0])
    return Predictions(np.asarray(y, dtype=np.int64), output.argmax(axis=1), output)
