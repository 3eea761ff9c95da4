"""keras-mlp-tuner as a library: tune an MLP for a table, read a run, predict.

    from tuning import tune, load_run, MLPSearchClassifier, MLPSearchRegressor, TuningError

Importing `tuning` loads none of TensorFlow, pandas or scikit-learn: each name below is
imported on first use, so the command line's `--help` and error paths stay instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from common.errors import SearchInterrupted, TuningError

# Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "tune": "tuning.api",
    "load_run": "tuning.api",
    "TuningResult": "tuning.api",
    "Predictor": "models.predictor",
    "MLPSearchClassifier": "tuning.estimators",
    "MLPSearchRegressor": "tuning.estimators",
}

__all__ = ["SearchInterrupted", "TuningError", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tuning' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
