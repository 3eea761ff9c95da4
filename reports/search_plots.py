"""Search plots: the search history, the score against each hyperparameter, their importance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, NullFormatter, NullLocator
from sklearn.ensemble import RandomForestRegressor

from common.records import SearchResult, TrialRecord
from reports.figures import (
    BEST_COLOR,
    CLIPPED_COLOR,
    MUTED_COLOR,
    TRAIN_COLOR,
    _short,
    clip_limits,
    draw_clipped,
)
from reports.scores import ScoreScale

# Hyperparameters searched on a log scale in the built-in space; plotted with a log x axis.
LOG_SCALE_HYPERPARAMETERS = frozenset({"learning_rate", "l2"})
# Fewer completed trials than this and the importance plot says so instead of guessing.
MIN_TRIALS_FOR_IMPORTANCE = 3
# Positive numbers spanning this ratio or more (units 16-256, batch size) get a log axis.
_LOG_RATIO = 8
# Shuffles per hyperparameter in the permutation importance.
_IMPORTANCE_SHUFFLES = 20


# ---------------------------------------------------------------------------------------------
# Search history


@dataclass(frozen=True)
class SearchHistory:
    """The score of each trial in the order they started, and the best so far.

    Attributes:
        numbers: each trial's Keras Tuner id as a number (the x axis): the same trial numbers
            as the console, trials.csv and the trials table.
        scores: the trial's score as a reader compares it (`ScoreScale.readable`), NaN when it
            failed.
        best_so_far: the lowest score among trials up to and including this one (NaN before
            the first completed trial).
        y_limits: the y range when outliers are cut off (`figures.clip_limits`), else None.
        label: what the scores are, for the y axis.
    """

    numbers: np.ndarray
    scores: np.ndarray
    best_so_far: np.ndarray
    y_limits: tuple[float, float] | None = None
    label: str = "validation loss"


def _trial_number(trial_id: str, position: int) -> int:
    return int(trial_id) if trial_id.isdigit() else position


def search_history_data(result: SearchResult, scale: ScoreScale = ScoreScale()) -> SearchHistory:  # noqa: B008
    """Scores in search order; failed trials are NaN and do not move the best-so-far line."""
    raw = np.array([t.score if t.completed else math.nan for t in result.trials], dtype=np.float64)
    scores = scale.readable_array(raw)
    best = np.fmin.accumulate(scores) if scores.size else scores
    numbers = np.array(
        [_trial_number(t.trial_id, i) for i, t in enumerate(result.trials)], dtype=np.int64
    )
    return SearchHistory(numbers, scores, best, clip_limits(scores), scale.name)


def draw_search_history(ax: Axes, data: SearchHistory) -> None:
    """Each trial as a dot, the best-so-far as a step line, failures as crosses on the axis,
    scores off the scale as triangles on its top edge."""
    ok = np.isfinite(data.scores)
    ax.plot(data.numbers[ok], data.scores[ok], "o", color=MUTED_COLOR, label="trial")
    ax.step(data.numbers, data.best_so_far, where="post", color=BEST_COLOR, label="best so far")
    if (~ok).any():
        bottom = np.nanmin(data.scores) if ok.any() else 0.0
        ax.plot(
            data.numbers[~ok], np.full((~ok).sum(), bottom), "x", color=CLIPPED_COLOR,
            label="failed",
        )
    if data.y_limits is not None:
        ax.set_ylim(*data.y_limits)
        draw_clipped(ax, data.numbers, data.scores, data.y_limits)
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if len(data.numbers):
        ax.set_xlim(data.numbers.min() - 0.5, data.numbers.max() + 0.5)
    ax.set_ylabel(data.label, parse_math=False)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)


# ---------------------------------------------------------------------------------------------
# Score against each hyperparameter


@dataclass(frozen=True)
class HyperparameterScores:
    """The objective of completed trials against one hyperparameter.

    Attributes:
        name: the hyperparameter.
        values: its value in each trial where it was active.
        scores: the objective of those trials.
        numeric: True for numbers (scatter), False for choices (strip per category).
        log_scale: True to plot the values on a log axis: learning rate, L2, and positive
            numbers spanning a ratio of `_LOG_RATIO` or more.
        categories: the distinct values in order, for choices (empty for numbers).
        y_limits: the y range shared by every hyperparameter's plot when outliers among all
            completed trials are cut off (`figures.clip_limits`), else None.
    """

    name: str
    values: tuple[Any, ...]
    scores: np.ndarray
    numeric: bool
    log_scale: bool
    categories: tuple[str, ...] = ()
    y_limits: tuple[float, float] | None = None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def hyperparameter_scores_data(
    result: SearchResult,
    scale: ScoreScale = ScoreScale(),  # noqa: B008 - frozen
) -> list[HyperparameterScores]:
    """One entry per hyperparameter that took more than one value among completed trials,
    scores as a reader compares them (`ScoreScale.readable`)."""
    completed = [t for t in result.trials if t.completed]
    limits = clip_limits(scale.readable_array([t.score for t in completed]))
    names: list[str] = []
    for trial in completed:
        names += [k for k in trial.hyperparameters if k not in names]
    out = []
    for name in names:
        pairs = [
            (t.hyperparameters[name], scale.readable(float(t.score)))
            for t in completed
            if t.hyperparameters.get(name) is not None
        ]
        values = tuple(v for v, _ in pairs)
        if len({str(v) for v in values}) < 2:
            continue
        numeric = all(_is_number(v) for v in values)
        positive = numeric and min(values) > 0
        log_scale = positive and (
            name in LOG_SCALE_HYPERPARAMETERS or max(values) / min(values) >= _LOG_RATIO
        )
        categories = () if numeric else tuple(sorted({str(v) for v in values}))
        scores = np.array([s for _, s in pairs])
        out.append(
            HyperparameterScores(name, values, scores, numeric, log_scale, categories, limits)
        )
    return out


def draw_hyperparameter_scores(ax: Axes, data: HyperparameterScores) -> None:
    """Scatter for numbers (log x where searched on a log scale), jittered strip for choices."""
    if data.numeric:
        values = np.asarray(data.values, dtype=float)
        ax.plot(values, data.scores, "o", color=TRAIN_COLOR, alpha=0.8)
        x = values
        integers = bool(np.all(values == np.round(values)))
        if data.log_scale:
            ax.set_xscale("log", base=2 if integers else 10)
            # Minor labels inside one decade overlap; the major ones are enough.
            ax.xaxis.set_minor_formatter(NullFormatter())
        distinct = np.unique(values)
        if integers and len(distinct) <= 8:
            # Few whole-number choices (units, batch size): label exactly those.
            ax.set_xticks(distinct)
            ax.set_xticklabels(
                [str(int(v)) for v in distinct], rotation=45 if len(distinct) > 4 else 0
            )
            ax.xaxis.set_minor_locator(NullLocator())
        elif integers:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    else:
        positions = {c: i for i, c in enumerate(data.categories)}
        x = np.array([positions[str(v)] for v in data.values], dtype=float)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(x))
        x = x + jitter
        ax.plot(x, data.scores, "o", color=TRAIN_COLOR, alpha=0.8)
        ax.set_xticks(range(len(data.categories)))
        labels = [_short(c) for c in data.categories]
        crowded = sum(len(label) for label in labels) > 18
        ax.set_xticklabels(
            labels,
            parse_math=False,
            rotation=30 if crowded else 0,
            ha="right" if crowded else "center",
        )
        ax.set_xlim(-0.5, len(data.categories) - 0.5)
    if data.y_limits is not None:
        ax.set_ylim(*data.y_limits)
        draw_clipped(ax, x, data.scores, data.y_limits)
    ax.set_title(data.name, parse_math=False)
    ax.grid(alpha=0.3)


# ---------------------------------------------------------------------------------------------
# Hyperparameter importance


def _encode_hyperparameters(
    trials: list[TrialRecord],
) -> tuple[np.ndarray, list[str], list[list[int]]]:
    """Design matrix for the importance forest: numbers as numbers, choices one-hot.

    Inactive values (e.g. `units_2` when `layers` is 2) get their own code: below the range
    for numbers, an "(inactive)" category for choices. Constant hyperparameters are left out.

    Returns:
        The matrix, the hyperparameter names, and for each name its column indices.
    """
    names: list[str] = []
    for trial in trials:
        names += [k for k in trial.hyperparameters if k not in names]
    columns: list[np.ndarray] = []
    kept: list[str] = []
    groups: list[list[int]] = []
    for name in names:
        raw = [t.hyperparameters.get(name) for t in trials]
        if len({str(v) for v in raw}) < 2:
            continue
        active = [v for v in raw if v is not None]
        if active and all(_is_number(v) for v in active):
            x = np.array([math.nan if v is None else float(v) for v in raw])
            if name in LOG_SCALE_HYPERPARAMETERS and np.nanmin(x) > 0:
                x = np.log10(x)
            low, high = np.nanmin(x), np.nanmax(x)
            x[np.isnan(x)] = low - max(high - low, 1.0)
            new = [x]
        else:
            labels = ["(inactive)" if v is None else str(v) for v in raw]
            new = [np.array([lab == c for lab in labels], float) for c in sorted(set(labels))]
        groups.append(list(range(len(columns), len(columns) + len(new))))
        columns += new
        kept.append(name)
    matrix = np.column_stack(columns) if columns else np.empty((len(trials), 0))
    return matrix, kept, groups


def hyperparameter_importance_data(result: SearchResult, seed: int = 0) -> dict[str, float]:
    """How much each hyperparameter explains the objective across completed trials.

    A fANOVA-lite: a random forest learns the objective's rank from the hyperparameters, and
    each hyperparameter's importance is how much the forest's error grows when that
    hyperparameter's columns are shuffled together (grouped permutation importance, averaged
    over `_IMPORTANCE_SHUFFLES` shuffles). Ranks make one diverging trial count no more than
    any other poor trial.

    Args:
        result: the search.
        seed: seeds the forest and the shuffles. Defaults to 0.

    Returns:
        Hyperparameter -> share of importance (non-negative, summing to 1), largest first.
        Empty when fewer than `MIN_TRIALS_FOR_IMPORTANCE` trials completed or nothing varied.
    """
    trials = [t for t in result.trials if t.completed]
    if len(trials) < MIN_TRIALS_FOR_IMPORTANCE:
        return {}
    x, names, groups = _encode_hyperparameters(trials)
    if not names:
        return {}
    y = np.argsort(np.argsort([t.score for t in trials])).astype(float)
    forest = RandomForestRegressor(n_estimators=50, random_state=seed).fit(x, y)
    base = np.mean((forest.predict(x) - y) ** 2)
    rng = np.random.default_rng(seed)
    raw = {}
    for name, cols in zip(names, groups, strict=True):
        # All shuffles stacked into one matrix: one predict call instead of one per shuffle.
        shuffled = np.tile(x, (_IMPORTANCE_SHUFFLES, 1))
        for i in range(_IMPORTANCE_SHUFFLES):
            rows = slice(i * len(x), (i + 1) * len(x))
            shuffled[rows, cols] = x[rng.permutation(len(x))][:, cols]
        error = np.mean((forest.predict(shuffled) - np.tile(y, _IMPORTANCE_SHUFFLES)) ** 2)
        raw[name] = max(float(error - base), 0.0)
    total = sum(raw.values())
    if total <= 0:
        return {name: 1.0 / len(raw) for name in raw}
    return dict(sorted(((k, v / total) for k, v in raw.items()), key=lambda kv: -kv[1]))


def draw_importance(ax: Axes, importance: dict[str, float]) -> None:
    """Horizontal bars, most important on top; a note instead when there is nothing to show."""
    if not importance:
        ax.text(
            0.5,
            0.5,
            f"needs at least {MIN_TRIALS_FOR_IMPORTANCE} completed trials\n"
            "with a hyperparameter that varied",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color=MUTED_COLOR,
        )
        ax.set_axis_off()
        return
    names = list(importance)[::-1]
    ax.barh(range(len(names)), [importance[n] for n in names], color=TRAIN_COLOR)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([_short(n) for n in names], parse_math=False)
    ax.set_xlabel("share of importance")
    ax.grid(axis="x", alpha=0.3)
