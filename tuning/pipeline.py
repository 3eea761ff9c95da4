"""The whole run: CSV → splits → preprocessing → hypermodel → search → best model → outputs."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from data.cleaning import CleanData, clean
from data.loading import Dataset, drop_columns, load_bundled, load_csv
from data.splits import Splits, encode_target, split
from data.task import Task, infer_task
from tuning import distributed
from tuning.config import RunConfig, settings_differences
from tuning.errors import ConfigError, SearchFailedError, SearchInterrupted
from tuning.files import remove_stale_temporaries, write_json, write_text
from tuning.space import SearchSpace, load_space


@dataclass(frozen=True)
class Prepared:
    """Everything checked before the run folder is made: bad input never leaves a folder."""

    dataset: Dataset
    data: CleanData
    task: Task
    splits: Splits
    space: SearchSpace
    run_dir: Path


def _run_name(config: RunConfig, dataset: Dataset) -> str:
    if config.name:
        return config.name
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in dataset.name)[:40] or "run"
    return f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"


def _check_run_dir(config: RunConfig, run_dir: Path) -> None:
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out '{out}' is a file, not a folder. Pass a folder for run outputs.")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(
            f"Cannot create --out '{out}': '{probe}' is a file, not a folder. Pass --out with a "
            "folder path."
        )
    import os

    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"Cannot write to output folder '{out}'. Pass --out with a writable folder.")
    if config.resume:
        if not (run_dir / "settings.json").exists():
            raise ConfigError(
                f"Nothing to resume at '{run_dir}': it is not a run folder of this tool. "
                "Check --out and --name."
            )
    elif run_dir.exists():
        raise ConfigError(
            f"Run folder '{run_dir}' already exists. Pass --resume to continue it, or another --name."
        )


def prepare(config: RunConfig, report: Callable[[str], None] = print) -> Prepared:
    """Load, clean and split the data and read the search space; check the run folder.

    Raises:
        ConfigError, DataError: on any bad input, before anything is written.
    """
    space = load_space(config.space)
    if config.data is not None:
        dataset = load_csv(config.data, config.target)
    else:
        dataset = load_bundled(config.dataset_name)
    dataset = drop_columns(dataset, config.drop)
    data = clean(dataset)
    task = infer_task(data.target, config.task)
    splits = split(
        data.features, encode_target(data.target, task), task,
        config.val_size, config.test_size, config.seed,
    )
    run_dir = config.run_dir(_run_name(config, dataset))
    if not config.worker:  # a worker joins the chief's run folder: distributed.join checks it
        _check_run_dir(config, run_dir)
    for note in data.notes:
        report(f"warning: {note}")
    kinds = {k: sum(c.kind == k for c in data.columns) for k in ("numeric", "boolean", "categorical")}
    report(
        f"data: {dataset.source}: {len(data.target)} rows, {len(data.columns)} features "
        f"({', '.join(f'{v} {k}' for k, v in kinds.items() if v)}), target '{dataset.target}'"
    )
    report(f"task: {task.kind}, because {task.reason}")
    sizes = splits.sizes()
    report(f"splits: train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']}"
           f" (seed {config.seed})")
    return Prepared(dataset, data, task, splits, space, run_dir)


def _check_resume(config: RunConfig, run_dir: Path) -> None:
    import json

    try:
        saved = json.loads((run_dir / "settings.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Cannot resume '{run_dir}': its settings.json cannot be read ({exc}). Start a new "
            "run with another --name."
        ) from None
    differ = settings_differences(saved, config.settings())
    if differ:
        detail = "; ".join(differ)
        raise ConfigError(
            f"--resume with different settings ({detail}). Repeat the original options, or start "
            "a new run with another --name."
        )


def _configure_tensorflow(config: RunConfig) -> None:
    """Seed everything; give TensorFlow's thread pools the machine's cores deliberately."""
    import os

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    cores = os.cpu_count() or 1
    per_worker = config.threads or max(1, cores // config.workers)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(per_worker)
        tf.config.threading.set_inter_op_parallelism_threads(1 if per_worker == 1 else 2)
    except RuntimeError:  # already initialized in this process (tests run many pipelines)
        pass
    # Keras Tuner runs two full garbage collections per trial (clear_session + gc.collect in
    # Tuner._try_build); traversing TensorFlow's ~400k long-lived module objects costs 0.3-0.6 s
    # each. Freezing what exists now (imports, data) leaves only the trials' own garbage to scan.
    import gc

    gc.freeze()


def _export(config: RunConfig, prepared: Prepared, encoded: Any, tuner: Any, best: Any,
            model: Any, report: Callable[[str], None]) -> dict[str, Any]:
    """Write `<run>/model/` and return metrics.json's "exported_model" (issue 4).

    Exports the best trial's network or, with --refit, its configuration retrained on
    train+validation; the test metrics come from the exported model itself on the raw test rows.
    """
    import keras_tuner as kt

    from models.export import ExportedModel, compose, export_model
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
    export_model(prepared.run_dir / "model", exported_model, encoded, task,
                 target=prepared.dataset.target, hyperparameters=best.hyperparameters,
                 exported=exported, raw=prepared.dataset.frame, source=prepared.dataset.source)
    report(f"model: {kind} exported to {prepared.run_dir / 'model'}")
    return exported.to_dict()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("tensorflow-cpu", "keras", "keras-tuner", "numpy", "pandas", "scikit-learn"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _diagnose_and_report(
    config: RunConfig,
    prepared: Prepared,
    encoded: Any,
    result: Any,
    evaluation: Any,
    exported: dict[str, Any],
    metrics: dict[str, Any],
    report: Callable[[str], None],
) -> dict[str, Any]:
    """Baselines on the same splits, the over/underfitting diagnosis, and report.html (issue 3).

    Returns:
        metrics.json's "baselines" and "diagnosis" entries.
    """
    from reports.baselines import fit_baselines
    from reports.diagnosis import diagnose, diagnose_trial
    from reports.html import ReportContext, write_report

    task, splits, best = prepared.task, prepared.splits, result.best
    baselines = fit_baselines(
        task, encoded.x["train"], splits.y["train"], encoded.x["test"], splits.y["test"],
        config.seed, x_val=encoded.x["validation"], y_val=splits.y["validation"],
    )
    diagnosis = diagnose(task, evaluation.metrics, baselines, best,
                         patience=config.patience, epochs=config.epochs)
    report(f"diagnosis: {diagnosis.verdict}"
           + (f" ({'; '.join(diagnosis.reasons)})" if getattr(diagnosis, "reasons", None) else ""))
    test = exported.get("test") or {}
    described = "best trial's network" if exported.get("kind") == "best_trial" else (
        "best configuration retrained on train+validation")
    shown = ", ".join(f"{k} {v:.4g}" for k, v in test.items() if isinstance(v, (int, float)))
    context = ReportContext(
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
        config={"tuner": config.tuner, "max_trials": config.max_trials, "epochs": config.epochs,
                "patience": config.patience, "seed": config.seed, "val_size": config.val_size,
                "test_size": config.test_size, "workers": config.workers,
                "space": config.space or "built-in"},
        trial_diagnoses={t.trial_id: diagnose_trial(t, patience=config.patience)
                         for t in result.trials},
        timings={"search": result.seconds, "total": metrics["seconds"]["total"]},
        exported_model=f"model/model.keras: the {described}" + (f" (test {shown})" if shown else ""),
        versions=_versions(),
        created=datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        seed=config.seed,
    )
    write_report(prepared.run_dir / "report.html", context)
    report(f"report: {prepared.run_dir / 'report.html'}")
    return {"baselines": baselines, "diagnosis": diagnosis.to_dict()}


def _make_run_dir(config: RunConfig, run_dir: Path) -> None:
    """Create the run folder with its settings.json, or nothing at all."""
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the run folder '{run_dir}' ({exc.strerror or exc}). Pass --out with "
            "a folder you can write to."
        ) from None
    try:
        write_json(run_dir / "settings.json", config.settings())
    except OSError as exc:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
        raise ConfigError(
            f"Cannot write to the run folder '{run_dir}' ({exc.strerror or exc}). Pass --out with "
            "a folder you can write to."
        ) from None


def _metrics(
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
        "trials": {"completed": result.n_completed, "failed": result.n_failed,
                   "requested": config.max_trials, "interrupted": result.interrupted},
        "seconds": {"search": round(result.seconds, 3),
                    "total": round(time.perf_counter() - started, 3)},
    }


def run(config: RunConfig, report: Callable[[str], None] = print) -> Path:
    """Tune, evaluate and write the run folder.

    Returns:
        The run folder.

    Raises:
        ConfigError, DataError: bad input; nothing is written.
        SearchFailedError: every trial failed; trials.csv and metrics.json (status "failed")
            are still written.
        SearchInterrupted: Ctrl-C during the search; trials.csv and metrics.json (status
            "interrupted", the best trial so far) are written, and --resume continues.
    """
    started = time.perf_counter()
    prepared = prepare(config, report)
    run_dir = prepared.run_dir
    if config.worker:
        distributed.join(config, run_dir, report)
    elif config.resume:
        _check_resume(config, run_dir)
        # Until this session ends, the folder is not a finished run (see _metrics).
        (run_dir / "metrics.json").unlink(missing_ok=True)
        remove_stale_temporaries(run_dir)  # what a killed session's atomic writes left
    else:
        _make_run_dir(config, run_dir)
    # Parallel trials: workers start now, loading TensorFlow and the data alongside this process.
    chief = distributed.Chief(config, run_dir, report) if distributed.is_chief(config) else None

    # TensorFlow is imported only now, so bad input is reported instantly.
    from models.heads import head_for
    from models.hypermodel import MLPHyperModel
    from reports.evaluation import evaluate, predictions_from_output
    from data.encoding import encode_splits
    from tuning.search import run_search, trials_csv
    from tuning.tuners import make_tuner

    _configure_tensorflow(config)
    task, splits = prepared.task, prepared.splits
    encoded = encode_splits(prepared.data.columns, splits, task)
    hypermodel = MLPHyperModel(
        encoded.n_features, head_for(task), prepared.space, config.epochs, config.patience
    )
    tuner = make_tuner(config, hypermodel, run_dir, report)
    report(f"search: {config.tuner}, {config.max_trials} trials, up to {config.epochs} epochs each, "
           f"early stopping {'patience ' + str(config.patience) if config.patience else 'off'}")
    if config.worker:
        distributed.work(tuner, encoded.fit_data("train"), encoded.fit_data("validation"), config,
                         report)
        return run_dir
    if chief is not None:
        result = chief.search(tuner, encoded.fit_data("train"), encoded.fit_data("validation"))
    else:
        result = run_search(tuner, encoded.fit_data("train"), encoded.fit_data("validation"),
                            report)
    write_text(run_dir / "trials.csv", trials_csv(result))
    if result.best is None:
        status = "interrupted" if result.interrupted else "failed"
        write_json(run_dir / "metrics.json", _metrics(config, prepared, result, started, status))
        if result.interrupted:
            raise SearchInterrupted(run_dir, result.n_completed + result.n_failed)
        raise SearchFailedError(
            f"All {len(result.trials)} trials failed, so there is no model (see {run_dir}/trials.csv;"
            f" first reason: {result.trials[0].message if result.trials else 'none ran'}). "
            "Narrow the search space with --space, e.g. lower learning rates."
        )

    best = result.best
    with warnings.catch_warnings():
        # Only weights are checkpointed; the optimizer's state is not needed to predict.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = tuner.load_model(tuner.oracle.trials[best.trial_id])
    outputs = {name: encoded.predict(model, name) for name in ("train", "validation", "test")}
    evaluation = evaluate(
        task, {name: predictions_from_output(task, splits.y[name], out) for name, out in outputs.items()}
    )
    if result.interrupted:  # the best trial so far is evaluated; no export until the search ends
        metrics = _metrics(config, prepared, result, started, "interrupted", evaluation.metrics)
        write_json(run_dir / "metrics.json", metrics)
        raise SearchInterrupted(run_dir, result.n_completed + result.n_failed)
    exported = _export(config, prepared, encoded, tuner, best, model, report)
    metrics = _metrics(config, prepared, result, started, "complete", evaluation.metrics)
    metrics["exported_model"] = exported
    metrics.update(_diagnose_and_report(config, prepared, encoded, result, evaluation, exported,
                                        metrics, report))
    # metrics.json is written last, so a folder whose metrics.json says "complete" is finished.
    write_json(run_dir / "metrics.json", metrics)
    test = evaluation.metrics["test"]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in test.items() if v is not None)
    report(f"best trial {best.trial_id}: test {shown}")
    report(f"run folder: {run_dir}")
    return run_dir
