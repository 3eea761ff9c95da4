"""The whole run: CSV → splits → preprocessing → hypermodel → search → best model → outputs."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import ConfigError, SearchFailedError, SearchInterrupted
from common.files import remove_stale_temporaries, write_json, write_text
from common.space import SearchSpace
from tuning.config import RunConfig, settings_differences
from tuning.parallel import chief as distributed
from tuning.parallel import worker
from tuning.run import folder as outputs
from tuning.run.prepare import prepare, run_name

if TYPE_CHECKING:
    from common.records import SearchResult


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
        config = dataclasses.replace(config, name=run_name(config))  # the workers' folder too
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
    from tuning.search.collect import run_search, trials_csv
    from tuning.search.tuners import make_tuner

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
