"""Keras Tuner's four tuners, each with the bookkeeping and crash safety this tool adds.

What `_TrialBookkeeping` changes in Keras Tuner's `Tuner.run_trial`:
  * the kept weights are saved once, after training ends (the restored best epoch with early
    stopping on, the last epoch with it off), instead of at every improving epoch; they are
    written to a temporary file and renamed, and a stale checkpoint of an earlier attempt of the
    same trial is deleted first, so a trial that fails never leaves weights behind;
  * every epoch's training and validation metrics are written to `histories/<trial>.json`
    (Keras Tuner keeps only the best epoch's), with the trial's wall time and epochs run;
  * each trial gets its own seed, so a trial repeats exactly, even after `--resume`;
  * the previous trials' traced graphs are released (`_forget_custom_gradients`), so a long
    search does not grow the process by a few MB per trial;
  * one console line per finished trial, and on a terminal one updating line of the epochs
    of a trial that runs longer than a few seconds (`tuning.search.callbacks`);
  * progress.html rewritten after every trial (`tuning.search.progress`);
  * with --tensorboard, TensorBoard's per-epoch logs and the trial's HParams;
  * a full disk while a trial's files are written stops the search (a Keras Tuner
    `FatalError`) instead of recording the trial as failed: it stays unfinished, and
    `--resume` runs it again once there is space.

The oracles that make a run resumable are in `tuning.search.oracles`.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from common import compat
from common.errors import DiskFullError, is_disk_full
from common.files import write_json
from reports.console import trial_line
from reports.scores import ScoreScale
from tuning.config import RunConfig
from tuning.interrupts import interrupt_requested
from tuning.parallel.chief import is_chief
from tuning.search.callbacks import EpochLine, TensorBoardLogs
from tuning.search.oracles import (
    BayesianOracle,
    GridOracle,
    HyperbandOracle,
    RandomOracle,
    warm_up_trials,
    write_state,
)

# Unexpected errors keep their traceback in histories/trial_<id>.json instead.
compat.quiet_failed_trials()


class EpochLog(keras.callbacks.Callback):
    """Keeps every epoch's logs (loss, metric, val_loss, val_metric)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


class StopOnInterrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the end of an epoch once Ctrl-C was pressed, in case the
    signal's own KeyboardInterrupt was lost in a finalizer (`tuning.interrupts`)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if interrupt_requested():
            raise KeyboardInterrupt


def kept_epoch(history: dict[str, list[float]], early_stopping: bool) -> int | None:
    """1-based epoch whose weights are kept: the lowest val_loss, or the last without early
    stopping."""
    val = history.get("val_loss") or []
    if not val:
        return None
    if not early_stopping:
        return len(val)
    finite = [(v, i) for i, v in enumerate(val) if math.isfinite(v)]
    return min(finite)[1] + 1 if finite else None


class DiskFullDuringTrial(DiskFullError, kt.errors.FatalError):
    """A full disk in a trial: Keras Tuner lets a `FatalError` end the search, trial unended."""


# --------------------------------------------------------------------------------------------
# Tuners


class _TrialBookkeeping:
    """Mixed into a Keras Tuner tuner class; see the module docstring."""

    score_scale = ScoreScale()  # how the console's trial lines read scores; set by make_tuner
    live: Callable[[str], None] | None = None  # the terminal's updating line; set by make_tuner
    progress: Any = None  # the run's `ProgressPage`, when this process writes one

    def __init__(
        self,
        oracle: kt.Oracle,
        hypermodel: kt.HyperModel,
        config: RunConfig,
        run_dir: Path,
        report: Callable[[str], None],
    ) -> None:
        self._config = config
        self._tensorboard = (TensorBoardLogs(config.tensorboard, run_dir.name, report)
                             if config.tensorboard else None)
        self._history_dir = run_dir / "histories"
        self._predictions_dir = run_dir / "predictions"
        self._report = report
        self._started = time.perf_counter()
        self._history_dir.mkdir(parents=True, exist_ok=True)
        self._predictions_dir.mkdir(parents=True, exist_ok=True)
        project = run_dir / "keras_tuner"
        tuner_file = project / f"{os.environ.get('KERASTUNER_TUNER_ID', 'tuner0')}.json"
        if config.resume and (project / "oracle.json").exists() and not tuner_file.exists():
            # Keras Tuner reloads only when the tuner's file exists, which is first written
            # after oracle.json at the end of the first trial; a kill in between would
            # otherwise start the search over. The tuner's own state is empty.
            write_state(tuner_file, {})
        # The tuner classes' own __init__ only builds an oracle; ours is built by make_tuner.
        # Keras Tuner prints "Reloading Tuner from ..." itself; our own line says more.
        with contextlib.redirect_stdout(io.StringIO()):
            kt.Tuner.__init__(
                self,
                oracle=oracle,
                hypermodel=hypermodel,
                directory=str(run_dir),
                project_name="keras_tuner",
                # A worker shares the chief's project folder: never wipe it.
                overwrite=not (config.resume or config.worker),
            )
        self._ended_before = len(self.oracle.end_order) if not config.worker else 0

    def _populate_initial_space(self) -> None:
        """Learn the search space from `declare_hyperparameters` alone.

        `MLPHyperModel.declare_hyperparameters` declares every hyperparameter, the conditional
        `units_i` included, in the order `build` reads them. Keras Tuner's own version then
        builds and compiles a model for each number of layers to find conditional
        hyperparameters, which here are all known already, and costs every process time.
        """
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def save(self) -> None:
        if not self._is_worker():
            self.oracle.save()
        write_state(self._get_tuner_fname(), self.get_state())

    def run_trial(
        self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any
    ) -> dict[str, float]:
        hp = trial.hyperparameters
        if "tuner/epochs" in hp.values:  # Hyperband's bracket schedule, as kt.Hyperband does
            kwargs["epochs"] = hp.values["tuner/epochs"]
            kwargs["initial_epoch"] = hp.values["tuner/initial_epoch"]
        checkpoint = Path(self._get_checkpoint_fname(trial.trial_id))
        checkpoint.unlink(missing_ok=True)  # an earlier, killed attempt's weights
        compat.forget_custom_gradients()  # before _try_build's clear_session and gc.collect
        keras.utils.set_random_seed(self._config.seed * 1000 + int(trial.trial_id))
        if interrupt_requested():  # Ctrl-C was pressed and lost between trials
            raise KeyboardInterrupt
        log = EpochLog()
        line = (EpochLine(trial.trial_id, kwargs.get("epochs", self._config.epochs), self.live,
                          self.score_scale) if self.live is not None else None)
        shown = [line] if line is not None else []
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), log, *shown, StopOnInterrupt()]
        start = time.perf_counter()
        message, details, best, fold_records = "", "", None, None
        disk_full = False
        try:
            if self._tensorboard is not None:
                kwargs["callbacks"][:0] = self._tensorboard.callbacks(trial.trial_id, hp.values)
            with warnings.catch_warnings():
                # Hyperband continues a trial from its weights only; its optimizer starts afresh.
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model = compat.build(self, hp)
            outcome = self.hypermodel.fit(hp, model, *args, **kwargs)
            folds = outcome.get("folds")
            best = kept_epoch(log.history, self._config.patience > 0)
            if best is None:
                raise kt.errors.FailedTrialError("no finite validation loss was recorded")
            score = log.history["val_loss"][best - 1]
            if folds is not None:  # cross-validated: the mean of each fold's best held-out loss
                score, best = folds.score, int(np.median(folds.best_epochs)) + 1
                fold_records = [
                    {"history": h, "best_epoch": b + 1, "score": s}
                    for h, b, s in zip(folds.histories, folds.best_epochs, folds.fold_scores,
                                       strict=True)
                ]
            _save_weights(model, checkpoint)
            write_json(self._get_build_config_fname(trial.trial_id), model.get_build_config())
            held_out = self.hypermodel.selection_output(
                hp, model, args[0], kwargs["validation_data"])
            _save_array(self._predictions_dir / f"trial_{trial.trial_id}.npy", held_out)
            return {"val_loss": score}
        except kt.errors.FailedTrialError as exc:
            message = str(exc)
            raise
        except Exception as exc:
            if interrupt_requested():
                # The signal's KeyboardInterrupt raised inside C code that turned it into
                # another error (seen: "SystemError: Objects/listobject.c:338: bad argument to
                # internal function"): the trial was interrupted, not failed.
                message = "interrupted before it finished; --resume runs it again"
                raise KeyboardInterrupt from exc
            if is_disk_full(exc):
                disk_full = True  # not this trial's fault: it runs again after --resume
                raise self._disk_full(exc, trial.trial_id) from exc
            message, details = f"{type(exc).__name__}: {exc}", traceback.format_exc()
            raise
        except BaseException:  # Ctrl-C: the trial did not finish; --resume runs it again
            message = "interrupted before it finished; --resume runs it again"
            raise
        finally:
            if line is not None:
                line.clear()  # before the trial's own line, or any other
            record = {
                "trial_id": trial.trial_id,
                "seconds": time.perf_counter() - start,
                "epochs": len(log.history.get("loss", [])),
                "best_epoch": best or kept_epoch(log.history, self._config.patience > 0),
                "message": message,
                "history": log.history,
            }
            if fold_records:
                record["folds"] = fold_records
            if details:
                record["traceback"] = details
            if not disk_full:
                try:
                    write_json(self._history_dir / f"trial_{trial.trial_id}.json", record)
                except OSError as exc:
                    if is_disk_full(exc):
                        raise self._disk_full(exc, trial.trial_id) from exc
                    raise

    def _disk_full(self, error: OSError, trial_id: str) -> DiskFullDuringTrial:
        return DiskFullDuringTrial.in_run(self._history_dir.parent, error,
                                          f"trial {trial_id}'s results")

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_end(trial)
        if self._is_worker():  # the oracle is the chief's, over gRPC: the chief reports progress
            self._report(f"trial {trial.trial_id} {trial.status.lower()}")
        elif not is_chief(self._config):  # a chief reports every process's trials in end order
            self.show_progress()
            self._report(self._trial_line(trial))

    def show_progress(self) -> None:
        """Rewrite progress.html, when this process keeps one."""
        if self.progress is not None:
            self.progress.update()

    def _trial_line(self, trial: kt.engine.trial.Trial) -> str:
        oracle = self.oracle
        # Its place among the ended trials: with --workers, another may end before this prints.
        ended = oracle.end_order
        done = ended.index(trial.trial_id) + 1 if trial.trial_id in ended else len(ended)
        path = self._history_dir / f"trial_{trial.trial_id}.json"
        seconds = json.loads(path.read_text())["seconds"] if path.exists() else None
        # get_best_trials falls back to failed trials when none completed: filter them out.
        best = [t for t in oracle.get_best_trials(1) if t.status == "COMPLETED"]
        ended_trial = oracle.trials[trial.trial_id]
        return trial_line(
            trial.trial_id,
            ended_trial.status,
            ended_trial.score,
            (best[0].trial_id, best[0].score) if best else None,
            seconds,
            done,
            self._config.max_trials,
            self._time_left(done),
            self.score_scale,
            getattr(oracle, "proposed", {}).get(trial.trial_id, ""),
        )

    def _time_left(self, done: int) -> str:
        """About how long the rest of the search takes, at this session's pace so far.

        Hyperband's trials grow longer round by round (and --max-trials is only its cap), so
        its pace says little about the rest: no estimate.
        """
        ended_here = done - self._ended_before
        left = self._config.max_trials - done
        if self._config.tuner == "hyperband" or ended_here < 1 or left < 1:
            return ""
        pace = (time.perf_counter() - self._started) / ended_here
        return f"~{_duration(pace * left)} left"


def _duration(seconds: float) -> str:
    """'45 s', '3 min 05 s', '1 h 02 min'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _save_weights(model: keras.Model, path: Path) -> None:
    """`model.save_weights`, atomically (Keras wants the name to end in .weights.h5)."""
    tmp = path.with_name(f".{os.getpid()}.tmp.weights.h5")
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _save_array(path: Path, values: np.ndarray) -> None:
    """`np.save`, atomically."""
    tmp = path.with_name(f".{os.getpid()}.tmp.npy")
    try:
        np.save(tmp, values)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _bookkept(base: type) -> type:
    return type(f"Bookkept{base.__name__}", (_TrialBookkeeping, base), {})


_CLASSES = {
    "random": (_bookkept(kt.RandomSearch), RandomOracle),
    "grid": (_bookkept(kt.GridSearch), GridOracle),
    "bayesian": (_bookkept(kt.BayesianOptimization), BayesianOracle),
    "hyperband": (_bookkept(kt.Hyperband), HyperbandOracle),
}


def make_tuner(
    config: RunConfig,
    hypermodel: kt.HyperModel,
    run_dir: Path,
    report: Callable[[str], None] = print,
    score_scale: ScoreScale | None = None,
    live: Callable[[str], None] | None = None,
    linear_l2: float | None = None,
) -> kt.Tuner:
    """The tuner `config.tuner` names, keeping its state in `<run_dir>/keras_tuner`.

    `score_scale` says how its console lines show scores (regression: RMSE in the target's
    units); None shows the objective as it is. `live` shows a long trial's epochs on one
    updating line (`reports.console.TerminalLine`); None shows none. `linear_l2` is the L2
    penalty of the linear starting points (`tuning.search.oracles.baseline_l2`).

    Every tuner minimizes validation loss. Hyperband runs its bracket schedule with
    `max_epochs = --epochs` and factor 3, and stops after `--max-trials` trials at most.
    A trial that fails (for instance a diverging loss) is recorded and the search goes on:
    it stops early only if every trial fails. With `config.resume` the search state in
    `run_dir` is reloaded (see the module docstring).

    Raises:
        ConfigError: when resuming and the saved search state cannot be read.
    """
    common: dict[str, Any] = dict(
        objective="val_loss",
        # Keras Tuner reads seed 0 as "no seed" and draws one: shift it to keep it explicit.
        seed=config.seed + 1,
        # Never abort on a run of failed trials: each is recorded, and the search goes on.
        max_consecutive_failed_trials=config.max_trials + 1,
    )
    warning = compat.version_warning()
    if warning:
        report(f"warning: {warning}")
    tuner_class, oracle_class = _CLASSES[config.tuner]
    if config.tuner == "hyperband":
        oracle = oracle_class(max_epochs=max(config.epochs, 2), factor=3, **common)
        oracle.max_trials = config.max_trials
    elif config.tuner == "bayesian":
        oracle = oracle_class(max_trials=config.max_trials,
                              num_initial_points=warm_up_trials(config.max_trials), **common)
    else:
        oracle = oracle_class(max_trials=config.max_trials, **common)
    if linear_l2 is not None:
        oracle.linear_l2 = linear_l2
    tuner = tuner_class(oracle, hypermodel, config, run_dir, report)
    if score_scale is not None:
        tuner.score_scale = score_scale
    tuner.live = live
    if config.resume and tuner.oracle.start_order:
        report(tuner.oracle.resume_summary())
    return tuner
