"""Shared fixtures: the seed, and a quiet TensorFlow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # as run_tuning.py: faster, and quiet

import fcntl  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """Byte-compile the project's own modules once, before any process of the run imports them.

    Where PYTHONDONTWRITEBYTECODE is set (as on this project's machines) no process writes
    them, so every pytest-xdist process and each of the suite's ~30 command-line, worker and
    kernel processes compiled them from source again: ~0.9 s of CPU each. The .pyc files
    are checked against their source's hash on every import, so an edited module is never
    read from a stale one (and __pycache__ is ignored by git).
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller, which starts before its workers, has done it
    import compileall
    import py_compile

    mode = py_compile.PycInvalidationMode.CHECKED_HASH
    for package in ("common", "data", "models", "reports", "tuning"):
        compileall.compile_dir(ROOT / package, quiet=1, invalidation_mode=mode)
    compileall.compile_file(ROOT / "run_tuning.py", quiet=1, invalidation_mode=mode)


@pytest.fixture
def seed() -> int:
    """Seed Python, NumPy and TensorFlow (as keras-tuner's own tests do)."""
    import keras

    keras.utils.set_random_seed(0)
    return 0


# cli_run's options; a test that repeats the run in another process starts from these.
CLI_RUN_ARGS = ("--dataset", "iris", "--max-trials", "1", "--epochs", "1", "--refit")


def cli_run_env() -> dict[str, str]:
    """The environment without TensorFlow settings: run_tuning.py must quiet TensorFlow itself."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS_"))}


def once_per_session(tmp_path_factory, name: str, build: Callable[[Path], Any],
                     to_json: Callable[[Any], Any], from_json: Callable[[Any], Any]) -> Any:
    """A session fixture's value built once for the whole run, not once per pytest-xdist process.

    The first process to get here builds it in a folder every process sees (under xdist,
    `getbasetemp().parent` is shared) and leaves it as JSON; another one waits for the lock and
    reads that. Without xdist, `build` just runs. Callers must not change what it built.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / f"{name}.json"
        if saved.exists():
            return from_json(json.loads(saved.read_text()))
        folder = shared / name
        if folder.exists():  # a build that failed in another process: start afresh
            shutil.rmtree(folder)
        folder.mkdir()
        value = build(folder)
        saved.write_text(json.dumps(to_json(value)))
        return value


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One real command-line run (iris, 1 trial of 1 epoch, --refit), shared by the tests of the
    console (tuning/cli/test_main) and of --refit's export (test_export): each end-to-end run
    costs seconds.

    No TensorFlow settings come from outside: run_tuning.py must quiet TensorFlow itself.
    """
    def build(out: Path) -> tuple[subprocess.CompletedProcess, Path]:
        root = Path(__file__).resolve().parents[1]
        proc = subprocess.run(
            [sys.executable, str(root / "run_tuning.py"), *CLI_RUN_ARGS, "--out", str(out),
             "--name", "run"],
            capture_output=True, text=True, cwd=root, env=cli_run_env(), timeout=300,
        )
        return proc, out / "run"

    return once_per_session(
        tmp_path_factory, "cli_run", build,
        lambda v: [v[0].args, v[0].returncode, v[0].stdout, v[0].stderr, str(v[1])],
        lambda j: (subprocess.CompletedProcess(*j[:4]), Path(j[4])),
    )


@pytest.fixture(autouse=True, scope="session")
def _imports_frozen():
    """As the command line does for its process (`tuning.cli.main`): Keras Tuner's garbage
    collections between trials skip TensorFlow's long-lived objects."""
    import gc

    import tensorflow  # noqa: F401

    gc.freeze()


@pytest.fixture(autouse=True)
def _earlier_tests_objects_frozen():
    """What the earlier tests left alive (fixtures, caches) is frozen too, so each full
    collection in this test (Keras Tuner runs two per trial) goes through this test's own
    objects only, not through a heap that grows all session. The earlier tests' garbage is
    collected first, so only what still lives is frozen."""
    import gc

    gc.collect()
    gc.freeze()


# A tiny space: every trial is cheap, and the report still has hyperparameters to plot.
RUN_SPACE = """
layers = [1, 2]
units = [8, 16]
learning_rate = { min = 1e-3, max = 3e-2, sampling = "log" }
batch_size = 32
"""
# A column name that would run as a script if the report did not escape it.
HOSTILE_COLUMN = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def task_runs(tmp_path_factory) -> dict:
    """One finished run folder per task (2 trials x 2 epochs, in this process), for tests that
    read what a real run leaves: task -> (run folder, console lines)."""
    return once_per_session(
        tmp_path_factory, "task_runs", _task_runs,
        lambda runs: {task: [str(folder), lines] for task, (folder, lines) in runs.items()},
        lambda saved: {task: (Path(folder), lines) for task, (folder, lines) in saved.items()},
    )


def _task_runs(root: Path) -> dict:
    import keras
    import numpy as np
    import pandas as pd

    from tuning.config import RunConfig
    from tuning.run.pipeline import run

    (root / "space.toml").write_text(RUN_SPACE)
    rng = np.random.default_rng(0)
    n = 120
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame(
        {"x1": x1, HOSTILE_COLUMN: x2, "color": rng.choice(["red", "green", "blue"], n)}
    )
    targets = {
        "binary": np.where(x1 + 0.5 * (frame["color"] == "red") > 0.2, "yes", "no"),
        "multiclass": np.select([x1 < -0.6, x1 < 0.0, x1 < 0.6], ["low", "mid", "high"], "top"),
        # Right-skewed, positive and in large units, like a price.
        "regression": np.exp(10 + 0.8 * x1 - 0.3 * x2 + rng.normal(0, 0.2, n)),
    }
    runs = {}
    for task, target in targets.items():
        path = root / f"{task}.csv"
        frame.assign(label=target).to_csv(path, index=False)
        keras.utils.set_random_seed(0)
        lines: list[str] = []
        config = RunConfig(data=str(path), target="label", space=str(root / "space.toml"),
                           tuner="random", max_trials=2, epochs=2, patience=2,
                           out=str(root / "runs"), name=task)
        runs[task] = (run(config, report=lines.append), lines)
    return runs
