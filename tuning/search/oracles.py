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
import warnings
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


# A starting point's "l2" that stands for the linear baseline's penalty on this table's rows
# (`baseline_l2`), set on the oracle as `linear_l2`; 1e-4 where it is not known.
BASELINE_L2 = "baseline"
_DEFAULT_LINEAR_L2 = 1e-4


def baseline_l2(rows: int, regression: bool) -> float:
    """The L2 penalty λ (loss + λ·Σw², the loss a mean over `rows` rows) that makes a linear
    model's objective scikit-learn's for the linear baseline: LogisticRegression's default C = 1
    (C·Σ loss + ½·Σw², so λ = 1 / (2·rows)) or Ridge's alpha = 1 on the standardized target
    (Σ squared error + Σw², so λ = 1 / rows)."""
    rows = max(int(rows), 1)
    return 1.0 / rows if regression else 1.0 / (2 * rows)


# Known-good configurations every random and Bayesian search starts from, in this order
# (chosen on the quality benchmark's tables with benchmarks/starting_points.py: README,
# "Quality"). `units` applies to every hidden layer. A value the search space does not allow
# is replaced by the closest one it does.
STARTING_POINTS: tuple[dict[str, Any], ...] = (
    dict(layers=1, units=256, activation="relu", optimizer="adam", learning_rate=3e-3,
         batch_size=32, l2=1e-4, dropout=0.2, numeric_encoding="standard", l1=0.0),
    dict(layers=1, units=256, activation="relu", optimizer="adam", learning_rate=3e-3,
         batch_size=32, l2=1e-4, dropout=0.2, numeric_encoding="ple", l1=0.0),
    dict(layers=2, units=256, activation="relu", optimizer="adam", learning_rate=1e-3,
         batch_size=32, l2=1e-4, dropout=0.3, numeric_encoding="standard", l1=0.0),
    # The first with an L1 penalty on the inputs' weights: where most columns carry no signal
    # the network must learn to ignore them (gradient boosting does so by never splitting on
    # them). 3e-3: the best of 1e-3, 3e-3 and 1e-2 on a generated table of 5 informative and
    # 75 noise columns (README, "Quality").
    dict(layers=1, units=256, activation="relu", optimizer="adam", learning_rate=3e-3,
         batch_size=32, l2=1e-4, dropout=0.2, numeric_encoding="standard", l1=3e-3),
    # No hidden layer: logistic, softmax or linear regression on the encoded inputs (with
    # piecewise-linear inputs, an additive model of piecewise-linear curves). The networks
    # above must beat it to matter, and ensemble selection can mix it in where a table is
    # nearly linear. Run whenever the space's smallest `layers` is at most 1 (see
    # `_starting_values`).
    # Learning rates from a grid of 1e-2, 3e-2 and 1e-1 on breast_cancer, iris, wine and HMDA:
    # at 1e-2 the small tables' few steps per epoch left the model short of converged. Their
    # L2 penalty is the linear baseline's (`baseline_l2`): on a table with more columns than
    # rows a fixed 1e-4 let them fit noise.
    dict(layers=0, optimizer="adam", learning_rate=1e-1, batch_size=32, l2=BASELINE_L2,
         numeric_encoding="standard", l1=0.0),
    dict(layers=0, optimizer="adam", learning_rate=3e-2, batch_size=32, l2=BASELINE_L2,
         numeric_encoding="ple", l1=0.0),
)


def _allowed(hp: Any, wanted: Any) -> Any:
    """`wanted` if the hyperparameter allows it, else the closest value it does allow."""
    config = hp.get_config()
    if "value" in config and "values" not in config and "min_value" not in config:
        return hp.value  # Fixed
    if wanted is None:
        return hp.default
    if "values" in config:  # Choice
        values = list(config["values"])
        if wanted in values:
            return wanted
        if isinstance(wanted, (int, float)) and all(isinstance(v, (int, float)) for v in values):
            return min(values, key=lambda v: abs(np.log(max(v, 1e-12) / max(wanted, 1e-12))))
        return hp.default
    low, high, step = config["min_value"], config["max_value"], config.get("step")
    value = min(max(wanted, low), high)
    if step:
        if config.get("sampling") == "log":
            value = low * step ** round(np.log(value / low) / np.log(step))
        else:
            value = low + step * round((value - low) / step)
        value = round(min(max(value, low), high), 12)
    return int(round(value)) if isinstance(low, int) and isinstance(high, int) else float(value)


class _StartingPoints:
    """Mixed into the random and Bayesian oracles: the first trials are `STARTING_POINTS`, and
    every trial remembers who proposed it ("start", "random" or "model"), for the console."""

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        index = int(trial_id)
        if index < len(STARTING_POINTS):
            values = self._starting_values(STARTING_POINTS[index])
            if values is not None and not self._duplicate(values):
                self._proposed_by(trial_id, "start")
                return {"status": "RUNNING", "values": values}
        response, source = self._propose(trial_id)
        if response.get("status") == "RUNNING":
            self._proposed_by(trial_id, source)
        return response

    def _propose(self, trial_id: str) -> tuple[dict[str, Any], str]:
        """The oracle's own proposal after the starting points, and who made it."""
        return super().populate_space(trial_id), "random"

    # The linear baseline's L2 penalty on the rows each network trains on (`baseline_l2`),
    # set by `make_tuner`; None: `_DEFAULT_LINEAR_L2`.
    linear_l2: float | None = None

    def _starting_values(self, point: dict[str, Any]) -> dict[str, Any] | None:
        hps = kt.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                name = "units" if hp.name.startswith("units_") else hp.name
                wanted = point.get(name)
                if wanted == BASELINE_L2:
                    wanted = self.linear_l2 or _DEFAULT_LINEAR_L2
                hps.values[hp.name] = _allowed(hp, wanted)
                if name == "layers" and point.get(name) == 0:
                    # `_allowed` gave the space's shallowest depth, the closest to 0.
                    if isinstance(hp, kt.engine.hyperparameters.Fixed) or hps.values[name] > 1:
                        return None  # the space fixes the depth or asks for deeper networks
                    # The built-in range starts at 1: the linear model is its shallowest
                    # extension, outside the range on purpose.
                    hps.values[name] = 0
        return hps.values

    def _proposed_by(self, trial_id: str, source: str) -> None:
        if not hasattr(self, "proposed"):
            self.proposed = {}
        self.proposed[trial_id] = source

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["proposed"] = dict(getattr(self, "proposed", {}))
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.proposed = dict(state.get("proposed", {}))


class RandomOracle(_ResumableOracle, _StartingPoints, kt.oracles.RandomSearchOracle):
    """Random search; its random state (`_seed_state`) is already part of oracle.json."""


class HyperbandOracle(_ResumableOracle, kt.oracles.HyperbandOracle):
    """Hyperband; its brackets are already part of oracle.json."""


# Random candidates the Gaussian process scores per proposal, and how many of the best are
# refined by L-BFGS.
_CANDIDATES = 2000
_REFINED = 2


def warm_up_trials(max_trials: int) -> int:
    """Completed trials the Bayesian search draws at random before its model proposes any:
    a third of the budget, at least 3 (Keras Tuner's default, 3 per hyperparameter, is more
    than a whole default search)."""
    return max(3, max_trials // 3)


class BayesianOracle(_ResumableOracle, _StartingPoints, kt.oracles.BayesianOptimizationOracle):
    """Bayesian optimization that saves the NumPy generator behind its proposals, never
    proposes a value set it already tried, and models the logarithm of the loss.

    Keras Tuner's Gaussian-process step does not check for repeats (its random start does), so
    on a small or discrete space it proposes the best-known values again and again, spending the
    trial budget on copies. A repeat is replaced by an untried random value set. Losses span
    orders of magnitude (a diverging trial's is 100× a good one's), which a Gaussian process on
    raw values fits badly: it sees their logarithm.
    """

    def _propose(self, trial_id: str) -> tuple[dict[str, Any], str]:
        completed = sum(t.status == "COMPLETED" for t in self.trials.values())
        # Keras Tuner's rule in BayesianOptimizationOracle.populate_space.
        warm_up = self.num_initial_points or max(3 * len(self.hyperparameters.space), 3)
        if completed < warm_up:
            return self._random_populate_space(), "random"
        values = self._model_values()
        if values is None or self._duplicate(values):
            return self._random_populate_space(), "random"
        return {"status": "RUNNING", "values": values}, "model"

    def _model_values(self) -> dict[str, Any] | None:
        """The values whose upper confidence bound on the loss is lowest.

        Keras Tuner minimizes the bound with L-BFGS from 50 random starts, which took seconds
        per proposal; here the Gaussian process scores many random candidates at once, and the
        best two are refined with L-BFGS.
        """
        import scipy.optimize
        import sklearn.exceptions

        x, y = self._vectorize_trials()
        if not len(x) or not x.shape[1]:
            return None
        with warnings.catch_warnings():
            # scikit-learn's note that a length scale reached its bound is not the user's
            # business: the fit is still the best the bounds allow.
            warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
            self.gpr.fit(np.nan_to_num(x, posinf=0, neginf=0),
                         np.nan_to_num(y, posinf=0, neginf=0))
        bounds = self._get_hp_bounds()
        candidates = self._random_state.uniform(
            bounds[:, 0], bounds[:, 1], size=(_CANDIDATES, bounds.shape[0]))

        def bound(points: np.ndarray) -> np.ndarray:
            mean, std = self.gpr.predict(points.reshape(-1, bounds.shape[0]), return_std=True)
            return np.ravel(mean) - self.beta * np.ravel(std)

        scores = bound(candidates)
        best_x, best_score = candidates[np.argmin(scores)], float(np.min(scores))
        for start in candidates[np.argsort(scores)[:_REFINED]]:
            found = scipy.optimize.minimize(lambda v: float(bound(v)[0]), x0=start,
                                            bounds=bounds, method="L-BFGS-B")
            if float(np.ravel(found.fun)[0]) < best_score:
                best_x, best_score = found.x, float(np.ravel(found.fun)[0])
        return self._vector_to_values(best_x)

    def _vectorize_trials(self) -> tuple[np.ndarray, np.ndarray]:
        """Keras Tuner's own, but a completed trial's score enters as log(loss), and a trial
        outside the space (the linear starting points: `layers` 0) is left out: the Gaussian
        process models the space it proposes from."""
        x, y = [], []
        ongoing = set(self.ongoing_trials.values())
        # In trial order: a resumed oracle's dict may list them otherwise, and the fit differs.
        for trial in sorted(self.trials.values(), key=lambda t: int(t.trial_id)):
            hps = trial.hyperparameters
            vector = [
                hp.value_to_prob(
                    hps.values[hp.name] if hps.is_active(hp) and hp.name in hps.values
                    else hp.default
                )
                for hp in self._nonfixed_space()
            ]
            if not all(0.0 <= v <= 1.0 for v in vector):
                continue  # a starting point outside the space (the linear model): not modelled
            if trial in ongoing:  # a pessimistic guess, so parallel workers get other values
                mean, std = self.gpr.predict(np.array(vector).reshape(1, -1), return_std=True)
                score = float(np.ravel(mean)[0] + np.ravel(std)[0])
            elif trial.status == "COMPLETED" and trial.score is not None:
                score = float(np.log(max(float(trial.score), 1e-12)))
            else:
                continue
            x.append(vector)
            y.append(score)
        return np.array(x), np.array(y)

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
