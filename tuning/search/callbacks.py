"""Callbacks a trial may get besides its bookkeeping: the console's updating epoch line, and
TensorBoard's logs with the trial's hyperparameters (`--tensorboard`).

Our training loops (`models.training`, `models.fold_training`) call callbacks once per epoch
only (`on_train_begin`, `on_epoch_begin`, `on_epoch_end`, `on_train_end`); both kinds here need
nothing else.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from reports.console import epoch_line
from reports.scores import ScoreScale

# A trial shows its epoch line once it has trained this long: quick trials print nothing extra.
EPOCH_LINE_AFTER_SECONDS = 3.0
# At most one rewrite of the line per this many seconds, however fast the epochs go.
EPOCH_LINE_EVERY_SECONDS = 0.5


class EpochLine(keras.callbacks.Callback):
    """Shows a long trial's latest epoch on one console line that rewrites itself.

    Args:
        trial_id: Keras Tuner's id of the trial.
        epochs: the most epochs the trial may run.
        show: where the line goes: called with the line's text, and with "" to blank it
            (`reports.console.TerminalLine`).
        scale: how scores read (regression: RMSE in the target's units).
        after: seconds of training before the line first shows. Defaults to
            `EPOCH_LINE_AFTER_SECONDS`.
        every: least seconds between two rewrites. Defaults to `EPOCH_LINE_EVERY_SECONDS`.
        clock: the time in seconds (tests pass their own).
    """

    def __init__(
        self,
        trial_id: str,
        epochs: int,
        show: Callable[[str], None],
        scale: ScoreScale = ScoreScale(),  # noqa: B008 - frozen
        after: float | None = None,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._trial_id, self._epochs, self._show, self._scale = trial_id, epochs, show, scale
        self._after = EPOCH_LINE_AFTER_SECONDS if after is None else after
        self._every = EPOCH_LINE_EVERY_SECONDS if every is None else every
        self._clock = clock
        self._started = clock()
        self._shown_at: float | None = None  # when the line was last written; None: not shown
        self._best: tuple[int, float] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get("val_loss")
        val_loss = float(value) if value is not None and math.isfinite(value) else None
        if val_loss is not None and (self._best is None or val_loss < self._best[1]):
            self._best = (epoch + 1, val_loss)
        now = self._clock()
        if now - self._started < self._after:
            return
        if self._shown_at is not None and now - self._shown_at < self._every:
            return
        self._show(epoch_line(self._trial_id, epoch + 1, self._epochs, val_loss, self._best,
                              self._scale))
        self._shown_at = now

    def clear(self) -> None:
        """Blank the line, if it was shown, before the trial's own line is printed."""
        if self._shown_at is not None:
            self._show("")
            self._shown_at = None


class TensorBoardLogs:
    """The --tensorboard folder of one run: each trial's callbacks, or none once the folder
    turned out unwritable (one warning; the search goes on without logs, not without trials).

    Args:
        root: the --tensorboard folder.
        run_name: the run folder's name.
        report: where the warning goes.
    """

    def __init__(self, root: str | Path, run_name: str, report: Callable[[str], None]) -> None:
        self._root, self._run_name, self._report = root, run_name, report
        self._broken = False

    def callbacks(self, trial_id: str, hyperparameters: dict[str, Any]
                  ) -> list[keras.callbacks.Callback]:
        if self._broken:
            return []
        log_dir = tensorboard_dir(self._root, self._run_name, trial_id)
        try:
            return tensorboard_callbacks(log_dir, trial_id, hyperparameters)
        except Exception as exc:  # noqa: BLE001 - TensorFlow's own errors (NotFoundError, ...)
            self._broken = True
            self._report(f"warning: cannot write TensorBoard logs to {log_dir} "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); the "
                         "search goes on without them")
            return []


def tensorboard_dir(root: str | Path, run_name: str, trial_id: str) -> Path:
    """Where one trial's TensorBoard logs go: `<root>/<run name>/trial_<id>`, so the runs that
    share a --tensorboard folder keep their trials apart."""
    return Path(root) / run_name / f"trial_{trial_id}"


def tensorboard_callbacks(
    log_dir: Path, trial_id: str, hyperparameters: dict[str, Any]
) -> list[keras.callbacks.Callback]:
    """Keras' TensorBoard callback (per-epoch scalars in `train/` and `validation/`) and the
    HParams plugin's callback (the trial's hyperparameters), as Keras Tuner adds them.

    An earlier attempt's logs of the same trial (cut off, then resumed) are deleted first, so
    its curves do not mix with this attempt's.
    """
    from tensorboard.plugins.hparams import api as hparams_api

    shutil.rmtree(log_dir, ignore_errors=True)
    hparams = {name: _hparam_value(value) for name, value in hyperparameters.items()
               if not name.startswith("tuner/")}
    return [
        # No graph: it is written on the first batch, which our epoch loop does not report.
        keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False, profile_batch=0),
        hparams_api.KerasCallback(str(log_dir), hparams, trial_id=trial_id),
    ]


def _hparam_value(value: Any) -> bool | int | float | str:
    """HParams takes bool, int, float or str: NumPy scalars become Python's, others text."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    return value if isinstance(value, (bool, int, float, str)) else str(value)
