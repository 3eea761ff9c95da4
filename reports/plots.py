"""The report's plots: functions that compute the numbers, thin functions that draw them.

Each plot comes as a pair, as in optuna's visualization module: a `*_data` function that
returns plain numbers (tested) and a `draw_*` function that draws them on a matplotlib `Axes`
(smoke-tested). `new_figure` and `figure_to_svg` make figures without pyplot's global state and
turn them into SVG markup for the HTML page.

Every label that may come from user data (class labels, hyperparameter values) is drawn with
`parse_math=False`, so a `$` in a column name is printed rather than read as mathtext.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter, NullLocator
from sklearn import metrics as skm
from sklearn.ensemble import RandomForestRegressor

from data.task import Task
from reports.evaluation import Predictions
from tuning.records import SearchResult, TrialRecord

# Hyperparameters searched on a log scale in the built-in space; plotted with a log x axis.
LOG_SCALE_HYPERPARAMETERS = frozenset({"learning_rate", "l2"})
# Fewer completed trials than this and the importance plot says so instead of guessing.
MIN_TRIALS_FOR_IMPORTANCE = 3
# Labels longer than this are shortened on axes so that one long class name cannot squash a plot.
MAX_LABEL_CHARS = 24
# Positive numbers spanning this ratio or more (units 16-256, batch size) get a log axis.
_LOG_RATIO = 8
# Shuffles per hyperparameter in the permutation importance.
_IMPORTANCE_SHUFFLES = 20

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#d95f02"
BEST_COLOR = "#1b9e77"
MUTED_COLOR = "#9e9e9e"

# Text stays text in the SVG (small files, selectable, searchable); matplotlib escapes it.
_SVG_RC = {"svg.fonttype": "none", "font.size": 9.0, "axes.titlesize": 10.0}
_SVG_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_SVG_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)
# A start or end tag. matplotlib escapes `<` and `>` in texts and attribute values, so this
# never matches inside a user string.
_SVG_TAG = re.compile(r"<[^<>]+>")
_SVG_REFERENCE = re.compile(r'(\sid="|url\(#|href="#)')


# ---------------------------------------------------------------------------------------------
# Figures


def style():
    """A context in which to create and draw the report's figures (font sizes, SVG text)."""
    return rc_context(_SVG_RC)


def new_figure(
    width: float = 6.4, height: float = 3.2, ncols: int = 1, nrows: int = 1, sharey: bool = False
) -> tuple[Figure, Any]:
    """A figure that pyplot does not track, with a grid of axes.

    Create and draw it inside `style()` so that its texts get the report's sizes.

    Args:
        width: width in inches. Defaults to 6.4.
        height: height in inches. Defaults to 3.2.
        ncols: axes per row. Defaults to 1.
        nrows: rows of axes. Defaults to 1.
        sharey: share the y axis between axes. Defaults to False.

    Returns:
        The figure and its axes: one `Axes`, or an array of them for a grid.
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharey=sharey)
    return fig, axes


def figure_to_svg(fig: Figure, name: str = "figure") -> str:
    """Render a figure as inline SVG markup and release it.

    Args:
        fig: the figure; it is cleared afterwards and must not be used again.
        name: a name unique on the page; it prefixes and seeds the ids inside the SVG so that
            two plots on one page never share an id, and the same figure always renders the
            same bytes.
            Defaults to "figure".

    Returns:
        The `<svg ...>...</svg>` element without XML prologue, metadata or comments.
        matplotlib escapes every text it writes (`<` becomes `&lt;`), so user strings cannot
        become markup.
    """
    buffer = io.StringIO()
    try:
        with rc_context({**_SVG_RC, "svg.hashsalt": name}):
            FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None, "Creator": None})
    finally:
        fig.clear()
    svg = _SVG_PROLOGUE.sub("", buffer.getvalue(), count=1)
    svg = _SVG_METADATA.sub("", _SVG_COMMENT.sub("", svg)).strip()
    return _prefix_ids(svg, re.sub(r"[^A-Za-z0-9_-]", "_", name))


def _prefix_ids(svg: str, prefix: str) -> str:
    """Prefix every id and reference to it: matplotlib numbers ids per figure ("axes_1"), so
    two inline figures would otherwise share them on one page."""

    def fix(tag: re.Match[str]) -> str:
        return _SVG_REFERENCE.sub(lambda m: f"{m.group(1)}{prefix}-", tag.group(0))

    return _SVG_TAG.sub(fix, svg)


def _short(label: Any) -> str:
    text = str(label)
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def _finite(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]


# ---------------------------------------------------------------------------------------------
# Learning curves of one trial


@dataclass(frozen=True)
class LearningCurves:
    """Per-epoch training and validation values of one trial.

    Attributes:
        epochs: 1-based epoch numbers.
        train: quantity ("loss", "accuracy", ...) -> training value per epoch.
        validation: quantity -> validation value per epoch (same keys as `train`).
        best_epoch: 1-based epoch whose weights were kept, or None.
    """

    epochs: np.ndarray
    train: dict[str, np.ndarray]
    validation: dict[str, np.ndarray]
    best_epoch: int | None


def learning_curves_data(record: TrialRecord) -> LearningCurves:
    """The quantities that have both a training and a validation curve, loss first."""
    history = record.history
    names = [k for k in history if not k.startswith("val_") and f"val_{k}" in history]
    names.sort(key=lambda k: (k != "loss", k))
    n = max((len(history[k]) for k in names), default=0)
    return LearningCurves(
        epochs=np.arange(1, n + 1),
        train={k: np.asarray(history[k], dtype=np.float64) for k in names},
        validation={k: np.asarray(history[f"val_{k}"], dtype=np.float64) for k in names},
        best_epoch=record.best_epoch,
    )


def draw_learning_curves(ax: Axes, curves: LearningCurves, quantity: str = "loss") -> None:
    """Training and validation curves of one quantity, with the kept epoch marked."""
    train, validation = curves.train[quantity], curves.validation[quantity]
    ax.plot(curves.epochs[: len(train)], train, color=TRAIN_COLOR, label="training")
    ax.plot(
        curves.epochs[: len(validation)], validation, color=VALIDATION_COLOR, label="validation"
    )
    if curves.best_epoch is not None and 1 <= curves.best_epoch <= len(validation):
        ax.axvline(curves.best_epoch, color=BEST_COLOR, linestyle="--", linewidth=1)
        ax.plot(
            curves.best_epoch,
            validation[curves.best_epoch - 1],
            "o",
            color=BEST_COLOR,
            label=f"kept: epoch {curves.best_epoch}",
        )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(quantity, parse_math=False)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)


# ---------------------------------------------------------------------------------------------
# All trials' validation curves


@dataclass(frozen=True)
class TrialCurves:
    """Validation-loss curves of every completed trial.

    Attributes:
        curves: trial id -> validation loss per epoch.
        best_trial_id: the trial to highlight, or None.
        y_limits: a y range that shows the interesting part: from the lowest value to the 95th
            percentile, so that one diverging trial does not flatten all the others.
    """

    curves: dict[str, np.ndarray]
    best_trial_id: str | None
    y_limits: tuple[float, float] | None


def trial_curves_data(result: SearchResult) -> TrialCurves:
    """The validation-loss curve of each completed trial that recorded one."""
    curves = {
        t.trial_id: np.asarray(t.history["val_loss"], dtype=np.float64)
        for t in result.trials
        if t.completed and t.history.get("val_loss")
    }
    values = _finite(np.concatenate(list(curves.values()))) if curves else np.array([])
    limits = None
    if values.size:
        low, high = float(values.min()), float(np.percentile(values, 95))
        pad = 0.05 * (high - low) if high > low else max(abs(low) * 0.05, 1e-3)
        limits = (low - pad, high + pad)
    return TrialCurves(curves, result.best_trial_id, limits)


def draw_trial_curves(ax: Axes, data: TrialCurves) -> None:
    """All trials in grey, the best one on top in colour."""
    for trial_id, curve in data.curves.items():
        if trial_id != data.best_trial_id:
            ax.plot(np.arange(1, len(curve) + 1), curve, color=MUTED_COLOR, alpha=0.6, lw=1)
    best = data.curves.get(data.best_trial_id) if data.best_trial_id else None
    if best is not None:
        ax.plot(np.arange(1, len(best) + 1), best, color=BEST_COLOR, lw=2, label="best trial")
        ax.legend(frameon=False)
    if data.y_limits is not None:
        ax.set_ylim(*data.y_limits)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("validation loss")
    ax.grid(alpha=0.3)


# ---------------------------------------------------------------------------------------------
# Search history


@dataclass(frozen=True)
class SearchHistory:
    """The objective of each trial in the order they ran, and the best so far.

    Attributes:
        numbers: 1-based position of each trial in the search.
        scores: the trial's objective, NaN when it failed.
        best_so_far: the lowest score among trials up to and including this one (NaN before
            the first completed trial).
    """

    numbers: np.ndarray
    scores: np.ndarray
    best_so_far: np.ndarray


def search_history_data(result: SearchResult) -> SearchHistory:
    """Scores in search order; failed trials are NaN and do not move the best-so-far line."""
    scores = np.array(
        [t.score if t.completed else math.nan for t in result.trials], dtype=np.float64
    )
    best = np.fmin.accumulate(scores) if scores.size else scores
    return SearchHistory(np.arange(1, len(scores) + 1), scores, best)


def draw_search_history(ax: Axes, data: SearchHistory) -> None:
    """Each trial as a dot, the best-so-far as a step line, failures as crosses on the axis."""
    ok = np.isfinite(data.scores)
    ax.plot(data.numbers[ok], data.scores[ok], "o", color=MUTED_COLOR, label="trial")
    ax.step(data.numbers, data.best_so_far, where="post", color=BEST_COLOR, label="best so far")
    if (~ok).any():
        bottom = np.nanmin(data.scores) if ok.any() else 0.0
        ax.plot(
            data.numbers[~ok], np.full((~ok).sum(), bottom), "x", color="#c62828", label="failed"
        )
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.5, max(len(data.numbers), 1) + 0.5)
    ax.set_ylabel("validation loss (objective)")
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
    """

    name: str
    values: tuple[Any, ...]
    scores: np.ndarray
    numeric: bool
    log_scale: bool
    categories: tuple[str, ...] = ()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def hyperparameter_scores_data(result: SearchResult) -> list[HyperparameterScores]:
    """One entry per hyperparameter that took more than one value among completed trials."""
    completed = [t for t in result.trials if t.completed]
    names: list[str] = []
    for trial in completed:
        names += [k for k in trial.hyperparameters if k not in names]
    out = []
    for name in names:
        pairs = [
            (t.hyperparameters[name], float(t.score))
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
        out.append(HyperparameterScores(name, values, scores, numeric, log_scale, categories))
    return out


def draw_hyperparameter_scores(ax: Axes, data: HyperparameterScores) -> None:
    """Scatter for numbers (log x where searched on a log scale), jittered strip for choices."""
    if data.numeric:
        values = np.asarray(data.values, dtype=float)
        ax.plot(values, data.scores, "o", color=TRAIN_COLOR, alpha=0.8)
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
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        positions = {c: i for i, c in enumerate(data.categories)}
        x = np.array([positions[str(v)] for v in data.values], dtype=float)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(x))
        ax.plot(x + jitter, data.scores, "o", color=TRAIN_COLOR, alpha=0.8)
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


# ---------------------------------------------------------------------------------------------
# Classification


@dataclass(frozen=True)
class ConfusionData:
    """Counts of true class (rows) against predicted class (columns).

    Attributes:
        labels: class labels as text, in the task's output order.
        counts: integer matrix, shape (n_classes, n_classes).
    """

    labels: tuple[str, ...]
    counts: np.ndarray


def confusion_data(task: Task, predictions: Predictions) -> ConfusionData:
    """The confusion matrix over every class of the task, including unseen ones."""
    labels = list(range(task.n_classes))
    counts = skm.confusion_matrix(predictions.y_true, predictions.y_pred, labels=labels)
    return ConfusionData(tuple(str(c) for c in task.classes), counts)


def draw_confusion(ax: Axes, data: ConfusionData) -> None:
    """A heat map with the count in each cell; labels printed as text, never as mathtext."""
    n = len(data.labels)
    ax.imshow(data.counts, cmap="Blues")
    peak = data.counts.max() if data.counts.size else 0
    if n <= 20:
        for i in range(n):
            for j in range(n):
                value = data.counts[i, j]
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value > peak / 2 else "black",
                )
    short = [_short(label) for label in data.labels]
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    crowded = sum(len(label) for label in short) > 4 * n or n > 6
    ax.set_xticklabels(
        short, parse_math=False, rotation=45 if crowded else 0, ha="right" if crowded else "center"
    )
    ax.set_yticklabels(short, parse_math=False)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")


@dataclass(frozen=True)
class RocData:
    """Receiver operating characteristic of a binary classifier.

    Attributes:
        fpr: false-positive rate at each threshold.
        tpr: true-positive rate at each threshold.
        auc: area under the curve.
        positive_label: the class whose probability is thresholded (the second class).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    positive_label: str


def roc_data(task: Task, predictions: Predictions) -> RocData | None:
    """The ROC curve for the second class, or None when the split holds one class only."""
    if task.kind != "binary" or predictions.proba is None:
        return None
    if len(np.unique(predictions.y_true)) < 2:
        return None
    fpr, tpr, _ = skm.roc_curve(predictions.y_true, predictions.proba[:, 1], pos_label=1)
    return RocData(fpr, tpr, float(skm.auc(fpr, tpr)), str(task.classes[1]))


def draw_roc(ax: Axes, data: RocData) -> None:
    """The ROC curve against the chance diagonal."""
    ax.plot(data.fpr, data.tpr, color=TRAIN_COLOR, label=f"AUC = {data.auc:.3f}")
    ax.plot([0, 1], [0, 1], color=MUTED_COLOR, linestyle="--", lw=1, label="chance")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel(f"true-positive rate ({_short(data.positive_label)})", parse_math=False)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="lower right")


# ---------------------------------------------------------------------------------------------
# Regression


@dataclass(frozen=True)
class ResidualData:
    """Regression predictions against the truth, in the target's original units.

    Attributes:
        actual: true values.
        predicted: predicted values.
        residuals: actual minus predicted.
        limits: a common range for both axes of the predicted-vs-actual plot.
    """

    actual: np.ndarray
    predicted: np.ndarray
    residuals: np.ndarray
    limits: tuple[float, float]


def residual_data(predictions: Predictions) -> ResidualData:
    """Actual, predicted and residual values, with a shared axis range."""
    actual = np.asarray(predictions.y_true, dtype=np.float64)
    predicted = np.asarray(predictions.y_pred, dtype=np.float64)
    both = _finite(np.concatenate([actual, predicted]))
    low, high = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    pad = 0.03 * (high - low) if high > low else 1.0
    return ResidualData(actual, predicted, actual - predicted, (low - pad, high + pad))


def draw_predicted_vs_actual(ax: Axes, data: ResidualData) -> None:
    """Each row as a dot; dots on the diagonal are perfect predictions."""
    ax.plot(data.limits, data.limits, color=MUTED_COLOR, linestyle="--", lw=1, label="perfect")
    ax.plot(data.actual, data.predicted, "o", color=TRAIN_COLOR, alpha=0.6, ms=4)
    ax.set_xlim(*data.limits)
    ax.set_ylim(*data.limits)
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)


def draw_residuals(ax: Axes, data: ResidualData) -> None:
    """Residuals against predictions: a pattern or a funnel means systematic error."""
    ax.axhline(0.0, color=MUTED_COLOR, linestyle="--", lw=1)
    ax.plot(data.predicted, data.residuals, "o", color=VALIDATION_COLOR, alpha=0.6, ms=4)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual − predicted")
    ax.grid(alpha=0.3)
