"""The search's known-good starting points, the Bayesian warm-up, and who proposed a trial."""

from __future__ import annotations

import keras_tuner as kt
import pytest

from common.space import Range, SearchSpace
from data.task import Task
from models.heads import head_for
from models.hypermodel import MLPHyperModel
from tuning.search.oracles import (
    BASELINE_L2,
    STARTING_POINTS,
    BayesianOracle,
    RandomOracle,
    _allowed,
    baseline_l2,
    warm_up_trials,
)


def _oracle(cls, space: SearchSpace | None = None, **kwargs):
    space = space or SearchSpace()
    oracle = cls(objective="val_loss", max_trials=12, seed=3, **kwargs)
    hp = oracle.get_space()
    MLPHyperModel(5, head_for(Task("binary", (0, 1))), space, 3, 1).declare_hyperparameters(hp)
    oracle.update_space(hp)
    return oracle


def _end(oracle, trial, score):
    trial.status = "COMPLETED"
    oracle.update_trial(trial.trial_id, {"val_loss": score})
    oracle.end_trial(trial)


@pytest.mark.parametrize("cls", [RandomOracle, BayesianOracle], ids=["random", "bayesian"])
def test_searches_start_from_the_known_good_points(cls, tmp_path):
    oracle = _oracle(cls)
    oracle._set_project_dir(str(tmp_path), "p")
    for point in STARTING_POINTS:
        values = oracle.create_trial("t").hyperparameters.values
        expected = {k: v for k, v in point.items() if k != "units"}
        if expected["l2"] == BASELINE_L2:  # no table known: the default
            expected["l2"] = 1e-4
        assert {k: values[k] for k in expected} == expected
        units = [values[k] for k in sorted(values) if k.startswith("units_")]
        assert units == [point.get("units")] * point["layers"]  # none with no hidden layer
        _end(oracle, oracle.trials[max(oracle.trials)], 0.5)
    third = oracle.create_trial("t")
    assert [oracle.proposed[t] for t in sorted(oracle.proposed)] == [
        "start"] * len(STARTING_POINTS) + ["random"]
    assert third.trial_id in oracle.proposed
    # The linear starting points (layers 0) lie outside the built-in range, on purpose.
    assert 0 in [p["layers"] for p in STARTING_POINTS] and SearchSpace().layers.min == 1


def test_the_linear_starts_take_the_linear_baselines_penalty_for_the_tables_rows(tmp_path):
    # scikit-learn's defaults: LogisticRegression C = 1 is λ = 1/(2n), Ridge alpha = 1 is 1/n.
    assert baseline_l2(400, regression=False) == pytest.approx(1 / 800)
    assert baseline_l2(400, regression=True) == pytest.approx(1 / 400)
    oracle = _oracle(RandomOracle)
    oracle.linear_l2 = baseline_l2(140, regression=False)
    oracle._set_project_dir(str(tmp_path), "p")
    penalties = {}
    for _ in STARTING_POINTS:
        trial = oracle.create_trial("t")
        values = trial.hyperparameters.values
        penalties.setdefault(values["layers"] == 0, []).append(values["l2"])
        _end(oracle, trial, 0.5)
    assert penalties[True] == [pytest.approx(1 / 280)] * 2  # both linear starts
    assert penalties[False] == [1e-4] * 4  # the networks keep their own
    # Clamped into the space like any starting value: 1e-2 at most.
    oracle = _oracle(RandomOracle)
    oracle.linear_l2 = baseline_l2(20, regression=True)
    oracle._set_project_dir(str(tmp_path), "q")
    clamped = []
    for _ in STARTING_POINTS:
        trial = oracle.create_trial("t")
        if trial.hyperparameters.values["layers"] == 0:
            clamped.append(trial.hyperparameters.values["l2"])
        _end(oracle, trial, 0.5)
    assert clamped == [pytest.approx(1e-2)] * 2


def test_a_starting_value_the_space_forbids_becomes_the_closest_allowed(tmp_path):
    space = SearchSpace(units=(16, 48), optimizer=("sgd", "nesterov"), layers=1,
                        learning_rate=Range(1e-2, 1e-1, sampling="log"))
    oracle = _oracle(RandomOracle, space)
    oracle._set_project_dir(str(tmp_path), "p")
    values = oracle.create_trial("t").hyperparameters.values
    assert values["layers"] == 1 and values["units_0"] == 48  # 128 -> the nearest, 48
    assert values["optimizer"] == "sgd"  # "adam" is not allowed: the space's default
    assert values["learning_rate"] == pytest.approx(1e-2)  # 1e-3 clipped into the range


@pytest.mark.parametrize("layers", [2, Range(2, 4), (2, 3)], ids=["fixed", "range", "choice"])
def test_no_linear_starting_point_when_the_space_asks_for_deeper_networks(tmp_path, layers):
    oracle = _oracle(RandomOracle, SearchSpace(layers=layers))
    oracle._set_project_dir(str(tmp_path), "p")
    for _ in STARTING_POINTS:
        trial = oracle.create_trial("t")
        assert trial.hyperparameters.values["layers"] >= 2
        _end(oracle, trial, 0.5)
    starts = [t for t in sorted(oracle.proposed) if oracle.proposed[t] == "start"]
    assert len(starts) == len([p for p in STARTING_POINTS if p["layers"]])


def test_allowed_rounds_to_the_step_and_the_nearest_choice():
    hps = kt.HyperParameters()
    hps.Choice("u", [8, 64])
    hps.Float("d", 0.0, 0.5, step=0.1)
    hps.Int("n", 1, 3)
    hps.Fixed("f", "tanh")
    choice, stepped, whole, fixed = hps.space
    assert _allowed(choice, 100) == 64
    assert _allowed(stepped, 0.27) == pytest.approx(0.3)
    assert _allowed(whole, 5) == 3
    assert _allowed(fixed, "relu") == "tanh"


def test_bayesian_warm_up_is_a_third_of_the_budget_and_then_the_model_proposes(tmp_path):
    assert warm_up_trials(20) == 6 and warm_up_trials(4) == 3
    starts = len(STARTING_POINTS)
    warm = starts + 2  # more than the starting points: random trials fill the rest
    oracle = _oracle(BayesianOracle, num_initial_points=warm)
    oracle._set_project_dir(str(tmp_path), "p")
    for i in range(warm + 2):
        trial = oracle.create_trial("t")
        _end(oracle, trial, 0.1 * (i + 1))
    assert [oracle.proposed[t] for t in sorted(oracle.proposed)] == (
        ["start"] * starts + ["random"] * (warm - starts) + ["model", "model"])
    restored = _oracle(BayesianOracle, num_initial_points=3)
    restored.set_state(oracle.get_state())  # resume keeps who proposed each trial
    assert restored.proposed == oracle.proposed


def test_the_gaussian_process_models_only_trials_inside_the_space(tmp_path):
    oracle = _oracle(BayesianOracle, num_initial_points=3)
    oracle._set_project_dir(str(tmp_path), "p")
    for i, _ in enumerate(STARTING_POINTS):
        _end(oracle, oracle.create_trial("t"), 0.1 * (i + 1))
    x, y = oracle._vectorize_trials()
    inside = [p for p in STARTING_POINTS if p["layers"] >= 1]
    assert len(x) == len(y) == len(inside) < len(STARTING_POINTS)
    assert ((x >= 0) & (x <= 1)).all()
