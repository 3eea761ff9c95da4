"""Keras Tuner's four tuners, each with the bookkeeping this tool adds to every trial.

What `_TrialBookkeeping` changes in Keras Tuner's `Tuner.run_trial`:
  * the kept weights are saved once, after training ends (the restored best epoch with early
    stopping on, the last epoch with it off), instead of at every improving epoch;
  * every epoch's training and validation metrics are written to `histories/<trial>.json`
    (Keras Tuner keeps only the best epoch's), with the trial's wall time and epochs run;
  * each trial gets its own seed, so a trial repeats exactly, even after `--resume`;
  * one console line per finished trial.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
from keras_tuner.src import utils as kt_utils

from tuning.config import RunConfig
from tuning.files import write_json


class EpochLog(keras.callbacks.Callback):
    """Keeps every epoch's logs (loss, metric, val_loss, val_metric)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


def kept_epoch(history: dict[str, list[float]], early_stopping: bool) -> int | None:
    """1-based epoch whose weights are kept: the lowest val_loss, or the last without early stopping."""
    val = history.get("val_loss") or []
    if not val:
        return None
    if not early_stopping:
        return len(val)
    finite = [(v, i) for i, v in enumerate(val) if math.isfinite(v)]
    return min(finite)[1] + 1 if finite else None


class _TrialBookkeeping:
    """Mixed into a Keras Tuner tuner class; see the module docstring."""

    def _setup_bookkeeping(
        self, config: RunConfig, history_dir: Path, report: Callable[[str], None]
    ) -> None:
        self._config = config
        self._history_dir = history_dir
        self._report = report
        self._started = time.perf_counter()
        history_dir.mkdir(parents=True, exist_ok=True)

    def run_trial(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> dict[str, float]:
        hp = trial.hyperparameters
        if "tuner/epochs" in hp.values:  # Hyperband's bracket schedule, as kt.Hyperband does
            kwargs["epochs"] = hp.values["tuner/epochs"]
            kwargs["initial_epoch"] = hp.values["tuner/initial_epoch"]
        keras.utils.set_random_seed(self._config.seed * 1000 + int(trial.trial_id))
        log = EpochLog()
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), log]
        start = time.perf_counter()
        message = ""
        try:
            model = self._try_build(hp)
            self.hypermodel.fit(hp, model, *args, **kwargs)
            best = kept_epoch(log.history, self._config.patience > 0)
            if best is None:
                raise kt.errors.FailedTrialError("no finite validation loss was recorded")
            model.save_weights(self._get_checkpoint_fname(trial.trial_id))
            kt_utils.save_json(
                self._get_build_config_fname(trial.trial_id), model.get_build_config()
            )
            return {"val_loss": log.history["val_loss"][best - 1]}
        except Exception as exc:
            message = f"{exc}" if isinstance(exc, kt.errors.FailedTrialError) else (
                f"{type(exc).__name__}: {exc}")
            raise
        finally:
            record = {
                "trial_id": trial.trial_id,
                "seconds": time.perf_counter() - start,
                "epochs": len(log.history.get("loss", [])),
                "best_epoch": kept_epoch(log.history, self._config.patience > 0),
                "message": message,
                "history": log.history,
            }
            write_json(self._history_dir / f"trial_{trial.trial_id}.json", record)

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_end(trial)
        if self._is_worker():  # the oracle is the chief's, over gRPC: the chief reports progress
            self._report(f"trial {trial.trial_id} {trial.status.lower()}")
        else:
            self._report(self._trial_line(trial))

    def _trial_line(self, trial: kt.engine.trial.Trial) -> str:
        oracle = self.oracle
        done = len(oracle.end_order)
        total = self._config.max_trials
        path = self._history_dir / f"trial_{trial.trial_id}.json"
        seconds = json.loads(path.read_text())["seconds"] if path.exists() else float("nan")
        best = oracle.get_best_trials(1)
        best_text = f"best {best[0].score:.4f}" if best else "best -"
        status = oracle.trials[trial.trial_id].status
        if status == "COMPLETED":
            score = oracle.trials[trial.trial_id].score
            head = f"val_loss {score:.4f}"
        else:
            head = f"{status.lower()}"
        return f"trial {done}/{total}  {head:<18} {best_text:<14} {seconds:6.1f} s"


def _bookkept(base: type) -> type:
    return type(f"Bookkept{base.__name__}", (_TrialBookkeeping, base), {})


_CLASSES = {
    "random": _bookkept(kt.RandomSearch),
    "grid": _bookkept(kt.GridSearch),
    "bayesian": _bookkept(kt.BayesianOptimization),
    "hyperband": _bookkept(kt.Hyperband),
}


def make_tuner(
    config: RunConfig,
    hypermodel: kt.HyperModel,
    run_dir: Path,
    report: Callable[[str], None] = print,
) -> kt.Tuner:
    """The tuner `config.tuner` names, keeping its state in `<run_dir>/keras_tuner`.

    Every tuner minimizes validation loss. Hyperband runs its bracket schedule with
    `max_epochs = --epochs` and factor 3, and stops after `--max-trials` trials at most.
    A trial that fails (for instance a diverging loss) is recorded and the search goes on:
    it stops early only if every trial fails.
    """
    common: dict[str, Any] = dict(
        objective="val_loss",
        seed=config.seed,
        directory=str(run_dir),
        project_name="keras_tuner",
        # A worker shares the chief's project folder: never wipe it.
        overwrite=not (config.resume or config.worker),
        # Never abort on a run of failed trials: each is recorded, and the search goes on.
        max_consecutive_failed_trials=config.max_trials + 1,
    )
    cls = _CLASSES[config.tuner]
    if config.tuner == "hyperband":
        tuner = cls(hypermodel, max_epochs=max(config.epochs, 2), factor=3, **common)
        tuner.oracle.max_trials = config.max_trials
    else:
        tuner = cls(hypermodel, max_trials=config.max_trials, **common)
    tuner._setup_bookkeeping(config, run_dir / "histories", report)
    return tuner

