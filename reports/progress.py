"""progress.html: the page that watches a search, rewritten when it starts and after each trial.

It has report.html's look (the same style sheet), reloads itself every few seconds with a
meta refresh while the search runs (no script: its Content-Security-Policy allows none), and
shows what is known so far: the data, the search's settings and pace, the best trial, a small
plot of every trial's score and a table of the ended trials. When the run ends it says how,
and links report.html. It is rendered in the search's process between trials, so it draws its
plot as plain SVG itself instead of with matplotlib (~1 s a figure) and costs milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup, escape

from common.records import SearchResult, TrialRecord, hyperparameter_names
from reports.outliers import clip_limits
from reports.scores import ScoreScale, format_number

_TEMPLATES = Path(__file__).parent / "templates"
REFRESH_SECONDS = 5  # how often the page reloads itself while the search runs
# What each state of the run says at the top of the page; "running" and "finishing" reload.
STATES = ("running", "finishing", "finished", "interrupted", "failed")


@dataclass(frozen=True)
class ProgressFacts:
    """What the page says about the run that does not change while it runs.

    Attributes:
        source: where the data came from: the CSV's file name or the bundled set's name.
        target: the target column.
        task: the task as text, e.g. "multiclass (4 classes)".
        rows: split name -> rows.
        features: the feature columns the networks use.
        settings: (label, value) pairs of the search's settings, in the order shown.
        started: when this session's search started, as text.
    """

    source: str
    target: str
    task: str
    rows: dict[str, int]
    features: int
    settings: tuple[tuple[str, str], ...] = ()
    started: str = ""


@dataclass(frozen=True)
class Progress:
    """The search as far as it has gone.

    Attributes:
        facts: the run's fixed facts.
        trials: the ended trials (completed or failed), in the order they ended.
        total: --max-trials.
        running: ids of the trials running now.
        elapsed: seconds since this session's search started.
        time_left: the estimate of the rest's time ("~40 s left"), or "".
        earlier: trials that ended in earlier sessions (a resumed run).
        state: one of `STATES`.
        note: a sentence about the state: why it failed, the result line, ...
        written: when the page was written, as text.
        scale: how scores read (regression: RMSE in the target's units).
    """

    facts: ProgressFacts
    trials: tuple[TrialRecord, ...] = ()
    total: int = 0
    running: tuple[str, ...] = ()
    elapsed: float = 0.0
    time_left: str = ""
    earlier: int = 0
    state: str = "running"
    note: str = ""
    written: str = ""
    scale: ScoreScale = field(default_factory=ScoreScale)


# ---------------------------------------------------------------------------------------------
# The plot of every trial's score


@dataclass(frozen=True)
class ScorePlot:
    """Each ended trial's score by its trial number, and the best so far.

    Attributes:
        numbers: the trials' ids as numbers (the x axis), ascending.
        scores: their scores as a reader compares them, NaN for a failed trial.
        best_so_far: the lowest score up to each trial (NaN before the first completed one).
        low, high: the y axis's range; scores above `high` are outliers cut off
            (`reports.outliers.clip_limits`) and drawn on the top edge.
        clipped: True when some scores are above `high`.
    """

    numbers: tuple[int, ...]
    scores: tuple[float, ...]
    best_so_far: tuple[float, ...]
    low: float
    high: float
    clipped: bool


def score_plot(trials: tuple[TrialRecord, ...], scale: ScoreScale) -> ScorePlot | None:
    """The numbers of the score plot, or None before any trial completed."""
    ordered = sorted(trials, key=lambda t: _number(t.trial_id))
    scores = [scale.readable(t.score) if t.completed else math.nan for t in ordered]
    finite = [s for s in scores if math.isfinite(s)]
    if not finite:
        return None
    best, running = [], math.inf
    for score in scores:
        running = min(running, score) if math.isfinite(score) else running
        best.append(running if math.isfinite(running) else math.nan)
    limits = clip_limits(scores)  # already padded
    low, high = limits if limits is not None else (min(finite), max(finite))
    if limits is None:  # a margin, so that no dot sits on the axes
        pad = 0.08 * (high - low) if high > low else max(abs(high) * 0.05, 1e-6)
        low, high = low - pad, high + pad
    return ScorePlot(tuple(_number(t.trial_id) for t in ordered), tuple(scores), tuple(best),
                     low, high, limits is not None)


def _number(trial_id: str) -> int:
    return int(trial_id) if trial_id.isdigit() else 0


_W, _H = 640, 190  # the plot's SVG size in pixels (it scales down with the page)
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 12, 30  # margins for the axes' labels


def score_svg(plot: ScorePlot, label: str) -> Markup:
    """The plot as inline SVG: a dot per completed trial, a cross per failed one, the
    best-so-far as a step line, and triangles on the top edge for scores cut off.

    Only numbers go into it, and the one label is escaped.
    """
    first, last = plot.numbers[0], plot.numbers[-1]
    span = last - first + 1  # half a trial's room at either end

    def x(number: int) -> float:
        return _LEFT + (number - first + 0.5) / span * (_W - _LEFT - _RIGHT)

    def y(value: float) -> float:
        share = (min(value, plot.high) - plot.low) / (plot.high - plot.low)
        return _H - _BOTTOM - share * (_H - _TOP - _BOTTOM)

    bottom, top = _H - _BOTTOM, _TOP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="{escape(label)} per trial">',
        f'<line x1="{_LEFT}" y1="{top}" x2="{_LEFT}" y2="{bottom}" stroke="#616e7c"/>',
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{_W - _RIGHT}" y2="{bottom}" stroke="#616e7c"/>',
    ]
    shown = [v for v in plot.scores if math.isfinite(v) and v <= plot.high]
    for value in sorted({min(shown), max(shown)}) if shown else ():
        parts.append(f'<text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="#616e7c">{escape(format_number(value))}</text>')
    for number in sorted({first, last}):
        parts.append(f'<text x="{x(number):.1f}" y="{bottom + 16}" text-anchor="middle" '
                     f'font-size="11" fill="#616e7c">{number}</text>')
    parts.append(f'<text x="{(_LEFT + _W) / 2:.1f}" y="{_H - 2}" text-anchor="middle" '
                 'font-size="11" fill="#616e7c">trial</text>')
    steps, previous = [], None
    for number, best in zip(plot.numbers, plot.best_so_far, strict=True):
        if not math.isfinite(best):
            continue
        if previous is not None:
            steps.append(f"{x(number):.1f},{y(previous):.1f}")
        steps.append(f"{x(number):.1f},{y(best):.1f}")
        previous = best
    if steps:
        steps.append(f"{_W - _RIGHT:.1f},{y(previous):.1f}")
        parts.append(f'<polyline points="{" ".join(steps)}" fill="none" stroke="#1b9e77" '
                     'stroke-width="2"/>')
    for number, score in zip(plot.numbers, plot.scores, strict=True):
        cx = x(number)
        if not math.isfinite(score):
            parts.append(f'<path d="M{cx - 4:.1f},{bottom - 8:.1f} l8,8 m0,-8 l-8,8" '
                         'stroke="#c62828" stroke-width="1.5"/>')
        elif score > plot.high:
            parts.append(f'<path d="M{cx:.1f},{top - 1:.1f} l-5,9 h10 z" fill="#c62828"/>')
        else:
            parts.append(f'<circle cx="{cx:.1f}" cy="{y(score):.1f}" r="4" fill="#9e9e9e" '
                         'fill-opacity="0.85"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


# ---------------------------------------------------------------------------------------------
# The page


def _seconds(value: float) -> str:
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _table(progress: Progress) -> dict:
    """The ended trials' table, the latest first: its columns and rows of text."""
    trials = progress.trials
    names = hyperparameter_names(SearchResult(trials, None, 0.0))
    scale = progress.scale
    completed = [t for t in trials if t.completed]
    best = min(completed, key=lambda t: t.score).trial_id if completed else None
    reasons = any(t.message for t in trials)  # a column only when some trial failed
    columns = ["trial", "proposed by", "status", scale.short, "epochs", "seconds"]
    columns += ["reason"] * reasons + names
    kinds = ["num", "", "", "num", "num", "num"] + ["notes"] * reasons
    kinds += ["num" if all(isinstance(t.hyperparameters.get(n), (int, float, type(None)))
                           for t in trials) else "" for n in names]
    rows = []
    for trial in reversed(trials):
        score = (scale.value_text(trial.score) if trial.completed else "—")
        status = trial.status.lower() + (" · best" if trial.trial_id == best else "")
        cells = [trial.trial_id, trial.proposed_by or "—", status, score, str(trial.epochs),
                 f"{trial.seconds:.1f}"]
        cells += [trial.message] * reasons
        cells += [_value(trial.hyperparameters.get(name)) for name in names]
        rows.append({"cells": cells, "best": trial.trial_id == best,
                     "completed": trial.completed})
    return {"columns": columns, "kinds": kinds, "rows": rows, "best": best}


def _value(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, (bool, int, float)):
        return format_number(value)
    return str(value)


def _left(time_left: str) -> str:
    """"~2 min 10 s left" as "2 min 10 s"."""
    return time_left.lstrip("~").removesuffix(" left")


def _headline(progress: Progress) -> str:
    """The state in one sentence, for the top of the page."""
    done, total = len(progress.trials), progress.total
    if progress.state == "running":
        left = f", about {_left(progress.time_left)} left" if progress.time_left else ""
        return f"Searching: {done} of {total} trials done{left}."
    if progress.state == "finishing":
        return (f"The search is over ({done} trials): the best model is being evaluated and "
                "exported, and report.html written.")
    if progress.state == "finished":
        return "Finished."
    if progress.state == "interrupted":
        return f"Interrupted after {done} ended trials."
    return "The run failed."


@cache
def _template() -> Template:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("progress.html.j2")


def render_progress(progress: Progress, refresh: int = REFRESH_SECONDS) -> str:
    """The page as one HTML document; every string is escaped by Jinja's autoescaping.

    Args:
        progress: what the page shows.
        refresh: seconds between reloads while the run goes on. Defaults to `REFRESH_SECONDS`.
    """
    if progress.state not in STATES:
        raise ValueError(f"unknown progress state {progress.state!r}; one of {STATES}")
    facts, scale = progress.facts, progress.scale
    table = _table(progress)
    best = next((t for t in progress.trials if t.trial_id == table["best"]), None)
    plot = score_plot(progress.trials, scale)
    summary = [
        ("data", facts.source),
        ("target", facts.target),
        ("task", facts.task),
        ("rows", " · ".join(f"{split} {n}" for split, n in facts.rows.items())),
        ("features", str(facts.features)),
        *facts.settings,
        ("trials ended", f"{len(progress.trials)} of {progress.total}"
         + (f" ({progress.earlier} in earlier sessions)" if progress.earlier else "")),
        ("elapsed", _seconds(progress.elapsed) + (f" since {facts.started}" if facts.started
                                                  else "")),
    ]
    if progress.running:  # with several workers; alone, the next trial starts after the write
        summary.append(("running now", ", ".join(f"trial {t}" for t in progress.running)))
    if progress.time_left:
        summary.append(("time left", f"about {_left(progress.time_left)}"))
    live = progress.state in ("running", "finishing")
    return _template().render(
        progress=progress,
        facts=facts,
        headline=_headline(progress),
        summary=summary,
        best=best,
        best_score=scale.text(best.score) if best is not None else "",
        table=table,
        plot=score_svg(plot, scale.name) if plot is not None else None,
        clipped=plot is not None and plot.clipped,
        score_name=scale.name,
        refresh=refresh if live else None,
    )
