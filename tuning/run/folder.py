"""What a finished search leaves: the exported model, baselines, diagnosis, report, metrics.json.

`tuning.run.pipeline.run` calls these after the search, in this order; metrics.json is written last.
"""

from __future__ import annotations

import dataclasses
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


def evaluate_best(
    tuner: Any, best: Any, encoded: Any, task: Any, splits: Any, train_mask: Any = None
) -> tuple[Any, Any]:
    """Load the best trial's network and score it on every split.

    With cross-validation (`train_mask`), training rows are scored by the folds that trained on
    them, validation rows by the fold that held them out, test rows by all folds' mean.

    Returns:
        The trial's model and its `reports.evaluation.Evaluation`.
    """
    from data.splits import SPLIT_NAMES
    from models.ensemble import split_outputs
    from reports.evaluation import evaluate, predictions_from_output

    model = _load_trial(tuner, best.trial_id)
    outputs = split_outputs(model, encoded.x_for(_encoding(best.hyperparameters)), train_mask)
    predictions = {
        name: predictions_from_output(task, splits.y[name], encoded.original_units(outputs[name]))
        for name in SPLIT_NAMES
    }
    evaluation = evaluate(task, predictions)
    if train_mask is not None:  # the rows the search chose on: every fold's held-out rows
        evaluation = dataclasses.replace(
            evaluation, held_out=_held_out_loss(model, best, encoded, task, splits, train_mask))
    if task.kind == "regression" and encoded.target_transform.kind != "none":
        # The training history's losses are on the learned scale: so is the diagnosis' U4.
        plain = float(np.mean((outputs["train"].reshape(-1) - encoded.y["train"].reshape(-1)) ** 2))
        evaluation = dataclasses.replace(evaluation, history_train_loss=plain)
    return model, evaluation


def _held_out_loss(
    model: Any, best: Any, encoded: Any, task: Any, splits: Any, train_mask: Any
) -> tuple[float, int]:
    """A cross-validated trial's loss over all train+validation rows, each predicted by the
    fold that held it out (in the metrics' units), and how many rows that is."""
    from data.encoding import call_in_blocks
    from models.fold_training import held_out_predictions
    from reports.evaluation import predictions_from_output, score

    x = encoded.x_for(_encoding(best.hyperparameters))
    shared = call_in_blocks(model, np.concatenate([x["train"], x["validation"]]))
    held = encoded.original_units(held_out_predictions(shared, train_mask))
    y = np.concatenate([np.asarray(splits.y["train"]), np.asarray(splits.y["validation"])])
    return float(score(task, predictions_from_output(task, y, held))["loss"]), len(y)


def _encoding(hyperparameters: dict[str, Any]) -> str:
    """A trial's numeric encoding (runs from before it was searched: standard)."""
    return str(hyperparameters.get("numeric_encoding", "standard"))


def _load_trial(tuner: Any, trial_id: str) -> Any:
    import warnings

    with warnings.catch_warnings():
        # Only weights are checkpointed; the optimizer's state is not needed to predict.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return tuner.load_model(tuner.oracle.trials[trial_id])


def ensemble_size(config: RunConfig) -> int:
    """Most distinct trials in the exported model: --ensemble, or the automatic default (1
    with --refit, which retrains the best configuration: an ensemble of retrained members
    needs --ensemble K)."""
    if config.ensemble is not None:
        return config.ensemble
    return 1 if config.refit else DEFAULT_ENSEMBLE


# Trials the exported model averages when --ensemble is not given (chosen on the quality
# benchmark: see README, "Quality").
DEFAULT_ENSEMBLE = 5


def choose_members(
    config: RunConfig, result: Any, run_dir: Any, encoded: Any, task: Any, train_mask: Any
) -> Any:
    """Greedy ensemble selection over the completed trials' held-out predictions.

    Returns:
        A `models.ensemble.Selection`; with --ensemble 1, the best trial alone.
    """
    from models.ensemble import Selection, greedy_selection, selection_loss

    best = result.best
    if ensemble_size(config) <= 1:
        return Selection({best.trial_id: 1.0}, float(best.score), float(best.score))
    y = encoded.y["validation"] if train_mask is None else np.concatenate(
        [encoded.y["train"], encoded.y["validation"]])
    predictions = {}
    for trial in result.trials:
        path = run_dir / "predictions" / f"trial_{trial.trial_id}.npy"
        if trial.completed and path.exists():
            values = np.load(path)
            if len(values) == len(y) and np.isfinite(values).all():
                predictions[trial.trial_id] = values
    if best.trial_id not in predictions:
        return Selection({best.trial_id: 1.0}, float(best.score), float(best.score))
    return greedy_selection(predictions, y, selection_loss(task.kind), ensemble_size(config))


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
    result: Any,
    best_model: tuple[Any, Any],
    report: Callable[[str], None],
    train_mask: Any = None,
) -> ReadyExport:
    """The model to export, composed with the preprocessing, and how it scores.

    The networks of the trials ensemble selection chose (`choose_members`; with --ensemble 1
    the best trial's), or with --refit their configurations retrained on train+validation; its
    test metrics come from the composed model itself on the raw test rows (issue 4).
    """
    import keras_tuner as kt

    from models.ensemble import fold_count, split_outputs
    from models.export import ExportedModel, compose
    from models.predictor import predict_rows
    from models.refit import refit, trained_epochs
    from reports.evaluation import evaluate, predictions_from_output

    task, splits, best = prepared.task, prepared.splits, result.best
    model, evaluation = best_model  # the best trial's, from `evaluate_best`
    selection = choose_members(config, result, prepared.run_dir, encoded, task, train_mask)
    records = {t.trial_id: t for t in result.trials}
    members, outputs, total_networks = [], {}, 0
    refit_note = ""
    for trial_id, weight in selection.weights.items():
        trial_model = model if trial_id == best.trial_id else _load_trial(tuner, trial_id)
        encoding = _encoding(records[trial_id].hyperparameters)
        x_of = encoded.x_for(encoding)
        trial_outputs = split_outputs(trial_model, x_of, train_mask)
        for name, values in trial_outputs.items():
            outputs[name] = outputs.get(name, 0.0) + weight * values
        # A cross-validated trial's K fold networks stay stacked: one member, averaged inside.
        networks, count = [trial_model], fold_count(trial_model)
        if config.refit:
            record = records[trial_id]
            hp = tuner.oracle.trials[trial_id].hyperparameters
            epochs = trained_epochs(record.best_epoch or record.epochs, hp.values)
            report(f"refit: trial {trial_id}'s configuration on train+validation, {epochs} epochs")
            x = np.concatenate([x_of["train"], x_of["validation"]])
            y = np.concatenate([encoded.y["train"], encoded.y["validation"]])
            seed = config.seed * 1000 + int(trial_id)  # the seed the trial itself ran with
            try:
                networks = [refit(tuner.hypermodel.single(), hp, x, y, epochs, seed)]
                count = 1
            except kt.errors.FailedTrialError as exc:
                refit_note = f"refit failed ({exc}); the trials' own networks were exported instead"
                report(f"warning: {refit_note}")
        members += [(network, weight / len(networks), encoding) for network in networks]
        total_networks += count
    refitted = config.refit and not refit_note
    hp = tuner.oracle.trials[best.trial_id].hyperparameters
    epochs = trained_epochs(best.best_epoch or best.epochs, hp.values)
    if len(selection.weights) > 1:
        kind = "ensemble"
    else:
        kind = "refit" if refitted else "best_trial"
    trained_on = ("train", "validation") if refitted or train_mask is not None else ("train",)
    exported_model = compose(encoded, members, task)
    output = predict_rows(exported_model, encoded.preprocessing, splits.x["test"])
    test = evaluate(task, {"test": predictions_from_output(task, splits.y["test"], output)})
    ensemble_splits = evaluate(task, {
        name: predictions_from_output(task, splits.y[name], encoded.original_units(values))
        for name, values in outputs.items()
    })
    exported = ExportedModel(
        kind, best.trial_id, epochs, trained_on, test.metrics["test"], refit_note,
        members=tuple(selection.weights.items()), networks=total_networks,
        splits=ensemble_splits.metrics,
        single_best={"trial_id": best.trial_id, **evaluation.metrics},
    )
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


def start_baselines(
    config: RunConfig, prepared: Prepared, encoded: Any, train_mask: Any = None
) -> Any:
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
            train_mask=train_mask,
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
        epochs=config.epochs, history_train_loss=evaluation.history_train_loss,
        exported=_exported_loss(ready), held_out=evaluation.held_out,
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


def _exported_loss(ready: ReadyExport) -> tuple[str, float] | None:
    """What was exported and its test loss, for the diagnosis, unless it is the best trial's
    network as it trained (whose test loss the diagnosis has already)."""
    from reports.headline import describe_exported

    record = ready.record()
    loss = record.get("test", {}).get("loss")
    if record.get("kind") == "best_trial" or loss is None:
        return None
    return describe_exported(record), float(loss)


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
    from reports.headline import describe_exported

    described = describe_exported(exported)
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
            **_method_rows(metrics, exported, best, scale),
        },
        trial_diagnoses={
            t.trial_id: diagnose_trial(t, patience=config.patience) for t in result.trials
        },
        timings={"search": result.seconds, "total": metrics["seconds"]["total"]},
        exported_model=f"model/model.keras: {described}"
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
        # Known only once the search has ended with a model: null in an interrupted or failed
        # run's record (the complete run's replaces them).
        "baselines": None,
        "diagnosis": None,
        "exported_model": None,
    }


def _method_rows(
    metrics: dict[str, Any], exported: dict[str, Any], best: Any, scale: Any
) -> dict[str, str]:
    """The summary's lines on how trials were scored and what the exported model averages."""
    rows = {}
    if metrics.get("target_transform"):
        rows["target scale"] = metrics["target_transform"]["reason"] + (
            "; every score is back in the target's units" if
            metrics["target_transform"]["kind"] != "none" else "")
    cv = metrics.get("cv")
    if cv:
        scores = np.asarray(scale.readable_array(np.asarray(best.fold_scores)), dtype=float)
        spread = (f"; the best trial's fold {scale.name.removeprefix('validation ')} "
                  f"{scores.min():.4g} to {scores.max():.4g} (mean {scores.mean():.4g}, "
                  f"standard deviation {scores.std():.2g})" if scores.size else "")
        rows["cross-validation"] = (f"{cv['folds']} folds of train+validation "
                                    f"({cv['rows']} rows){spread}")
    else:
        rows["cross-validation"] = "off (trials scored on the validation split)"
    members = exported.get("members") or []
    if len(members) > 1:
        rows["ensemble"] = ", ".join(
            f"trial {m['trial_id']} ({m['weight']:.2f})" for m in members
        ) + " — weights chosen on held-out predictions, never on test"
    return rows
