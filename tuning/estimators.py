"""scikit-learn estimators on top of `tune`: `MLPSearchClassifier` and `MLPSearchRegressor`.

    from sklearn.model_selection import cross_val_score
    cross_val_score(MLPSearchClassifier(max_trials=5, epochs=30), X, y, cv=3)

`fit(X, y)` runs one whole search on X (a DataFrame, or an array whose columns are named x0,
x1, ...) and keeps its exported model for `predict`. As on the command line, the search splits
X into its own train / validation / test rows (`val_size`, `test_size`, stratified): the
networks train on the train rows, the search chooses on the validation rows, and the test rows
are held out to score the exported model and its baselines in the run's report and in
`result_.metrics`. So `fit` trains on about 70 % of X by default; `refit=True` retrains the
best configuration on train+validation (85 %) before export. Score on rows `fit` never saw, as
scikit-learn's model selection does anyway.

Every fit writes a run folder (report.html, metrics.json, the model): under a new temporary
folder (`tempfile.mkdtemp`, never deleted by the estimator) unless `out` names a folder such
as "runs".
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from common.errors import DataError
from tuning.api import tune
from tuning.options import OPTIONS

# Tune options an estimator does not take: the data comes from fit(X, y), the task from the
# estimator's kind, the folder name from the time; the parallel modes need a CSV path.
_NOT_PARAMS = frozenset({
    "data", "target", "dataset", "task", "name", "resume", "workers", "chief", "port", "bind",
    "worker", "oracle", "worker_id", "connect_timeout", "worker_timeout",
})
# The estimators' parameters: the remaining tune options, with the same defaults, except that
# `out` defaults to None (a temporary folder); then `verbose`.
PARAMS: dict[str, Any] = {
    o.name: (None if o.name == "out" else o.default) for o in OPTIONS if o.name not in _NOT_PARAMS
} | {"verbose": False}


def _with_params(cls: type) -> type:
    """Give `cls` an `__init__` that takes `PARAMS` as keyword arguments and only stores them,
    as scikit-learn requires (`get_params` reads its signature; `clone` calls it)."""
    source = (
        "def __init__(self, *, "
        + ", ".join(f"{name}=_defaults[{name!r}]" for name in PARAMS)
        + "):\n"
        + "".join(f"    self.{name} = {name}\n" for name in PARAMS)
    )
    namespace: dict[str, Any] = {"_defaults": PARAMS}
    exec(source, namespace)  # noqa: S102 - a signature built from the options table
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__name__}.__init__"
    init.__doc__ = "Store the search's options; see the class docstring."
    cls.__init__ = init
    return cls


class _MLPSearch(BaseEstimator):
    """What both estimators share: fit runs `tune`, the fitted attributes, feature naming."""

    _task: str | None = None  # the tune task; None: from y (classifier)

    def fit(self, X: Any, y: Any) -> _MLPSearch:
        """Run the search on X and y (see the module docstring for the split).

        Args:
            X: a DataFrame (its columns are the features) or a 2-D array (columns x0, x1, ...).
            y: the target, one value per row of X.

        Returns:
            self, with `result_` (`tuning.api.TuningResult`), `run_dir_`, `best_params_`,
            `trials_` (DataFrame), `n_features_in_` and, for a DataFrame, `feature_names_in_`.

        Raises:
            TuningError: bad data or options, with the command line's message.
        """
        features = self._frame(X, fitting=True)
        values = _target_values(y, len(features))
        named = getattr(y, "name", None)  # a Series' name names the target in the report
        target = _free_name(named if isinstance(named, str) and named else "target",
                            features.columns)
        frame = features.assign(**{target: values})
        options = {name: getattr(self, name) for name in PARAMS if name != "verbose"}
        if options["out"] is None:
            options["out"] = tempfile.mkdtemp(prefix="mlp-search-")
        result = tune(frame, target, task=self._task_for(values), verbose=self.verbose,
                      **options)
        self.result_ = result
        self.run_dir_ = result.run_dir
        self.best_params_ = result.best_hyperparameters
        self.trials_ = result.trials
        self._fitted(values)
        return self

    def _task_for(self, values: pd.Series) -> str:
        return self._task or "auto"

    def _fitted(self, values: pd.Series) -> None:
        """Set what the kind of estimator adds after a fit."""

    def _frame(self, X: Any, fitting: bool = False) -> pd.DataFrame:
        """X as a DataFrame with the feature names the model was (or is being) fitted with."""
        if isinstance(X, pd.DataFrame):
            frame = X.reset_index(drop=True)
            if fitting:
                self.n_features_in_ = frame.shape[1]
                if all(isinstance(c, str) for c in frame.columns):
                    self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            return frame
        array = np.asarray(X)
        if array.ndim != 2:
            raise DataError(
                f"X must be 2-D (rows x features), got an array of shape {array.shape}. Reshape "
                "a single feature with X.reshape(-1, 1)."
            )
        if fitting:
            self.n_features_in_ = array.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        names = getattr(self, "feature_names_in_", None)
        if names is None or len(names) != array.shape[1]:
            names = [f"x{i}" for i in range(array.shape[1])]
        return pd.DataFrame(array, columns=list(names))


class MLPSearchClassifier(ClassifierMixin, _MLPSearch):
    """Search for the best MLP classifier with keras-mlp-tuner, as a scikit-learn estimator.

    The parameters are the tune options (`tuning.options.OPTIONS`) with the command line's
    defaults — `tuner="bayesian"`, `max_trials=20`, `epochs=100`, `patience=10`, `space=None`,
    `val_size=0.15`, `test_size=0.15`, `seed=0`, `refit=False`, `drop=()`, `threads=None`, and
    any added later — except `out=None` (a temporary folder per fit; see the module docstring)
    and `verbose=False` (True prints the search's progress). The task is binary for two
    classes, else multiclass.

    Attributes (after fit): `classes_` (sorted labels, as scikit-learn orders them),
    `result_`, `run_dir_`, `best_params_`, `trials_`, `n_features_in_`, `feature_names_in_`.
    """

    def _task_for(self, values: pd.Series) -> str:
        return "binary" if values.nunique() == 2 else "multiclass"

    def _fitted(self, values: pd.Series) -> None:
        self.classes_ = np.unique(values.to_numpy())
        keys = [_label_key(c) for c in self.classes_]
        # The model's outputs are in its own class order; map each to a column of classes_.
        self._columns = [keys.index(_label_key(c)) for c in self.result_.classes]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of shape (rows, classes), columns in `classes_` order."""
        check_is_fitted(self, "result_")
        proba = self.result_.predict_proba(self._frame(X))
        ordered = np.zeros((len(proba), len(self.classes_)))
        ordered[:, self._columns] = proba
        return ordered

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class per row, as a label of `classes_`."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class MLPSearchRegressor(RegressorMixin, _MLPSearch):
    """Search for the best MLP regressor with keras-mlp-tuner, as a scikit-learn estimator.

    The same parameters as `MLPSearchClassifier`; the task is regression. `score` is R².

    Attributes (after fit): `result_`, `run_dir_`, `best_params_`, `trials_`,
    `n_features_in_`, `feature_names_in_`.
    """

    _task = "regression"

    def predict(self, X: Any) -> np.ndarray:
        """The predicted value per row, in the target's units."""
        check_is_fitted(self, "result_")
        return self.result_.predict(self._frame(X))["prediction"].to_numpy(dtype=np.float64)


_with_params(MLPSearchClassifier)
_with_params(MLPSearchRegressor)


def _target_values(y: Any, rows: int) -> pd.Series:
    """y as one Series of `rows` values, by position (indexes are not aligned)."""
    values = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values.ravel()
    if values.ndim != 1:
        raise DataError(f"y must hold one target value per row, got shape {values.shape}.")
    if len(values) != rows:
        raise DataError(f"X has {rows} rows but y has {len(values)} values; pass one per row.")
    return pd.Series(values)


def _free_name(name: str, taken: Any) -> str:
    """`name`, or `name_1`, `name_2` ... if a feature is called that."""
    name = name.strip() or "target"
    taken = {str(c) for c in taken}
    candidate, n = name, 0
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _label_key(label: Any) -> str:
    """A class label as the run spells it: stripped text; 1.0 and 1 alike."""
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    if isinstance(label, (np.integer, np.bool_)):
        return str(label.item())
    return str(label).strip()
