from __future__ import annotations

import keras_tuner as kt
import pytest

from common.errors import ConfigError
from common.space import Range, SearchSpace, declare, load_space


def _space(tmp_path, text: str) -> SearchSpace:
    path = tmp_path / "space.toml"
    path.write_text(text)
    return load_space(path)


def test_builtin_space_is_the_contracts():
    space = load_space(None)
    assert space.layers == Range(1, 4)
    assert space.optimizer == ("sgd", "momentum", "nesterov", "rmsprop", "adam")
    assert space.learning_rate == Range(1e-4, 1e-1, sampling="log")


def test_scalar_fixes_list_chooses_table_ranges(tmp_path):
    space = _space(tmp_path, """
units = 64
activation = ["relu", "tanh"]
learning_rate = { min = 1e-3, max = 1e-2, sampling = "log" }
l2 = 0
dropout = [0.0, 0.25]
l1 = [0, 1e-3]
""")
    assert space.units == 64
    assert space.activation == ("relu", "tanh")
    assert space.learning_rate == Range(1e-3, 1e-2, None, "log")
    assert space.l2 == 0.0
    assert space.l1 == (0.0, 1e-3)
    assert SearchSpace().l1[0] == 0.0  # built in: off is one of the choices
    assert space.layers == Range(1, 4)  # left out: the built-in range


def test_declare_maps_to_keras_tuner():
    hp = kt.HyperParameters()
    assert declare(hp, "units", 64) == 64
    assert declare(hp, "activation", ("relu", "tanh")) == "relu"
    assert declare(hp, "layers", Range(1, 3)) == 1
    lr = declare(hp, "learning_rate", Range(1e-4, 1e-1, sampling="log"))
    assert 1e-4 <= lr <= 1e-1
    assert isinstance(hp._hps["units"][0], kt.engine.hyperparameters.Fixed)
    assert isinstance(hp._hps["layers"][0], kt.engine.hyperparameters.Int)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("layers = [", "not valid TOML"),
        ("neurons = 3", "unknown key"),
        ("layers = { min = 4, max = 2 }", "min 4 > max 2"),
        ('optimizer = ["adam", "lbfgs"]', "lbfgs.*not allowed"),
        ('activation = "softplusx"', "not allowed"),
        ("learning_rate = -0.1", "out of range"),
        ("learning_rate = { min = 0, max = 0.1, sampling = \"log\" }", "out of range"),
        ("dropout = 1.0", "out of range"),
        ("units = 2.5", "whole number"),
        ("batch_size = []", "empty list"),
        ("layers = { min = 1 }", "takes keys min, max"),
        ('units = "many"', "must be a number"),
        ("l1 = -1e-3", "out of range"),
    ],
    ids=["not-toml", "unknown-key", "min-gt-max", "unknown-optimizer", "unknown-activation",
         "negative-lr", "log-from-zero", "dropout-one", "fractional-units", "empty-list",
         "range-without-max", "text-for-number", "negative-l1"],
)
def test_space_errors(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        _space(tmp_path, text)


def test_missing_space_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_space(tmp_path / "none.toml")
