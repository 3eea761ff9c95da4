"""The MLP hypermodel's search space as Keras Tuner sees it."""

from __future__ import annotations

import keras_tuner as kt

from common.space import SearchSpace, declare
from data.task import Task
from models.heads import head_for
from models.hypermodel import MLPHyperModel


def _tuner(tmp_path, name: str) -> kt.RandomSearch:
    hypermodel = MLPHyperModel(5, head_for(Task("binary", (0, 1))), SearchSpace(), 3, 1)
    return kt.RandomSearch(hypermodel, objective="val_loss", max_trials=6, seed=7,
                           max_consecutive_failed_trials=9, directory=str(tmp_path),
                           project_name=name)


def test_the_whole_space_is_known_before_the_first_trial(tmp_path):
    names = {hp.name for hp in _tuner(tmp_path, "space").oracle.get_space().space}
    assert {"layers", "units_0", "units_1", "units_2", "units_3", "batch_size", "activation",
            "optimizer", "learning_rate", "l2", "dropout"} <= names


def test_draws_do_not_depend_on_when_trials_end(tmp_path):
    # One process: each trial ends before the next is drawn. Parallel workers: all four are
    # drawn before any ends. A seed must give the same four trials either way.
    tuner = _tuner(tmp_path, "one")
    one, sequential = tuner.oracle, []
    for _ in range(4):
        trial = one.create_trial("tuner0")
        sequential.append(dict(trial.hyperparameters.values))
        # What running the trial declares: the model's hyperparameters, and fit's batch size.
        tuner.hypermodel.build(trial.hyperparameters)
        declare(trial.hyperparameters, "batch_size", tuner.hypermodel.space.batch_size)
        trial.status = kt.engine.trial.TrialStatus.FAILED
        one.end_trial(trial)
    many = _tuner(tmp_path, "many").oracle
    parallel = [dict(many.create_trial(f"worker{i}").hyperparameters.values) for i in range(4)]
    assert parallel == sequential
    assert len({str(sorted(v.items())) for v in sequential}) == 4


def test_declaring_gives_the_space_that_building_finds(tmp_path):
    """The tool's tuners learn the space from declare_hyperparameters alone, without building
    a model per number of layers as Keras Tuner does: that must be the same space, in the same
    order (the order in which a seed draws values)."""
    def described(hp: kt.HyperParameters) -> list:
        return [(p.name, type(p).__name__, p.get_config().get("values"),
                 [(c.name, c.values) for c in p.conditions]) for p in hp.space]

    hypermodel = MLPHyperModel(5, head_for(Task("binary", (0, 1))), SearchSpace(), 3, 1)
    declared = kt.HyperParameters()
    hypermodel.declare_hyperparameters(declared)
    built = _tuner(tmp_path, "built").oracle.get_space()  # Keras Tuner's builds
    assert described(declared) == described(built)
    assert [p.name for p in declared.space][:2] == ["batch_size", "layers"]


def _linear_hp(l2: float) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for name, value in dict(layers=0, activation="relu", optimizer="adam", learning_rate=0.01,
                            batch_size=8, l2=l2, dropout=0.3).items():
        hp.Fixed(name, value)
    return hp


def test_the_l1_penalty_is_on_the_inputs_weights_alone_and_loads_in_safe_mode(tmp_path):
    import keras
    import numpy as np

    hypermodel = MLPHyperModel(5, head_for(Task("binary", (0, 1))), SearchSpace(), 3, 1)
    hp = kt.HyperParameters()
    for name, value in dict(layers=2, units_0=4, units_1=3, activation="relu",
                            optimizer="adam", learning_rate=0.01, batch_size=8, l2=1e-3,
                            dropout=0.0, l1=3e-3).items():
        hp.Fixed(name, value)
    model = hypermodel.build(hp)
    first, second = model.get_layer("hidden_0"), model.get_layer("hidden_1")
    assert first.kernel_regularizer.l1 == np.float32(3e-3)
    assert first.kernel_regularizer.l2 == np.float32(1e-3)
    assert not hasattr(second.kernel_regularizer, "l1")  # deeper kernels: L2 only
    model.save(tmp_path / "l1.keras")
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    loaded = keras.models.load_model(tmp_path / "l1.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
    # A linear model: its only kernel, the output's, is the inputs' weights.
    linear = _linear_hp(1e-3)
    linear.Fixed("l1", 1e-2)
    assert hypermodel.build(linear).get_layer("output").kernel_regularizer.l1 == np.float32(1e-2)


def test_no_hidden_layer_is_a_linear_model_whose_output_carries_the_l2(tmp_path):
    import keras
    import numpy as np

    hypermodel = MLPHyperModel(5, head_for(Task("binary", (0, 1))), SearchSpace(), 3, 1)
    model = hypermodel.build(_linear_hp(1e-3))
    assert [layer.name for layer in model.layers] == ["output"]  # no hidden layer, no dropout
    assert model.layers[0].kernel_regularizer.l2 == np.float32(1e-3)
    assert hypermodel.build(_linear_hp(0.0)).layers[0].kernel_regularizer is None
    model.save(tmp_path / "linear.keras")
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    loaded = keras.models.load_model(tmp_path / "linear.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
    # With deeper networks the output layer stays unpenalized, as before.
    deep = kt.HyperParameters()
    for name, value in dict(layers=1, units_0=4, activation="relu", optimizer="adam",
                            learning_rate=0.01, batch_size=8, l2=1e-3, dropout=0.0).items():
        deep.Fixed(name, value)
    assert hypermodel.build(deep).get_layer("output").kernel_regularizer is None
    # Cross-validated: the K fold networks of a linear trial, one stacked output layer.
    folds = MLPHyperModel(5, head_for(Task("binary", (0, 1))), SearchSpace(), 3, 1,
                          train_mask=np.ones((6, 3), dtype=bool))
    stacked = folds.build(_linear_hp(1e-3))
    assert [type(layer).__name__ for layer in stacked.layers] == ["InputLayer", "EinsumDense"]
    assert tuple(stacked(x).shape) == (4, 3, 1)
