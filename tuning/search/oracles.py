"""Keras Tuner's oracles, made resumable after a kill at any moment.

What `_ResumableOracle` changes in Keras Tuner 1.4.8's oracles, so that `--resume` continues a
run killed at any moment (even by SIGKILL):
  * every state file (`oracle.json`, `trial_<id>/trial.json`, the tuner's `tuner0.json`) is
    written to a temporary file and renamed (Keras Tuner's `utils.save_json` writes in place, so
    a kill can leave a torn file that no longer loads);
  * on reload, the trial files and `oracle.json` are reconciled: they are two files written one
    after the other, so a kill can fall between them (see `_ResumableOracle._reconcile`);
  * a trial that was running when the process died is run again from scratch (Keras Tuner
    already queues it for a retry, but keeps the metrics the dead attempt reported, which would
    be averaged into the new score);
  * GridSearch's walk through the grid (`_ordered_ids`, `_populate_next`) is saved, which Keras
    Tuner forgets (keras-team/keras-tuner#1055: a resumed grid search dies with a KeyError);
  * BayesianOptimization's random-number generator is saved, so a resumed search proposes what
    the uninterrupted one would have.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
from typing import Any

import keras_tuner as kt
import numpy as np

from common import compat
from common.errors import ConfigError
from common.files import write_text

_DONE = ("COMPLETED", "FAILED")


def write_state(path: str | os.PathLike[str], state: Any) -> None:
    """Keras Tuner's `utils.save_json`, but atomic: the old file or the whole new one."""
    write_text(path, json.dumps(state))


class _ResumableOracle:
    """Mixed into a Keras Tuner oracle class; see the module docstring."""

    def save(self) -> None:
        write_state(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial: kt.engine.trial.Trial) -> None:
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        write_state(path, trial.get_state())

    def reload(self) -> None:
        try:
            super().reload()
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ConfigError(
                f"Cannot resume: the search state in '{self._project_dir}' cannot be read "
                f"({type(exc).__name__}: {exc}). Start a new run with another --name."
            ) from None
        self._reconcile()

    def _reconcile(self) -> None:
        """Make the trial files and oracle.json agree after a kill at any moment.

        `create_trial` writes the new trial's trial.json, then oracle.json; `end_trial` writes
        the ended trial's trial.json, then oracle.json. So on disk:
          * a trial.json that oracle.json never heard of is a trial that never started: it is
            forgotten, and its id and values are drawn again (the oracle's random state is
            the one saved before the draw, so they come out the same);
          * a trial that oracle.json calls running but whose trial.json says it ended did end:
            it is counted as ended, not run twice;
          * any other trial that started but did not end is run again, from scratch.
        """
        started = set(self.start_order)
        for trial_id in [t for t in self.trials if t not in started]:
            del self.trials[trial_id]
            with contextlib.suppress(OSError):
                os.remove(os.path.join(self._project_dir, f"trial_{trial_id}", "trial.json"))
        missing = [t for t in self.start_order if t not in self.trials]
        if missing:
            raise ConfigError(
                f"Cannot resume: the search state in '{self._project_dir}' lists trial(s) "
                f"{', '.join(missing)} but their trial.json files are gone. Start a new run "
                "with another --name."
            )
        ended = set(self.end_order)
        rerun: list[str] = []
        for trial_id in self.start_order:
            if trial_id in ended:
                continue
            trial = self.trials[trial_id]
            if trial.status in _DONE:
                self.end_order.append(trial_id)
                self._run_times[trial_id] = max(1, self._run_times[trial_id])
            else:
                trial.status = "RUNNING"
                trial.metrics = compat.new_metrics_tracker()
                trial.score, trial.best_step, trial.message = None, 0, None
                rerun.append(trial_id)
        self._retry_queue = [t for t in self._retry_queue if t in rerun]
        self._retry_queue += [t for t in rerun if t not in self._retry_queue]
        self.ongoing_trials = {}
        self._after_reconcile()

    def _after_reconcile(self) -> None:
        """Repairs of an oracle's own state after `_reconcile`; nothing by default."""

    def resume_summary(self) -> str:
        """One line on what a reloaded oracle found."""
        statuses = collections.Counter(self.trials[t].status for t in self.end_order)
        rerun = len(self._retry_queue)
        return (
            f"resume: {len(self.end_order)} trial(s) already done ({statuses['COMPLETED']} "
            f"completed, {statuses['FAILED']} failed)"
            + (f"; {rerun} interrupted trial(s) will run again" if rerun else "")
        )


class RandomOracle(_ResumableOracle, kt.oracles.RandomSearchOracle):
    """Random search; its random state (`_seed_state`) is already part of oracle.json."""


class HyperbandOracle(_ResumableOracle, kt.oracles.HyperbandOracle):
    """Hyperband; its brackets are already part of oracle.json."""


class BayesianOracle(_ResumableOracle, kt.oracles.BayesianOptimizationOracle):
    """Bayesian optimization that saves the NumPy generator behind its proposals, and never
    proposes a value set it already tried.

    Keras Tuner's Gaussian-process step does not check for repeats (its random start does), so
    on a small or discrete space it proposes the best-known values again and again, spending the
    trial budget on copies. A repeat is replaced by an untried random value set.
    """

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        response = super().populate_space(trial_id)
        values = response.get("values")
        if response["status"] == "RUNNING" and values is not None and self._duplicate(values):
            return self._random_populate_space()
        return response

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        name, keys, pos, has_gauss, cached = self._random_state.get_state()
        state["random_state"] = [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        if "random_state" in state:
            name, keys, pos, has_gauss, cached = state["random_state"]
            self._random_state.set_state(
                (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached)
            )


class GridOracle(_ResumableOracle, kt.oracles.GridSearchOracle):
    """Grid search that saves where it is in the grid (keras-team/keras-tuner#1055)."""

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["grid"] = {
            **compat.grid_walk_state(self._ordered_ids),
            "populate_next": list(self._populate_next),
        }
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        grid = state.get("grid")
        if grid is None:  # oracle.json written by plain Keras Tuner: rebuild the walk
            self._rebuild_grid_walk()
            return
        self._ordered_ids = compat.grid_walk_from_state(grid)
        self._populate_next = list(grid["populate_next"])

    def _rebuild_grid_walk(self) -> None:
        def compare(a: str, b: str) -> int:
            return self._compare(self.trials[a].hyperparameters.values,
                                 self.trials[b].hyperparameters.values)

        self._ordered_ids = compat.grid_walk(
            sorted(self.start_order, key=functools.cmp_to_key(compare))
        )
        self._populate_next = list(self.end_order)

    def _after_reconcile(self) -> None:
        # GridSearchOracle.end_trial queues the ended trial only after end_trial has saved
        # oracle.json; the tuner's save that follows may never happen. Queue every ended trial
        # that is not queued: one whose successor was already proposed is skipped when popped
        # (populate_space finds its next combination already in the walk).
        self._populate_next += [t for t in self.end_order if t not in self._populate_next]
