from __future__ import annotations

import pytest

from common.errors import ConfigError
from tuning.config import RunConfig


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"data": "x.csv"}, "--data needs --target"),
        ({"max_trials": -1}, r"--max-trials \(max_trials\) must be a whole number ≥ 1"),
        ({"epochs": 0}, "--epochs"),
        ({"patience": -2}, "--patience"),
        ({"tuner": "genetic"}, "--tuner 'genetic' is not one of"),
        ({"task": "ranking"}, "--task 'ranking'"),
        ({"val_size": 0.5, "test_size": 0.5}, "leaves too little"),
        ({"val_size": 0.0}, r"--val-size \(val_size\) must be a fraction"),
        ({"name": "../escape"}, "not a plain folder name"),
        ({"name": "a/b"}, "not a plain folder name"),
        ({"dataset": "mnist"}, "Unknown --dataset 'mnist'"),
        ({"resume": True}, "--resume needs --name"),
        ({"data": "x.csv", "target": "y", "dataset": "iris"}, "either --data or --dataset"),
    ],
    ids=["no-target", "negative-trials", "zero-epochs", "negative-patience", "unknown-tuner",
         "unknown-task", "splits-too-big", "zero-val", "dotdot-name", "slash-name",
         "unknown-dataset", "resume-without-name", "data-and-dataset"],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig(**kwargs)


def test_defaults_match_the_contract():
    c = RunConfig()
    assert (c.tuner, c.max_trials, c.epochs, c.patience, c.val_size, c.test_size, c.seed,
            c.out, c.workers, c.task) == ("bayesian", 20, 100, 10, 0.15, 0.15, 0, "runs", 1, "auto")
    assert c.dataset_name == "breast_cancer"
