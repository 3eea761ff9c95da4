"""Shared fixtures: the seed, and a quiet TensorFlow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # as run_tuning.py: faster, and quiet

import pytest  # noqa: E402


@pytest.fixture
def seed() -> int:
    """Seed Python, NumPy and TensorFlow (as keras-tuner's own tests do)."""
    import keras

    keras.utils.set_random_seed(0)
    return 0


@pytest.fixture(autouse=True, scope="session")
def _imports_frozen():
    """As the command line does for its process (`tuning.cli.main`): Keras Tuner's garbage
    collections between trials skip TensorFlow's long-lived objects."""
    import gc

    import tensorflow  # noqa: F401

    gc.freeze()
