"""The scikit-learn estimators: parameters from the options table, clone, Pipeline and CV."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common.errors import DataError, TuningError
from tuning.estimators import PARAMS, MLPSearchClassifier, MLPSearchRegressor
from tuning.options import BY_NAME

SPACE = """
layers = [1, 2]
units = [8, 16]
learning_rate = { min = 3e-3, max = 3e-2, sampling = "log" }
batch_size = 32
"""


@pytest.fixture
def fast(tmp_path) -> dict:
    (tmp_path / "space.toml").write_text(SPACE)
    return dict(tuner="random", max_trials=2, epochs=2, patience=2,
                space=str(tmp_path / "space.toml"), out=str(tmp_path / "runs"))


@pytest.mark.parametrize("cls", [MLPSearchClassifier, MLPSearchRegressor])
def test_parameters_are_the_tune_options_with_their_defaults(cls):
    estimator = cls()
    params = estimator.get_params()
    assert params == PARAMS
    for name, value in params.items():
        if name not in ("out", "verbose"):
            assert value == BY_NAME[name].default, name
    assert params["out"] is None and params["verbose"] is False
    assert {"max_trials", "epochs", "tuner", "space", "seed", "refit"} <= set(params)
    assert not {"data", "target", "task", "resume", "workers", "chief"} & set(params)
    # Keyword-only, each stored as given (scikit-learn's rule: no logic in __init__).
    signature = inspect.signature(cls.__init__)
    assert all(p.kind is p.KEYWORD_ONLY for n, p in signature.parameters.items() if n != "self")
    with pytest.raises(TypeError):
        cls(max_trial=3)
    odd = cls(max_trials="not checked until fit", drop=["a"])
    assert odd.max_trials == "not checked until fit" and odd.drop == ["a"]


def test_clone_and_set_params_keep_every_parameter():
    estimator = MLPSearchClassifier(max_trials=3, epochs=7, tuner="random", drop=("id",))
    copy = clone(estimator)
    assert copy is not estimator and copy.get_params() == estimator.get_params()
    copy.set_params(epochs=9, seed=4)
    assert (copy.epochs, copy.seed, estimator.epochs) == (9, 4, 7)
    assert "max_trials=3" in repr(estimator)


def test_bad_parameters_raise_at_fit_with_the_cli_message(fast):
    X, y = np.zeros((30, 2)), np.arange(30) % 2
    with pytest.raises(TuningError, match=r"--max-trials \(max_trials\) must be a whole number"):
        MLPSearchClassifier(**(fast | {"max_trials": 0})).fit(X, y)
    with pytest.raises(DataError, match="X has 30 rows but y has 29 values"):
        MLPSearchClassifier(**fast).fit(X, y[:29])
    with pytest.raises(DataError, match="X must be 2-D"):
        MLPSearchClassifier(**fast).fit(np.zeros(30), y)


def _classes(n: int = 160) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    # Integer labels, 3 classes: predictions must come back as these integers.
    y = np.select([X[:, 0] < -0.4, X[:, 0] < 0.4], [10, 20], 30)
    return X, y


def test_classifier_in_cross_validation(fast):
    X, y = _classes()
    scores = cross_validate(MLPSearchClassifier(**fast), X, y, cv=2, return_estimator=True)
    assert len(scores["test_score"]) == 2
    assert all(0.0 <= s <= 1.0 for s in scores["test_score"])
    first, second = scores["estimator"]
    assert first.run_dir_ != second.run_dir_  # two runs, two folders
    half = X[: len(X) // 2]
    for fitted in (first, second):
        assert list(fitted.classes_) == [10, 20, 30]
        assert fitted.result_.task == "multiclass"
        assert fitted.n_features_in_ == 3 and not hasattr(fitted, "feature_names_in_")
        assert [f["name"] for f in fitted.result_.metrics["features"]] == ["x0", "x1", "x2"]
        assert len(fitted.trials_) == 2 and set(fitted.best_params_) >= {"layers", "units_0"}
        proba = fitted.predict_proba(half)
        assert proba.shape == (len(half), 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        predicted = fitted.predict(half)
        assert predicted.dtype == y.dtype and set(predicted) <= {10, 20, 30}
        np.testing.assert_array_equal(predicted, fitted.classes_[proba.argmax(axis=1)])
        # The columns follow classes_: the run's own table names the same class per row.
        table = fitted.result_.predict(pd.DataFrame(half, columns=["x0", "x1", "x2"]))
        np.testing.assert_array_equal(predicted.astype(str), table["prediction"].to_numpy())
        assert fitted.score(half, y[: len(half)]) == accuracy_score(y[: len(half)], predicted)


def test_regressor_in_a_pipeline_on_a_dataframe(fast):
    rng = np.random.default_rng(2)
    n = 120
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)}, index=range(500, 620))
    y = pd.Series(4 * X["a"] - 2 * X["b"] + 100, name="price")
    search = MLPSearchRegressor(**(fast | {"refit": True, "ensemble": 1}))
    model = make_pipeline(StandardScaler(), search)
    model.fit(X, y)
    search = model[-1]
    assert search.result_.task == "regression" and search.result_.target == "price"
    assert search.result_.metrics["exported_model"]["kind"] == "refit"
    predicted = model.predict(X)
    assert predicted.shape == (n,) and predicted.dtype == np.float64
    assert 80 < predicted.mean() < 120  # in the target's units
    assert model.score(X, y) == pytest.approx(r2_score(y, predicted))
    assert search.run_dir_ == search.result_.run_dir
    assert (search.run_dir_ / "report.html").exists()
    # The scaler hands on an array: its columns are x0, x1.
    assert [f["name"] for f in search.result_.metrics["features"]] == ["x0", "x1"]


def test_the_target_column_never_takes_a_features_name():
    from tuning.estimators import _free_name

    assert _free_name("price", ["a", "b"]) == "price"
    assert _free_name("a", ["a", "b"]) == "a_1"
    assert _free_name("a", ["a", "a_1"]) == "a_2"
    assert _free_name(" ", ["a"]) == "target"


class _Result:
    """What the classifier reads from a run: its class order and its probabilities."""

    classes = ["a", "b", "c"]  # the run's order: cleaning strips the labels

    def predict_proba(self, frame):
        return np.tile([0.1, 0.7, 0.2], (len(frame), 1))


def test_probabilities_follow_classes_whatever_order_the_run_has():
    """y spelled ' b', 'a', 'c': classes_ sorts ' b' first, the run calls it 'b', second."""
    estimator = MLPSearchClassifier()
    estimator.result_ = _Result()
    estimator.n_features_in_ = 1
    estimator._fitted(pd.Series([" b", "a", "c", "a"]))
    assert list(estimator.classes_) == [" b", "a", "c"]
    np.testing.assert_allclose(estimator.predict_proba(np.zeros((2, 1))),
                               [[0.7, 0.1, 0.2]] * 2)
    assert list(estimator.predict(np.zeros((2, 1)))) == [" b", " b"]
