"""Every use of Keras Tuner's, Keras' and TensorFlow's private API, in one place.

The tool is tested with the exact versions in `PINNED` (requirements.txt). Each function here
is one reach into another library's internals, imported only when called (no TensorFlow at
import), and each has a test in tests/common/test_compat.py that fails when the installed
version no longer has it. `version_warning` says when another version is installed.

Besides the calls below, the tool's tuner and oracle subclasses (`tuning.search`) use protected
members of their Keras Tuner base classes; `SUBCLASS_MEMBERS` lists them, and the tests check
that each still exists.
"""

from __future__ import annotations

import sys
from typing import Any

# The versions requirements.txt pins (a test keeps the two the same), by import name.
PINNED = {"tensorflow": "2.21.0", "keras": "3.15.1", "keras_tuner": "1.4.8"}

# Protected members of Keras Tuner's classes that `tuning.search` subclasses use or override.
SUBCLASS_MEMBERS = {
    "keras_tuner.Tuner": (
        "_populate_initial_space",  # overridden: the space is declared, not found by building
        "_try_build",
        "_get_checkpoint_fname",
        "_get_build_config_fname",
        "_get_tuner_fname",
        "_is_worker",
    ),
    "keras_tuner.Oracle": (
        "_get_oracle_fname",
        "_get_trial_dir",
        "_save_trial",
        "_run_times",
        "_retry_queue",
        "_project_dir",
    ),
    "keras_tuner.oracles.GridSearchOracle": ("_ordered_ids", "_populate_next", "_compare"),
    "keras_tuner.oracles.BayesianOptimizationOracle": (
        "_random_state",
        "_random_populate_space",
        "_duplicate",
        "_vectorize_trials",  # overridden: completed trials enter as log(loss)
        "_nonfixed_space",
        "gpr",
        "num_initial_points",
        "_get_hp_bounds",
        "_vector_to_values",
        "beta",
    ),
}


def versions() -> dict[str, str]:
    """The versions of Python and the libraries a run used (metadata.json, the report)."""
    import keras
    import keras_tuner
    import numpy
    import pandas
    import sklearn
    import tensorflow

    return {
        "python": sys.version.split()[0],
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "sklearn": sklearn.__version__,
    }


def version_warning(installed: dict[str, str] | None = None) -> str | None:
    """What to tell a user whose TensorFlow, Keras or Keras Tuner is not the pinned version.

    Args:
        installed: import name -> version. Defaults to `versions()`.
    """
    installed = versions() if installed is None else installed
    other = [f"{name} {installed.get(name)} (tested: {pin})" for name, pin in PINNED.items()
             if installed.get(name) != pin]
    if not other:
        return None
    return (f"this tool reaches into private parts of these libraries and is tested only with "
            f"the versions in requirements.txt; installed: {', '.join(other)}. If a search "
            "fails oddly, install the tested versions.")


def quiet_failed_trials() -> None:
    """Keras Tuner prints every failed trial's traceback to stderr unless its DEBUG is off; a
    diverging trial is expected, and its reason goes to trials.csv."""
    from keras_tuner.src import config

    config.DEBUG = False


def build(tuner: Any, hp: Any) -> Any:
    """`tuner._try_build(hp)`: the model, after Keras Tuner's clear_session and gc.collect."""
    return tuner._try_build(hp)


def build_for_training(model: Any, data_batch: tuple[Any, Any]) -> None:
    """Build a compiled Keras model, its optimizer's slots and its compiled loss and metrics
    from one batch, as `fit` does before tracing."""
    model._symbolic_build(data_batch=data_batch)


def forget_custom_gradients() -> None:
    """Drop the "CustomGradient-<id>" entries of TensorFlow's global gradient registry.

    Every traced call of a `tf.custom_gradient` function (tf.distribute's all_reduce, in every
    train step of a Keras optimizer) registers one, and it holds the traced graph
    (keras-team/keras#17458, tensorflow/tensorflow#61791). Only the tracing that made an entry
    looks it up, so between trials none is needed. Nothing is done if the registry is gone.
    """
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if isinstance(registry, dict):
        for name in [n for n in registry if str(n).startswith("CustomGradient-")]:
            del registry[name]


def trial_status() -> Any:
    """Keras Tuner's `TrialStatus` (RUNNING, IDLE, COMPLETED, FAILED, ...)."""
    from keras_tuner.src.engine.trial import TrialStatus

    return TrialStatus


def new_metrics_tracker() -> Any:
    """An empty `MetricsTracker`, as a new trial has."""
    from keras_tuner.src.engine import metrics_tracking

    return metrics_tracking.MetricsTracker()


def grid_walk_state(ids: Any) -> dict[str, Any]:
    """GridSearchOracle's walk through the grid (a `gridsearch.LinkedList`) as JSON."""
    return {
        "memory": list(ids._memory),
        # Keys are list indices, or None for the list's head: kept as pairs, not a JSON object.
        "next": [[k, v] for k, v in ids._next_index.items()],
        "last": ids._last_index,
    }


def grid_walk_from_state(state: dict[str, Any]) -> Any:
    """The `gridsearch.LinkedList` that `grid_walk_state` saved."""
    import collections

    from keras_tuner.src.tuners import gridsearch

    ids = gridsearch.LinkedList()
    ids._memory = list(state["memory"])
    ids._data_to_index = {data: i for i, data in enumerate(ids._memory)}
    ids._next_index = collections.defaultdict(lambda: None)
    ids._next_index.update({k: v for k, v in state["next"]})
    ids._last_index = state["last"]
    return ids


def grid_walk(trial_ids: list[str]) -> Any:
    """A `gridsearch.LinkedList` holding `trial_ids` in this order."""
    from keras_tuner.src.tuners import gridsearch

    ids = gridsearch.LinkedList()
    for trial_id in trial_ids:
        ids.insert(trial_id)
    return ids


def oracle_servicer(oracle: Any) -> Any:
    """Keras Tuner's gRPC `OracleServicer` serving `oracle` (its `stop_triggered` is read)."""
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    return OracleServicer(oracle)


def add_oracle_servicer(servicer: Any, server: Any) -> None:
    """Register `servicer` with a `grpc.server`."""
    from keras_tuner.src import protos

    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)


def queue_for_retry(oracle: Any, trial_id: str) -> None:
    """Put a trial on the oracle's `_retry_queue`: its next `create_trial` hands it out again."""
    oracle._retry_queue.append(trial_id)


def oracle_stub(channel: Any) -> Any:
    """The gRPC stub a worker's `OracleClient` calls the chief with (its `stub`), on `channel`."""
    from keras_tuner.src import protos

    return protos.get_service_grpc().OracleStub(channel)


def oracle_messages() -> Any:
    """Keras Tuner's gRPC request and response messages (`GetTrialRequest`, ...)."""
    from keras_tuner.src import protos

    return protos.get_service()


def set_client_timeout(seconds: float) -> None:
    """How long a worker's `OracleClient` waits for any answer from the chief."""
    from keras_tuner.src.distribute import oracle_client

    oracle_client.TIMEOUT = seconds


def silence_conditions_print() -> None:
    """Keras Tuner 1.4.8's `conditions.Parent.to_proto` prints its first value (a leftover
    debug `print`) whenever a conditional hyperparameter crosses gRPC. A module-level `print`
    shadows the builtin for that module only; it has no other print."""
    from keras_tuner.src.engine import conditions

    conditions.print = lambda *args, **kwargs: None
