"""Greedy ensemble selection and the one plain Keras model it exports."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models.ensemble import ensemble_model, greedy_selection, selection_loss


def test_selection_averages_trials_whose_errors_cancel():
    y = np.array([0.0, 0.0, 1.0, 1.0]).reshape(-1, 1)
    predictions = {
        "0": np.array([0.3, 0.3, 0.9, 0.5]).reshape(-1, 1),  # the best alone
        "1": np.array([0.3, 0.3, 0.5, 0.9]).reshape(-1, 1),  # wrong where "0" is right
        "2": np.array([0.6, 0.6, 0.6, 0.6]).reshape(-1, 1),  # poor everywhere
    }
    loss = selection_loss("binary")
    chosen = greedy_selection(predictions, y, loss, max_members=3)
    assert set(chosen.weights) == {"0", "1"}
    assert chosen.weights["0"] == pytest.approx(0.5) and sum(chosen.weights.values()) == 1
    assert chosen.loss < chosen.single_loss == pytest.approx(loss(y, predictions["0"]))
    alone = greedy_selection(predictions, y, loss, max_members=1)
    assert alone.weights == {"0": 1.0}


def test_selection_never_exceeds_the_member_limit():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 1))
    predictions = {str(i): y + rng.normal(size=(50, 1)) for i in range(8)}
    chosen = greedy_selection(predictions, y, selection_loss("regression"), max_members=3)
    assert 1 < len(chosen.weights) <= 3
    # Any prefix of picks is at least as good as the best trial alone.
    assert chosen.loss <= chosen.single_loss


def test_multiclass_loss_is_log_loss():
    y = np.array([0, 2])
    p = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    assert selection_loss("multiclass")(y, p) == pytest.approx(-np.mean(np.log([0.5, 0.8])))


def test_the_ensemble_model_is_the_weighted_average_of_its_members(seed):
    members = []
    for units in (3, 5):
        network = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, "relu"),
                                    keras.layers.Dense(2, "softmax")])
        members.append(network)
    x = np.random.default_rng(1).normal(size=(7, 4)).astype("float32")
    model = ensemble_model([(members[0], 0.75), (members[1], 0.25)], 4)
    expected = 0.75 * np.asarray(members[0](x)) + 0.25 * np.asarray(members[1](x))
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6)
    names = {type(layer).__name__ for layer in model.layers}
    assert names <= {"InputLayer", "Dense", "Rescaling", "Add"}
