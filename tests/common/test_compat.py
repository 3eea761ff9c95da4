"""Each reach into Keras Tuner's, Keras' and TensorFlow's private API still works as used."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

from common import compat

ROOT = Path(__file__).resolve().parents[2]


def test_the_pins_are_requirements_txt_s():
    pins = dict(re.findall(r"^([\w-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    names = {"tensorflow": "tensorflow-cpu", "keras": "keras", "keras_tuner": "keras-tuner"}
    assert {name: pins[names[name]] for name in compat.PINNED} == compat.PINNED


def test_the_installed_versions_are_the_pinned_ones_and_others_are_named():
    assert compat.version_warning() is None
    other = {**compat.versions(), "keras_tuner": "1.5.0"}
    warning = compat.version_warning(other)
    assert "keras_tuner 1.5.0 (tested: 1.4.8)" in warning and "keras " not in warning


def test_versions_names_every_library_a_run_uses():
    assert set(compat.versions()) == {"python", "tensorflow", "keras", "keras_tuner", "numpy",
                                      "pandas", "sklearn"}


def test_importing_compat_loads_no_tensorflow():
    code = "import sys, common.compat; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize("owner", sorted(compat.SUBCLASS_MEMBERS))
def test_the_protected_members_our_subclasses_use_exist(owner):
    module, _, name = owner.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    objective = kt.Objective("val_loss", "min")
    instance = None
    if issubclass(cls, kt.Oracle):
        instance = cls(objective=objective, max_trials=1)
    for member in compat.SUBCLASS_MEMBERS[owner]:
        assert hasattr(cls, member) or hasattr(instance, member), f"{owner}.{member}"


def test_quiet_failed_trials_turns_keras_tuners_debug_off():
    from keras_tuner.src import config

    config.DEBUG = True
    compat.quiet_failed_trials()
    assert config.DEBUG is False


def _tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_build_for_training_builds_the_compiled_loss_and_optimizer():
    model = _tiny_model()
    x, y = np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")
    compat.build_for_training(model, (x, y))
    assert model.compiled_loss is not None and model.built
    assert model.optimizer.built or not model.optimizer.variables


def test_build_calls_the_tuners_try_build(tmp_path):
    def build_model(hp):
        hp.Int("units", 1, 2)
        return _tiny_model()

    tuner = kt.RandomSearch(build_model, objective="val_loss", max_trials=1,
                            directory=str(tmp_path), project_name="p")
    model = compat.build(tuner, kt.HyperParameters())
    assert isinstance(model, keras.Model)


def test_forget_custom_gradients_empties_tensorflows_registry_of_them():
    import tensorflow as tf
    from tensorflow.python.framework import ops

    @tf.custom_gradient
    def identity(x):
        return tf.identity(x), lambda dy: dy

    tf.function(identity)(tf.constant(1.0))  # traced: registers "CustomGradient-<id>"
    registry = ops._gradient_registry._registry
    assert any(str(n).startswith("CustomGradient-") for n in registry)
    compat.forget_custom_gradients()
    assert not any(str(n).startswith("CustomGradient-") for n in registry)


def test_trial_status_and_metrics_tracker():
    status = compat.trial_status()
    assert {status.RUNNING, status.IDLE, status.COMPLETED, status.FAILED} == \
        {"RUNNING", "IDLE", "COMPLETED", "FAILED"}
    tracker = compat.new_metrics_tracker()
    assert tracker.metrics == {}


def test_the_grid_walk_round_trips_through_json():
    import json

    walk = compat.grid_walk(["0", "1", "2"])
    restored = compat.grid_walk_from_state(json.loads(json.dumps(compat.grid_walk_state(walk))))
    assert [restored.next(t) for t in "012"] == [walk.next(t) for t in "012"] == ["1", "2", None]
    restored.insert("3")  # it still works as a LinkedList
    restored.insert("1.5", "1")
    assert [restored.next(t) for t in ("1", "1.5", "2")] == ["1.5", "2", "3"]


def test_the_oracle_service_serves_an_oracle_over_grpc():
    from concurrent import futures

    import grpc

    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_loss", "min"),
                                           max_trials=1)
    servicer = compat.oracle_servicer(oracle)
    assert servicer.stop_triggered is False
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    compat.add_oracle_servicer(servicer, server)
    messages = compat.oracle_messages()
    assert messages.GetTrialRequest(trial_id="1").trial_id == "1"
    assert messages.EndTrialResponse() is not None


def test_set_client_timeout_sets_the_workers_rpc_timeout():
    from keras_tuner.src.distribute import oracle_client

    before = oracle_client.TIMEOUT
    try:
        compat.set_client_timeout(12.5)
        assert oracle_client.TIMEOUT == 12.5
    finally:
        oracle_client.TIMEOUT = before


def test_silence_conditions_print_stops_the_debug_print(capsys):
    from keras_tuner.src.engine import conditions

    compat.silence_conditions_print()
    conditions.Parent("layers", [2]).to_proto()
    assert capsys.readouterr().out == ""
