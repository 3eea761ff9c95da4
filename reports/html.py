"""Render the run's self-contained HTML report: one file, plots inlined as SVG, nothing fetched."""

from __future__ import annotations

import base64
import hashlib
import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from common.records import SearchResult, TrialRecord
from data.splits import SPLIT_NAMES as SPLITS
from data.task import Task
from reports import plots
from reports.baselines import DESCRIPTIONS
from reports.diagnosis import Diagnosis
from reports.evaluation import Evaluation
from reports.evidence import plain_evidence
from reports.figures import MAX_POINTS
from reports.headline import METRIC_NAMES, Headline, describe_exported, make_headline
from reports.scores import ScoreScale, format_number
from reports.trials_table import trials_table

_TEMPLATES = Path(__file__).parent / "templates"
# The page's one script: sorts the trials table. It is allowed by its hash in the page's
# Content-Security-Policy, so nothing else (an injected script included) can run.
SORT_SCRIPT = (_TEMPLATES / "sort_table.js").read_text(encoding="utf-8")
_SVG_NS = "{http://www.w3.org/2000/svg}"
# Elements matplotlib writes into an SVG; anything else (script, foreignObject, ...) is refused.
_SVG_ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "defs",
        "style",
        "path",
        "clipPath",
        "use",
        "rect",
        "text",
        "tspan",
        "image",
        "metadata",
        "title",
        "desc",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "linearGradient",
        "radialGradient",
        "stop",
        "pattern",
        "mask",
        "symbol",
        "filter",
    }
)


@dataclass(frozen=True)
class ReportContext:
    """Everything the report shows. Strings from user data are escaped when rendered.

    Attributes:
        source: where the data came from: the CSV's file name or the bundled data set's name.
        task: the task, with class labels in output order.
        target: the target column.
        n_rows: split name ("train", "validation", "test") -> rows.
        feature_columns: the columns the model uses, as named in the data.
        search: the search's trials and best trial.
        best_hyperparameters: the best trial's hyperparameters.
        evaluation: the best model's metrics and predictions on every split.
        baselines: the output of `reports.baselines.fit_baselines`.
        diagnosis: the verdict on the best model.
        dropped_columns: column -> why it was left out (--drop, an ID, constant, ...).
        warnings: anything the user should know about the data or the run.
        config: the run's settings for the summary (tuner, max_trials, epochs, patience, seed...).
        trial_diagnoses: trial id -> the short verdict of `diagnose_trial`.
        timings: stage -> seconds ("search" and "total" at least, when known).
        exported_model: where the exported model is, e.g. "model/model.keras".
        versions: library -> version.
        created: when the run finished, as text.
        seed: seeds the importance forest. Defaults to 0.
        exported: metrics.json's `exported_model` (kind, test metrics, ...); when empty, the
            best trial's network is taken as the exported model.
        score_scale: how trial scores read (regression: RMSE in the target's units).
    """

    source: str
    task: Task
    target: str
    n_rows: dict[str, int]
    feature_columns: tuple[str, ...]
    search: SearchResult
    best_hyperparameters: dict[str, Any]
    evaluation: Evaluation
    baselines: dict[str, dict[str, dict[str, float | None]]]
    diagnosis: Diagnosis
    dropped_columns: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    trial_diagnoses: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    exported_model: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    seed: int = 0
    exported: dict[str, Any] = field(default_factory=dict)
    score_scale: ScoreScale = ScoreScale()


# ---------------------------------------------------------------------------------------------
# Figures


def _checked_svg(svg: str) -> Markup:
    """Mark an SVG from `plots.figure_to_svg` safe, after checking that it is inert.

    The SVG must parse as XML (so every user string in it was escaped: a raw `<` would either
    break parsing or show up as an element) and hold only drawing elements, no event handlers.

    Raises:
        ValueError: if the SVG holds anything but drawing markup.
    """
    root = ElementTree.fromstring(svg)
    for element in root.iter():
        name = element.tag.removeprefix(_SVG_NS)
        if name not in _SVG_ELEMENTS:
            raise ValueError(f"refusing to inline an SVG with a <{name}> element")
        for attribute, value in element.attrib.items():
            if attribute.lower().startswith("on") or "javascript:" in value.lower():
                raise ValueError(f"refusing to inline an SVG with attribute {attribute!r}")
    return Markup(svg)


def _svg(fig, name: str) -> Markup:
    return _checked_svg(plots.figure_to_svg(fig, name))


def search_figures(
    search: SearchResult,
    seed: int = 0,
    scale: ScoreScale = ScoreScale(),  # noqa: B008 - frozen
) -> dict[str, Markup]:
    """The plots of the search, as checked inline SVG keyed by the template's names: every
    trial's curves, the search history, the hyperparameters' scores and their importance.

    They need only the search's trials, so the pipeline renders them (most of the page's
    time) in another process while this one evaluates and exports the best model.

    Args:
        search: the search's trials and best trial.
        seed: seeds the importance forest. Defaults to 0.
        scale: how scores read (regression: RMSE in the target's units). Defaults to as is.
    """
    figures: dict[str, Markup] = {}
    with plots.style():
        trial_curves = plots.trial_curves_data(search, scale)
        if trial_curves.curves:
            fig, ax = plots.new_figure(7.0, 3.4)
            plots.draw_trial_curves(ax, trial_curves)
            figures["all_trials"] = _svg(fig, "all_trials")

        if search.trials:
            fig, ax = plots.new_figure(7.0, 3.0)
            plots.draw_search_history(ax, plots.search_history_data(search, scale))
            figures["search_history"] = _svg(fig, "search_history")

        scores = plots.hyperparameter_scores_data(search, scale)
        if scores:
            ncols = min(4, len(scores))
            nrows = math.ceil(len(scores) / ncols)
            fig, axes = plots.new_figure(
                2.4 * ncols, 2.3 * nrows, ncols=ncols, nrows=nrows, sharey=True
            )
            flat = list(getattr(axes, "flat", [axes]))
            for ax, data in zip(flat[: len(scores)], scores, strict=True):
                plots.draw_hyperparameter_scores(ax, data)
            for ax in flat[len(scores) :]:
                ax.set_axis_off()
            flat[0].set_ylabel(scale.name)
            figures["hyperparameters"] = _svg(fig, "hyperparameters")

        importance = plots.hyperparameter_importance_data(search, seed=seed)
        if importance:
            fig, ax = plots.new_figure(5.0, max(1.6, 0.3 * len(importance) + 0.8))
            plots.draw_importance(ax, importance)
            figures["importance"] = _svg(fig, "importance")
    return figures


def model_figures(
    task: Task,
    best: TrialRecord | None,
    evaluation: Evaluation,
    scale: ScoreScale = ScoreScale(),  # noqa: B008 - frozen
) -> dict[str, Markup]:
    """The best model's plots, as checked inline SVG: its learning curves, and its test
    predictions (the confusion matrix and ROC curve of a classifier, predicted against actual
    and residuals for a regressor). `scale` converts regression curves to the target's units.
    """
    figures: dict[str, Markup] = {}
    test = evaluation.predictions.get("test")
    with plots.style():
        if best is not None and best.history:
            curves = plots.learning_curves_data(best, scale)
            quantities = list(curves.train)
            if quantities:
                fig, axes = plots.new_figure(9.0, 3.2, ncols=len(quantities[:2]))
                axes = axes if len(quantities) > 1 else [axes]
                for ax, quantity in zip(axes, quantities[:2], strict=True):
                    plots.draw_learning_curves(ax, curves, quantity)
                figures["learning_curves"] = _svg(fig, "learning_curves")

        if test is not None and task.is_classification:
            confusion = plots.confusion_data(task, test)
            side = min(11.0, 3.4 + 0.6 * (task.n_classes + 1))
            fig, ax = plots.new_figure(side, side * 0.9)
            plots.draw_confusion(ax, confusion)
            figures["confusion"] = _svg(fig, "confusion")
            roc = plots.roc_data(task, test)
            if roc is not None:
                fig, ax = plots.new_figure(3.8, 3.6)
                plots.draw_roc(ax, roc)
                figures["roc"] = _svg(fig, "roc")
        elif test is not None:
            residuals = plots.residual_data(test)
            fig, axes = plots.new_figure(9.0, 3.6, ncols=2)
            plots.draw_predicted_vs_actual(axes[0], residuals)
            plots.draw_residuals(axes[1], residuals)
            figures["residuals"] = _svg(fig, "residuals")
    return figures


# ---------------------------------------------------------------------------------------------
# Tables


def _number(value: Any) -> str:
    """Numbers as a reader wants them (`scores.format_number`); anything else as text."""
    if value is None or isinstance(value, (bool, int, float)):
        return format_number(value)
    return str(value)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    minutes, seconds = divmod(float(value), 60)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"


def _exported(context: ReportContext) -> dict[str, Any]:
    """metrics.json's `exported_model`, or the best trial's network when none was given."""
    if context.exported:
        return context.exported
    best = context.search.best
    return {
        "kind": "best_trial",
        "trial_id": best.trial_id if best else None,
        "test": context.evaluation.metrics.get("test", {}),
    }


def _metrics_table(context: ReportContext) -> dict[str, Any]:
    """Rows of metric values: the best trial's network on each split, the exported model's
    test scores when it is another network (a refit, an ensemble), then each baseline's."""
    metrics = context.evaluation.metrics
    exported = _exported(context)
    other = exported.get("kind") != "best_trial" and isinstance(exported.get("test"), dict)
    names: list[str] = []
    for split in SPLITS:
        names += [m for m in metrics.get(split, {}) if m not in names]
    columns = [f"best trial · {split}" for split in SPLITS if split in metrics]
    if other:
        columns.append("exported · test")
    baselines = [b for b in context.baselines if "test" in context.baselines[b]]
    columns += [f"{b.replace('_', ' ')} · test" for b in baselines]
    rows = []
    for name in names:
        cells = [metrics[split].get(name) for split in SPLITS if split in metrics]
        if other:
            cells.append(exported["test"].get(name))
        cells += [context.baselines[b]["test"].get(name) for b in baselines]
        rows.append({"metric": name, "cells": [_number(c) for c in cells]})
    return {
        "columns": columns,
        "rows": rows,
        "descriptions": {b.replace("_", " "): DESCRIPTIONS.get(b, "") for b in baselines},
    }


def _headline_rows(headline: Headline) -> list[dict[str, Any]]:
    """The headline's table: the exported model, what else it carries, then each baseline."""
    entries = [(headline.exported, "exported")] + [(e, "extra") for e in headline.extras]
    entries += [
        (e, "best-baseline" if e is headline.best_baseline else "baseline")
        for e in headline.baselines
    ]
    return [
        {
            "label": entry.label,
            "role": role,
            "cells": [_number(entry.test.get(metric)) for metric in headline.columns],
        }
        for entry, role in entries
    ]


def _summary(context: ReportContext) -> list[tuple[str, str]]:
    """Label/value pairs for the summary's fact list."""
    task = context.task
    kind = task.kind + (f" ({task.n_classes} classes)" if task.is_classification else "")
    rows = [
        ("data", context.source),
        ("target", context.target),
        ("task", kind),
        ("rows", " · ".join(f"{s} {context.n_rows[s]}" for s in SPLITS if s in context.n_rows)),
        ("features", str(len(context.feature_columns))),
        (
            "trials",
            f"{context.search.n_completed} completed, {context.search.n_failed} failed"
            + (" — interrupted" if context.search.interrupted else ""),
        ),
        ("search time", _seconds(context.timings.get("search", context.search.seconds))),
    ]
    if "total" in context.timings:
        rows.append(("total time", _seconds(context.timings["total"])))
    rows += [(str(k).replace("_", " "), _number(v)) for k, v in context.config.items()]
    if context.exported:  # its test scores are at the top of the page
        rows.append(("exported model", f"model/: {describe_exported(context.exported)}"))
    elif context.exported_model:
        rows.append(("exported model", context.exported_model))
    return rows


def _captions(context: ReportContext) -> dict[str, str]:
    """Caption fragments that depend on the run: the units of scores, the points drawn."""
    scale = context.score_scale
    test = context.evaluation.predictions.get("test")
    rows = len(test.y_true) if test is not None else 0
    score = (
        f"validation RMSE {scale.units} (√objective × the training σ "
        f"{format_number(scale.target_std)})"
        if scale.regression
        else "validation loss (the objective)"
    )
    return {
        "units": scale.units,
        "score": score,
        "Score": score[0].upper() + score[1:],
        "points": (
            f" {MAX_POINTS:,} of the {rows:,} test rows are drawn, picked at random."
            if rows > MAX_POINTS
            else ""
        ),
    }


# ---------------------------------------------------------------------------------------------
# Page


def script_hash(script: str) -> str:
    """The CSP source that allows exactly `script` as an inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = _number
    env.filters["breakable"] = _breakable
    return env


def _breakable(text: str) -> Markup:
    """`text` escaped, with a line-break opportunity after each underscore (learning_rate)."""
    return Markup("_<wbr>").join(escape(part) for part in str(text).split("_"))


def render_report(context: ReportContext, figures: dict[str, Markup] | None = None) -> str:
    """The report as one HTML document.

    Every string is escaped by Jinja's autoescaping; only SVG from `plots.figure_to_svg`
    that passed `_checked_svg` is inserted as markup, and the one script is `SORT_SCRIPT`,
    allowed by its hash.

    Args:
        context: what the page shows.
        figures: `search_figures` and `model_figures` of the context merged, when already
            rendered (the pipeline draws them beside its other work); drawn here when None.

    Returns:
        The HTML text.
    """
    best = context.search.best
    diagnosis = context.diagnosis
    scale = context.score_scale
    if figures is None:
        figures = {
            **search_figures(context.search, context.seed, scale),
            **model_figures(context.task, best, context.evaluation, scale),
        }
    headline = make_headline(
        context.task.kind, _exported(context), context.baselines, context.n_rows.get("test")
    )
    trials = trials_table(context.search, scale, context.trial_diagnoses, diagnosis.verdict)
    test = context.evaluation.predictions.get("test")
    confusion = plots.confusion_data(context.task, test) if test is not None and (
        context.task.is_classification) else None
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=f"Tuning report — {context.source}",
            context=context,
            headline=headline,
            headline_rows=_headline_rows(headline),
            metric_names=METRIC_NAMES,
            warnings=[*context.warnings, *diagnosis.warnings],
            summary=_summary(context),
            best_hyperparameters=[(k, _number(v)) for k, v in context.best_hyperparameters.items()],
            metrics=_metrics_table(context),
            diagnosis=diagnosis,
            evidence=plain_evidence(diagnosis.evidence),
            trials=trials,
            best=best,
            figures=figures,
            captions=_captions(context),
            confusion_order=confusion.order if confusion is not None else "",
            classes=[str(c) for c in context.task.classes],
            regression=scale.regression,
            cross_validated=bool(best is not None and best.fold_scores),
            features=list(context.feature_columns),
            dropped=list(context.dropped_columns.items()),
            versions=list(context.versions.items()),
            script=Markup(SORT_SCRIPT),
            script_hash=Markup(script_hash(SORT_SCRIPT)),  # base64 and quotes: nothing to escape
        )
    )
