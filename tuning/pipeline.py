"""The whole run: CSV → splits → preprocessing → hypermodel → search → best model → outputs."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tuning import distributed, outputs, worker
from tuning.config import RunConfig, settings_differences
from tuning.errors import ConfigError, SearchFailedError, SearchInterrupted
from tuning.files import remove_stale_temporaries, write_json, write_text
from tuning.space import SearchSpace, load_space

if TYPE_CHECKING:
    from data.cleaning import CleanData
    from data.loading import Dataset
    from data.splits import Splits
    from data.task import Task
    from tuning.records import SearchResult


@dataclass(frozen=True)
class Prepared:
    """Everything checked before the run folder is made: bad input never leaves a folder."""

    dataset: Dataset
    data: CleanData
    task: Task
    splits: Splits
    space: SearchSpace
    run_dir: Path


def _run_name(config: RunConfig) -> str:
    """--name, or the data's name (the CSV's stem, the bundled set's name) and the time."""
    if config.name:
        return config.name
    name = Path(config.data).stem if config.data is not None else config.dataset_name
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] or "run"
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
        raise ConfigError(
            f"Cannot write to output folder '{out}'. Pass --out with a writable folder."
        )
    if config.resume:
        if not (run_dir / "settings.json").exists():
            raise ConfigError(
                f"Nothing to resume at '{run_dir}': it is not a run folder of this tool. "
                "Check --out and --name."
            )
    elif run_dir.exists():
        raise ConfigError(
            f"Run folder '{run_dir}' already exists. Pass --resume to continue it, or another "
            "--name."
        )


def prepare(config: RunConfig, report: Callable[[str], None] = print) -> Prepared:
    """Load, clean and split the data and read the search space; check the run folder.

    Raises:
        ConfigError, DataError: on any bad input, before anything is written.
    """
    # pandas and scikit-learn load only now: a chief has started its workers by this time.
    from data.cleaning import clean
    from data.loading import drop_columns, load_bundled, load_csv
    from data.splits import encode_target, split
    from data.task import infer_task

    space = load_space(config.space)
    if config.data is not None:
        dataset = load_csv(config.data, config.target)
    else:
        dataset = load_bundled(config.dataset_name)
    dataset = drop_columns(dataset, config.drop)
    data = clean(dataset)
    task = infer_task(data.target, config.task)
    splits = split(
        data.features,
        encode_target(data.target, task),
        task,
        config.val_size,
        config.test_size,
        config.seed,
    )
    run_dir = config.run_dir(_run_name(config))
    if not config.worker:  # a worker joins the chief's run folder: worker.join checks it
        _check_run_dir(config, run_dir)
    for note in data.notes:
        report(f"warning: {note}")
    kinds = {
        k: sum(c.kind == k for c in data.columns) for k in ("numeric", "boolean", "categorical")
    }
    report(
        f"data: {dataset.source}: {len(data.target)} rows, {len(data.columns)} features "
        f"({', '.join(f'{v} {k}' for k, v in kinds.items() if v)}), target '{dataset.target}'"
    )
    report(f"task: {task.kind}, because {task.reason}")
    sizes = splits.sizes()
    report(
        f"splits: train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']}"
        f" (seed {config.seed})"
    )
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
    if not isinstance(saved, dict):
        raise ConfigError(
            f"Cannot resume '{run_dir}': its settings.json holds {json.dumps(saved)[:40]}, not "
            "the object of settings this tool writes. Start a new run with another --name."
        )
    differ = settings_differences(saved, config.settings())
    if differ:
        detail = "; ".join(differ)
        raise ConfigError(
            f"--resume with different settings ({detail}). Repeat the original options, or start "
            "a new run with another --name."
        )


def _configure_tensorflow(config: RunConfig, space: SearchSpace) -> None:
    """Seed everything; give TensorFlow's thread pools the machine's cores deliberately."""

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    per_worker = config.threads or distributed.threads_per_worker(config.workers, space)
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


def _space_exhausted(config: RunConfig, result: SearchResult) -> str | None:
    """What to say when the search ended before --max-trials because the space ran out.

    Keras Tuner stops a grid search after its last combination, and a random or Bayesian one
    when it can no longer draw an untried combination. (Hyperband's --max-trials is a ceiling
    of its own schedule, so it is not a shortfall.)
    """
    ran = len(result.trials)
    if result.interrupted or config.tuner == "hyperband" or ran >= config.max_trials:
        return None
    why = ("every combination of the grid has run" if config.tuner == "grid"
           else "the space has no untried combination left")
    return (f"search: ended after {ran} of --max-trials {config.max_trials} trials: {why}. "
            "Widen the space (--space) for more.")


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
    chief = None
    if distributed.is_chief(config):
        # Parallel trials: the workers start first, so that their start-up (Python, the data,
        # TensorFlow) overlaps all of this process's own; on bad input they are stopped with it.
        config = dataclasses.replace(config, name=_run_name(config))  # the workers' folder too
        chief = distributed.Chief(config, config.run_dir(config.name), report)
    try:
        prepared = prepare(config, report)
        run_dir = prepared.run_dir
        if config.worker:
            worker.join(config, run_dir, report)
        elif config.resume:
            _check_resume(config, run_dir)
            # Until this session ends, the folder is not a finished run (see
            # outputs.metrics_record).
            (run_dir / "metrics.json").unlink(missing_ok=True)
            remove_stale_temporaries(run_dir)  # what a killed session's atomic writes left
        else:
            _make_run_dir(config, run_dir)
    except BaseException:
        if chief is not None:
            chief.close()
        raise
    if chief is not None:
        chief.folder_ready()

    # TensorFlow is imported only now, so bad input is reported instantly.
    from data.encoding import encode_splits
    from models.heads import head_for
    from models.hypermodel import MLPHyperModel
    from tuning.search import run_search, trials_csv
    from tuning.tuners import make_tuner

    _configure_tensorflow(config, prepared.space)
    task, splits = prepared.task, prepared.splits
    encoded = encode_splits(prepared.data.columns, splits, task)
    hypermodel = MLPHyperModel(
        encoded.n_features, head_for(task), prepared.space, config.epochs, config.patience
    )
    tuner = make_tuner(config, hypermodel, run_dir, report)
    report(
        f"search: {config.tuner}, {config.max_trials} trials, up to {config.epochs} epochs each, "
        f"early stopping {'patience ' + str(config.patience) if config.patience else 'off'}"
    )
    if config.worker:
        worker.work(
            tuner, encoded.fit_data("train"), encoded.fit_data("validation"), config, report
        )
        return run_dir
    baselines = outputs.start_baselines(config, prepared, encoded)  # alongside the search
    if chief is not None:
        result = chief.search(tuner, encoded.fit_data("train"), encoded.fit_data("validation"))
    else:
        result = run_search(
            tuner, encoded.fit_data("train"), encoded.fit_data("validation"), report
        )
    ended_early = _space_exhausted(config, result)
    if ended_early:
        report(ended_early)
    write_text(run_dir / "trials.csv", trials_csv(result))
    if result.best is None or result.interrupted:
        baselines.cancel()  # no diagnosis is written: do not leave them running
    if result.best is None:
        status = "interrupted" if result.interrupted else "failed"
        metrics = outputs.metrics_record(config, prepared, result, started, status)
        write_json(run_dir / "metrics.json", metrics)
        if result.interrupted:
            raise SearchInterrupted(run_dir, result.n_completed + result.n_failed)
        raise SearchFailedError(
            f"All {len(result.trials)} trials failed, so there is no model (see "
            f"{run_dir}/trials.csv;"
            f" first reason: {result.trials[0].message if result.trials else 'none ran'}). "
            "Narrow the search space with --space, e.g. lower learning rates."
        )

    best = result.best
    # The report's plots of the search are drawn beside the evaluation and the export.
    figures = None if result.interrupted else outputs.start_search_figures(config, result)
    model, evaluation = outputs.evaluate_best(tuner, best, encoded, task, splits)
    if result.interrupted:  # the best trial so far is evaluated; no export until the search ends
        metrics = outputs.metrics_record(
            config, prepared, result, started, "interrupted", evaluation.metrics
        )
        write_json(run_dir / "metrics.json", metrics)
        raise SearchInterrupted(run_dir, result.n_completed + result.n_failed)
    ready = outputs.prepare_export(config, prepared, encoded, tuner, best, model, report)
    metrics = outputs.metrics_record(
        config, prepared, result, started, "complete", evaluation.metrics
    )
    metrics["exported_model"] = ready.record()
    metrics.update(
        outputs.export_and_report(
            config, prepared, encoded, ready, result, evaluation, baselines, figures, metrics,
            report,
        )
    )
    # metrics.json is written last, so a folder whose metrics.json says "complete" is finished.
    write_json(run_dir / "metrics.json", metrics)
    test = evaluation.metrics["test"]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in test.items() if v is not None)
    report(f"best trial {best.trial_id}: test {shown}")
    report(f"run folder: {run_dir}")
    return run_dir
