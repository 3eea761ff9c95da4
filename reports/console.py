"""The console's line per ended trial: its Keras Tuner trial id, its score, the best so far, and
the search's progress counted apart, so that `trial 07` always means the same trial as in
trials.csv, histories/trial_07.json and the report; and, on a terminal, the one updating line
of the trial still training."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from reports.scores import ScoreScale


def trial_line(
    trial_id: str,
    status: str,
    score: float | None,
    best: tuple[str, float] | None,
    seconds: float | None,
    done: int,
    total: int,
    time_left: str = "",
    scale: ScoreScale = ScoreScale(),  # noqa: B008 - frozen, so one shared default is safe
    source: str = "",
) -> str:
    """`trial 07  model   val_loss 0.1807  best 0.1807 (trial 03)   1.1 s   8/20 done  ~11 s left`.

    Args:
        trial_id: Keras Tuner's id of the trial that ended.
        status: its status ("COMPLETED", "FAILED", ...).
        score: its objective when it completed.
        best: the best completed trial so far (id, objective), if any.
        seconds: its wall time, when known.
        done: trials ended so far, this one included.
        total: --max-trials.
        time_left: the estimate of the rest's time, e.g. "~11 s left"; empty for none.
        scale: how scores read (regression: RMSE in the target's units). Defaults to as is.
        source: who proposed the trial: "start" (a known-good starting point), "random" or
            "model" (the Bayesian model); empty when the tuner does not say.
    """
    head = scale.text(score) if status == "COMPLETED" and score is not None else status.lower()
    best_text = f"best {scale.value_text(best[1])} (trial {best[0]})" if best else "best -"
    took = f"{seconds:6.1f} s" if seconds is not None else "     -"
    # Padded so that the columns line up past trial 9 of 10 and 99 of 100.
    count = f"{done:>{len(str(total))}}/{total} done"
    left = f"   {time_left}" if time_left else ""
    proposed = f"{source:<7}" if source else ""
    width = 18 if scale.transform == "none" else 24
    return f"trial {trial_id:<3} {proposed}{head:<{width}} {best_text:<26} {took}   {count}{left}"


def epoch_line(
    trial_id: str,
    epoch: int,
    epochs: int,
    val_loss: float | None,
    best: tuple[int, float] | None,
    scale: ScoreScale = ScoreScale(),  # noqa: B008 - frozen
) -> str:
    """`  trial 07  epoch 34/100  val_loss 0.2311  best 0.2290 (epoch 31)`: the updating line
    of a trial that is still training.

    Args:
        trial_id: Keras Tuner's id of the trial.
        epoch: the 1-based epoch that just ended.
        epochs: the most epochs the trial may run.
        val_loss: that epoch's validation loss (the objective's scale), None if not finite.
        best: the trial's best epoch so far (1-based) and its validation loss, if any.
        scale: how scores read (regression: RMSE in the target's units). Defaults to as is.
    """
    score = scale.text(val_loss) if val_loss is not None else f"{scale.short} -"
    best_text = f"  best {scale.value_text(best[1])} (epoch {best[0]})" if best else ""
    return f"  trial {trial_id}  epoch {epoch}/{epochs}  {score}{best_text}"


class TerminalLine:
    """One line of a terminal that rewrites itself with a carriage return.

    Calling it with a text shows that text in place of the previous one; calling it with ""
    blanks the line and leaves the cursor at its start, so the next printed line is clean.
    Only for a terminal: in a log or a pipe every rewrite would be a line of its own.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._width = 0  # characters shown now

    def __call__(self, text: str) -> None:
        # A line longer than the terminal wraps, and a carriage return then rewrites only its end.
        text = text[: max(10, shutil.get_terminal_size().columns - 1)]
        blank = " " * max(0, self._width - len(text))
        self._stream.write("\r" + text + blank + ("\r" if not text else ""))
        self._stream.flush()
        self._width = len(text)
