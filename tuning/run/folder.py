"""What a finished search leaves: the exported model, baselines, diagnosis, report, metrics.json.

`tuning.run.pipeline.run` calls these after the search, in this order; metrics.json is written last.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from common import compat
from tuning.config import RunConfig

if TYPE_CHECKING:
    from tuning.run.prepare import Prepared


def evaluate_best(tuner: Any, best: Any, encoded: Any, task: Any, splits: Any) -> tuple[Any, Any]:
    """Load the best trial's network and score it on every split.

    Returns:
        The network and its `reports.evaluation.Evaluation`.
    """
    import warnings

    from data.splits import SPLIT_NAMES
    from reports.evaluation import evaluate, predictions_from_output

    with warnings.catch_warnings():
        # Only weights are checkpointed; the optimizer's state is not needed to predict.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = tuner.load_model(tuner.oracle.trials[best.trial_id])
    predictions = {
        name: predictions_from_output(task, splits.y[name], encoded.predict(model, name))
        for name in SPLIT_NAMES
    }
    return model, evaluate(task, predictions)


@dataclass(frozen=True)
class ReadyExport:
    """The network to export, composed with the preprocessing, before anything is written.

    Attributes:
        model: the composed Keras model (`models.export.compose`): raw columns in, the task's
            output out.
        exported: which network it is and its test metrics (`models.export.ExportedModel`).
        hyperparameters: the exported network's hyperparameters.
    """

    model: Any
    exported: Any
    hyperparameters: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """metrics.json's "exported_model"."""
        return self.exported.to_dict()


def prepare_export(
    config: RunConfig,
    prepared: Prepared,
    encoded: Any,
    tuner: Any,
    best: Any,
    model: Any,
    report: Callable[[str], None],
) -> ReadyExport:
    """The model to export: the best trial's network or, with --refit, its configuration
    retrained on train+validation, composed with the preprocessing; its test metrics come from
    the composed model itself on the raw test rows."""
    import keras_tuner as kt

    from models.export import ExportedModel, compose
    from models.predictor import predict_rows
    from models.refit import refit, trained_epochs
    from reports.evaluation import evaluate, predictions_from_output

    task, splits = prepared.task, prepared.splits
    hp = tuner.oracle.trials[best.trial_id].hyperparameters
    epochs = trained_epochs(best.best_epoch or best.epochs, hp.values)
    kind, trained_on, note, network = "best_trial", ("train",), "", model
    if config.refit:
        report(f"refit: trial {best.trial_id}'s configuration on train+validation, {epochs} epochs")
        x = np.concatenate([encoded.x["train"], encoded.x["validation"]])
        y = np.concatenate([encoded.y["train"], encoded.y["validation"]])
        seed = config.seed * 1000 + int(best.trial_id)  # the seed the trial itself ran with
        try:
            network = refit(tuner.hypermodel, hp, x, y, epochs, seed)
            kind, trained_on = "refit", ("train", "validation")
        except kt.errors.FailedTrialError as exc:
            note = f"refit failed ({exc}); the best trial's model was exported instead"
            report(f"warning: {note}")
    exported_model = compose(encoded, network, task)
    output = predict_rows(exported_model, encoded.preprocessing, splits.x["test"])
    test = evaluate(task, {"test": predictions_from_output(task, splits.y["test"], output)})
    exported = ExportedModel(kind, best.trial_id, epochs, trained_on, test.metrics["test"], note)
    return ReadyExport(exported_model, exported, best.hyperparameters)


def export_best(
    prepared: Prepared, encoded: Any, ready: ReadyExport, report: Callable[[str], None]
) -> None:
    """Write `<run>/model/` (model.keras, saved_model/, metadata.json) in one step."""
    from models.export import export_model

    export_model(
        prepared.run_dir / "model",
        ready.model,
        encoded,
        prepared.task,
        target=prepared.dataset.target,
        hyperparameters=ready.hyperparameters,
        exported=ready.exported,
        raw=prepared.dataset.frame,
        source=prepared.dataset.source,
    )
    report(f"model: {ready.exported.kind} exported to {prepared.run_dir / 'model'}")


def start_baselines(config: RunConfig, prepared: Prepared, encoded: Any) -> Any:
    """Start fitting the baselines (naive, linear, gradient boosting) beside the search.

    They need only the encoded splits, so they are fitted while the search runs, in a forked
    child process (`reports.forked`): a trial's time is mostly one thread's Python and
    per-step overhead, which leaves the second core idle, and a process of their own keeps the
    fits off the GIL that the trials' graph tracing needs. When the trials take every core
    (`--workers` = cores), the child runs at the lowest priority, so that it takes the time the
    trials leave idle (the last trial's tail, the gaps between trials) instead of slowing every
    trial (README, Performance). Where forking is not available, a daemon thread does it (so
    Ctrl-C or a failed search never waits for it).

    Returns:
        An object with `result()` and `cancel()`, like a `concurrent.futures.Future`: the result
        of `reports.baselines.fit_baselines`, or its exception.
    """
    from reports.baselines import fit_baselines
    from reports.forked import ForkedCall, can_fork

    splits = prepared.splits

    def fit() -> dict[str, Any]:
        return fit_baselines(
            prepared.task,
            encoded.x["train"],
            splits.y["train"],
            encoded.x["test"],
            splits.y["test"],
            config.seed,
            x_val=encoded.x["validation"],
            y_val=splits.y["validation"],
        )

    if can_fork():
        cores_busy = config.workers >= (os.cpu_count() or 1)
        return ForkedCall(fit, nice=19 if cores_busy else 0)
    future: Future = Future()

    def fit_into_future() -> None:
        try:
            future.set_result(fit())
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=fit_into_future, name="baselines", daemon=True).start()
    return future


def start_search_figures(config: RunConfig, result: Any, scale: Any = None) -> Any:
    """Start rendering the report's plots of the search, as soon as it has ended.

    They are most of the page's time and need only the trials, so a forked child
    (`reports.forked`) draws them while this process evaluates and exports the best model,
    which is TensorFlow's work. Without fork they are drawn here when the page is.

    Args:
        scale: a `reports.scores.ScoreScale` (regression: scores as RMSE in the target's
            units); None plots the objective as it is.

    Returns:
        A `reports.forked.ForkedCall` of `reports.html.search_figures`.
    """
    from reports.forked import ForkedCall
    from reports.html import search_figures
    from reports.scores import ScoreScale

    return ForkedCall(lambda: search_figures(result, config.seed, scale or ScoreScale()))


def export_and_report(
    config: RunConfig,
    prepared: Prepared,
    encoded: Any,
    ready: ReadyExport,
    result: Any,
    evaluation: Any,
    baselines: Any,
    figures: Any,
    metrics: dict[str, Any],
    report: Callable[[str], None],
) -> dict[str, Any]:
    """Write the model folder and report.html, with the over/underfitting diagnosis.

    The best model's plots and the export come first: they overlap the search's plots
    (`start_search_figures`) and the baselines' last seconds, if they are still being fitted.

    Args:
        baselines: what `start_baselines` returned.
        figures: what `start_search_figures` returned.

    Returns:
        metrics.json's "baselines" and "diagnosis" entries.
    """
    from common.files import write_text
    from reports.diagnosis import diagnose
    from reports.html import model_figures, render_report
    from reports.scores import ScoreScale

    scale = ScoreScale.for_task(prepared.task.kind, encoded.target_std)
    # Drawn here while the child draws the search's plots, then the model is written.
    drawn = model_figures(prepared.task, result.best, evaluation, scale)
    export_best(prepared, encoded, ready, report)
    fitted = baselines.result()
    diagnosis = diagnose(
        prepared.task, evaluation.metrics, fitted, result.best, patience=config.patience,
        epochs=config.epochs,
    )
    report(verdict_line(diagnosis))
    for warning in diagnosis.warnings:  # they qualify the verdict: not only in the report
        report(f"diagnosis warning: {warning}")
    context = _report_context(config, prepared, result, evaluation, fitted, diagnosis, ready,
                              metrics, scale)
    page = render_report(context, {**figures.result(), **drawn})
    write_text(prepared.run_dir / "report.html", page)
    report(f"report: {prepared.run_dir / 'report.html'}")
    return {"baselines": fitted, "diagnosis": diagnosis.to_dict()}


def verdict_line(diagnosis: Any) -> str:
    """The console's line for the verdict: "diagnosis: underfitting (U2: ...; U3: ...)"."""
    reasons = "; ".join(reason.rstrip(".") for reason in diagnosis.reasons)
    return f"diagnosis: {diagnosis.verdict}" + (f" ({reasons})" if reasons else "")


def _report_context(
    config: RunConfig,
    prepared: Prepared,
    result: Any,
    evaluation: Any,
    baselines: dict[str, Any],
    diagnosis: Any,
    ready: ReadyExport,
    metrics: dict[str, Any],
    scale: Any,
) -> Any:
    """What the report's page shows (a `reports.html.ReportContext`)."""
    from reports.diagnosis import diagnose_trial
    from reports.html import ReportContext

    task, splits, best = prepared.task, prepared.splits, result.best
    exported = ready.record()
    test = exported.get("test") or {}
    described = (
        "best trial's network"
        if exported.get("kind") == "best_trial"
        else ("best configuration retrained on train+validation")
    )
    shown = ", ".join(f"{k} {v:.4g}" for k, v in test.items() if isinstance(v, (int, float)))
    return ReportContext(
        source=prepared.dataset.source,
        task=task,
        target=prepared.dataset.target,
        n_rows=splits.sizes(),
        feature_columns=tuple(c.name for c in prepared.data.columns),
        search=result,
        best_hyperparameters=best.hyperparameters,
        evaluation=evaluation,
        baselines=baselines,
        diagnosis=diagnosis,
        dropped_columns=prepared.data.dropped,
        warnings=tuple(prepared.data.notes),
        config={
            "tuner": config.tuner,
            "max_trials": config.max_trials,
            "epochs": config.epochs,
            "patience": config.patience,
            "seed": config.seed,
            "val_size": config.val_size,
            "test_size": config.test_size,
            "workers": config.workers,
            "space": config.space or "built-in",
        },
        trial_diagnoses={
            t.trial_id: diagnose_trial(t, patience=config.patience) for t in result.trials
        },
        timings={"search": result.seconds, "total": metrics["seconds"]["total"]},
        exported_model=f"model/model.keras: the {described}"
        + (f" (test {shown})" if shown else ""),
        versions=compat.versions(),
        created=datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        seed=config.seed,
        exported=exported,
        score_scale=scale,
    )


def metrics_record(
    config: RunConfig,
    prepared: Prepared,
    result: Any,
    started: float,
    status: str,
    evaluation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """metrics.json's contents; `status` is "complete", "interrupted" (Ctrl-C: the best trial
    so far) or "failed" (every trial failed: no model, so no metrics)."""
    task, best = prepared.task, result.best
    return {
        "status": status,
        "task": task.kind,
        "task_reason": task.reason,
        "target": prepared.dataset.target,
        "source": prepared.dataset.source,
        "classes": list(task.classes),
        "objective": "val_loss",
        "tuner": config.tuner,
        "n_rows": prepared.splits.sizes(),
        "features": [{"name": c.name, "kind": c.kind} for c in prepared.data.columns],
        "dropped_columns": prepared.data.dropped,
        "best_trial": best.trial_id if best else None,
        "best_hyperparameters": best.hyperparameters if best else None,
        "metrics": evaluation or {},
        "trials": {
            "completed": result.n_completed,
            "failed": result.n_failed,
            "requested": config.max_trials,
            "interrupted": result.interrupted,
        },
        "seconds": {
            "search": round(result.seconds, 3),
            "total": round(time.perf_counter() - started, 3),
        },
    }
