"""The console's line per ended trial: its Keras Tuner trial id, its score, the best so far, and
the search's progress counted apart, so that `trial 07` always means the same trial as in
trials.csv, histories/trial_07.json and the report."""

from __future__ import annotations

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
) -> str:
    """`trial 07  val_loss 0.1807    best 0.1807 (trial 03)     1.1 s   8/20 done   ~11 s left`.

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
    """
    head = scale.text(score) if status == "COMPLETED" and score is not None else status.lower()
    best_text = f"best {scale.value_text(best[1])} (trial {best[0]})" if best else "best -"
    took = f"{seconds:6.1f} s" if seconds is not None else "     -"
    # Padded so that the columns line up past trial 9 of 10 and 99 of 100.
    count = f"{done:>{len(str(total))}}/{total} done"
    left = f"   {time_left}" if time_left else ""
    return f"trial {trial_id:<3} {head:<18} {best_text:<26} {took}   {count}{left}"
