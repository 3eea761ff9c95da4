"""Shared fixtures: the seed, and a quiet TensorFlow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # as run_tuning.py: faster, and quiet

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def seed() -> int:
    """Seed Python, NumPy and TensorFlow (as keras-tuner's own tests do)."""
    import keras

    keras.utils.set_random_seed(0)
    return 0


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One real command-line run (iris, 1 trial of 1 epoch, --refit), shared by the tests of the
    console (test_cli) and of --refit's export (test_export): each end-to-end run costs seconds.

    No TensorFlow settings come from outside: run_tuning.py must quiet TensorFlow itself.
    """
    out = tmp_path_factory.mktemp("cli_run")
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS_"))}
    proc = subprocess.run(
        [sys.executable, str(root / "run_tuning.py"), "--dataset", "iris", "--max-trials", "1",
         "--epochs", "1", "--refit", "--out", str(out), "--name", "run"],
        capture_output=True, text=True, cwd=root, env=env, timeout=300,
    )
    return proc, out / "run"
