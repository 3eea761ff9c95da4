"""The report's trials table: one row per trial, one column per hyperparameter, sortable.

Every cell carries the raw value it sorts by (`data-sort`), so the page's one small script can
sort numbers as numbers; with scripts off the table reads the same, in trial order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from common.records import SearchResult, TrialRecord, hyperparameter_names
from reports.scores import ScoreScale, format_number


@dataclass(frozen=True)
class Cell:
    """One cell: what it shows and what it sorts by (a number, or text)."""

    text: str
    sort: str
    numeric: bool = True


def _cell(value: Any) -> Cell:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return Cell("—" if value is None else str(value), "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Cell(str(value), str(value), numeric=False)
    return Cell(format_number(value), repr(float(value)))


def _verdict(trial: TrialRecord, best_id: str | None, verdicts: dict[str, str], main: str) -> str:
    if trial.trial_id == best_id and trial.completed and main:
        # The best trial is judged by the diagnosis, with the baselines: one verdict for it.
        return f"{main}: the diagnosis above"
    return verdicts.get(trial.trial_id, "")


def trials_table(
    search: SearchResult,
    scale: ScoreScale,
    verdicts: dict[str, str],
    main_verdict: str = "",
) -> dict[str, Any]:
    """The table's header and rows.

    Args:
        search: the search's trials, in the order they started.
        scale: how scores read; regression adds a column of validation RMSE in the target's
            units.
        verdicts: trial id -> `diagnose_trial`'s one-line verdict.
        main_verdict: the diagnosis's verdict on the best trial, shown on its row instead of
            the curves-only one, so the page gives it one verdict. Defaults to none.

    Returns:
        {"columns": [(name, numeric)], "hyperparameters": [names], "rows": [row dicts]}; each
        row has "cells" (one `Cell` per column), "best", "completed" and "note".
    """
    names = hyperparameter_names(search)  # trials.csv's order
    columns = [("trial", True), ("status", False), ("objective", True)]
    if scale.regression:
        columns.append((scale.short, True))
    columns += [("epochs", True), ("kept", True), ("seconds", True), ("curves / reason", False)]
    columns += [(name, True) for name in names]
    rows = []
    for trial in search.trials:
        best = trial.trial_id == search.best_trial_id
        status = trial.status.lower() + (" · best" if best else "")
        cells = [
            Cell(
                trial.trial_id,
                trial.trial_id if not trial.trial_id.isdigit() else str(int(trial.trial_id)),
            ),
            Cell(status, status, numeric=False),
            _cell(trial.score),
        ]
        if scale.regression:
            cells.append(_cell(scale.readable(trial.score)))
        cells += [_cell(trial.epochs), _cell(trial.best_epoch), _cell(round(trial.seconds, 1))]
        verdict = _verdict(trial, search.best_trial_id, verdicts, main_verdict)
        note = verdict + (": " if verdict and trial.message else "") + trial.message
        cells.append(Cell(note, note, numeric=False))
        cells += [_cell(trial.hyperparameters.get(name)) for name in names]
        rows.append({"cells": cells, "best": best, "completed": trial.completed})
    numeric = [all(row["cells"][i].numeric for row in rows) for i in range(len(columns))]
    return {
        "columns": [(name, numeric[i] if rows else kind) for i, (name, kind) in enumerate(columns)],
        "hyperparameters": names,
        "rows": rows,
    }
