"""The whole run: CSV → splits → preprocessing → hypermodel → search → best model → outputs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.errors import DiskFullError, SearchFailedError, SearchInterrupted, is_disk_full
from common.files import write_json, write_text
from tuning.config import RunConfig
from tuning.run import folder, modes
from tuning.run.prepare import Prepared, prepare

if TYPE_CHECKING:
    from common.records import SearchResult
    from common.space import SearchSpace
    from reports.progress import ProgressFacts
    from tuning.search.progress import ProgressPage

Configure = Callable[[RunConfig, "SearchSpace"], None]


def run(
    config: RunConfig,
    report: Callable[[str], None] = print,
    configure: Configure | None = None,
    live: Callable[[str], None] | None = None,
) -> Path:
    """Tune, evaluate and write the run folder.

    Args:
        config: the run's configuration.
        report: where the console's lines go. Defaults to print.
        configure: called once TensorFlow is loaded, before any model is built, for settings of
            the whole process (the command line's thread pools); None leaves the process alone.
        live: where a long trial shows its epochs on one updating line (a terminal's
            `reports.console.TerminalLine`); None shows none, and so does a chief, whose
            trials run several at once.

    Returns:
        The run folder.

    Raises:
        ConfigError, DataError: bad input; nothing is written.
        SearchFailedError: every trial failed; trials.csv and metrics.json (status "failed")
            are still written.
        SearchInterrupted: Ctrl-C (or SIGTERM) during the search; trials.csv and metrics.json
            (status "interrupted", the best trial so far) are written, and --resume continues.
            Its `written` is False when a second interruption came before they were.
        DiskFullError: the disk filled up; the unfinished trial is not failed, and --resume
            continues once there is space.

    The run folder is locked (`tuning.run.lock`) from when it is opened until this returns.
    """
    from tuning.search.progress import ProgressPage

    page = ProgressPage(report)  # progress.html, from the search's start on
    try:
        return _run(config, report, configure, live, page)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # e.g. a full disk: the error says more than this
            page.stopped(exc)  # the page says how the run ended; nothing before the search
        raise


def _run(
    config: RunConfig,
    report: Callable[[str], None],
    configure: Configure | None,
    live: Callable[[str], None] | None,
    page: ProgressPage,
) -> Path:
    started = time.perf_counter()
    mode = modes.for_config(config, report)  # a chief starts its local workers first
    config = mode.config
    try:
        prepared = prepare(config, report)  # CSV → cleaned columns → task → splits
        mode.open_folder(prepared.run_dir)
    except BaseException:
        mode.close()
        mode.release()
        raise
    try:
        return _search_and_write(config, prepared, mode, report, configure, live, page, started)
    except KeyboardInterrupt:
        if not mode.writes_results:  # a worker: its chief has the run
            raise
        # Ctrl-C before the search began, or again while the results so far were written:
        # whatever ended is in the search's state, and --resume continues from it.
        raise SearchInterrupted(prepared.run_dir, None, written=False) from None
    except OSError as exc:
        if is_disk_full(exc):  # nothing unfinished is lost: --resume continues
            raise DiskFullError.in_run(prepared.run_dir, exc) from exc
        raise
    finally:
        mode.release()  # the folder is another process's to continue from now on


def _search_and_write(
    config: RunConfig,
    prepared: Prepared,
    mode: modes.Alone,
    report: Callable[[str], None],
    configure: Configure | None,
    live: Callable[[str], None] | None,
    page: ProgressPage,
    started: float,
) -> Path:
    run_dir = prepared.run_dir
    try:
        encoded, tuner, train_mask = _build(config, prepared, report, configure, live)  # TF
        train, validation = _search_data(encoded, train_mask), encoded.fit_data("validation")
        if not mode.writes_results:
            mode.search(tuner, train, validation)
            return run_dir
        tuner.progress = page
        report(page.start(run_dir, _progress_facts(config, prepared, train_mask),
                          config.max_trials, tuner))
    except KeyboardInterrupt:
        if not mode.writes_results:
            raise
        raise _interrupted_before_search(config, prepared, started) from None
    baselines = folder.start_baselines(config, prepared, encoded, train_mask)  # beside the search
    result = mode.search(tuner, train, validation)
    from reports.headline import result_line
    from tuning.search.collect import shortfall, trials_csv

    ended_early = shortfall(config, result)
    if ended_early:
        report(ended_early)
    write_text(run_dir / "trials.csv", trials_csv(result))
    if result.best is None or result.interrupted:
        baselines.cancel()  # no diagnosis is written: do not leave them running
    if result.best is None:
        _stop_without_model(config, prepared, result, started)

    best = result.best
    # The report's plots of the search are drawn beside the evaluation and the export.
    figures = (
        None if result.interrupted
        else folder.start_search_figures(config, result, tuner.score_scale)
    )
    model, evaluation = folder.evaluate_best(
        tuner, best, encoded, prepared.task, prepared.splits, train_mask
    )
    if result.interrupted:  # the best trial so far is evaluated; no export until the search ends
        metrics = folder.metrics_record(
            config, prepared, result, started, "interrupted", evaluation.metrics
        )
        write_json(run_dir / "metrics.json", metrics)
        raise SearchInterrupted(run_dir, result.n_completed + result.n_failed)
    page.update("finishing")
    ready = folder.prepare_export(
        config, prepared, encoded, tuner, result, (model, evaluation), report, train_mask
    )
    metrics = folder.metrics_record(
        config, prepared, result, started, "complete", evaluation.metrics
    )
    metrics["exported_model"] = ready.record()
    if prepared.task.kind == "regression":
        transform = encoded.target_transform
        metrics["target_transform"] = {"kind": transform.kind, "reason": transform.reason}
    if train_mask is not None:
        metrics["cv"] = {
            "folds": int(train_mask.shape[1]),
            "rows": int(train_mask.shape[0]),
            "best_trial_fold_scores": list(best.fold_scores),
        }
        if evaluation.held_out is not None:  # in the metrics' units, as the diagnosis reads it
            metrics["cv"]["best_trial_held_out_loss"] = evaluation.held_out[0]
    metrics.update(
        folder.export_and_report(
            config, prepared, encoded, ready, result, evaluation, baselines, figures, metrics,
            report,
        )
    )
    # metrics.json is written last, so a folder whose metrics.json says "complete" is finished.
    write_json(run_dir / "metrics.json", metrics)
    page.update("finished", result_line(metrics))
    report(result_line(metrics))  # the exported model's test score against the baselines'
    report(f"run folder: {run_dir}")
    return run_dir


# Automatic cross-validation (--cv auto): CV_AUTO_FOLDS folds on tables with at most
# CV_AUTO_MAX_ROWS training and validation rows together (README, "Quality": above that the
# validation split is large enough, and a trial's K networks cost about K times one).
CV_AUTO_MAX_ROWS = 1000
CV_AUTO_FOLDS = 5


def cv_folds(config: RunConfig, sizes: dict[str, int]) -> int:
    """Networks per trial: --cv, or automatically CV_AUTO_FOLDS on small tables; 1 = none."""
    if config.cv is not None:
        return max(1, config.cv)
    rows = sizes["train"] + sizes["validation"]
    return CV_AUTO_FOLDS if rows <= CV_AUTO_MAX_ROWS else 1


def _search_data(encoded: Any, train_mask: Any, encoding: str = "standard") -> tuple[Any, Any]:
    """What the trials train on: the training split, or with cross-validation the training
    rows followed by the validation rows, which the folds share."""
    x, y = encoded.x_for(encoding), encoded.y
    if train_mask is None:
        return x["train"], y["train"]
    import numpy as np

    return (np.concatenate([x["train"], x["validation"]]),
            np.concatenate([y["train"], y["validation"]]))


def _build(
    config: RunConfig,
    prepared: Prepared,
    report: Callable[[str], None],
    configure: Configure | None,
    live: Callable[[str], None] | None = None,
) -> tuple[Any, Any, Any]:
    """Encode the splits and make the hypermodel and its tuner.

    Returns:
        The `data.encoding.EncodedSplits`, the Keras Tuner tuner and, with cross-validation,
        the folds' (n, K) training mask over the training then validation rows (else None).
    """
    # TensorFlow is imported only now, so bad input is reported instantly.
    import keras

    from data.encoding import encode_splits
    from data.splits import fold_masks
    from models.heads import head_for
    from models.hypermodel import MLPHyperModel
    from reports.scores import ScoreScale
    from tuning.parallel.chief import is_chief
    from tuning.search.oracles import baseline_l2
    from tuning.search.tuners import make_tuner

    keras.utils.set_random_seed(config.seed)
    if configure is not None:
        configure(config, prepared.space)
    space_encodings = prepared.space.numeric_encoding
    encodings = space_encodings if isinstance(space_encodings, tuple) else (space_encodings,)
    encoded = encode_splits(prepared.data.columns, prepared.splits, prepared.task,
                            config.target_transform, encodings)  # checked by `prepare`
    if prepared.task.kind == "regression":
        report(f"target: learned {encoded.target_transform.reason}")
    for line in encoding_lines(encoded.target_encoding_checks, encoded.preprocessing.features):
        report(line)
    # Regression: RMSE in the target's units (or on its learned scale).
    scale = ScoreScale.for_task(prepared.task.kind, encoded.target_std,
                                encoded.target_transform.kind)
    folds, train_mask = cv_folds(config, prepared.splits.sizes()), None
    if folds > 1:  # every trial trains K networks on folds of train+validation
        rows = _search_data(encoded, True)[1]
        train_mask = fold_masks(rows, prepared.task, folds, config.seed)
    inputs = None
    if encodings != ("standard",):  # each trial trains on its own numeric encoding's features
        inputs = {e: (_search_data(encoded, train_mask, e)[0], encoded.x_for(e)["validation"])
                  for e in encodings}
    hypermodel = MLPHyperModel(
        encoded.widths(), head_for(prepared.task), prepared.space, config.epochs,
        config.patience, train_mask=train_mask, inputs=inputs,
    )
    # Rows each network trains on: the training split, or a fold's share of train+validation.
    rows = int(train_mask.sum(axis=0).mean()) if train_mask is not None else len(encoded.y["train"])
    tuner = make_tuner(config, hypermodel, prepared.run_dir, report, scale,
                       None if is_chief(config) else live,
                       linear_l2=baseline_l2(rows, prepared.task.kind == "regression"))
    cv_text = (f", {folds}-fold cross-validation on train+validation ({len(train_mask)} rows)"
               if train_mask is not None else "")
    report(
        f"search: {config.tuner}, {config.max_trials} trials, up to {config.epochs} epochs each, "
        f"early stopping {'patience ' + str(config.patience) if config.patience else 'off'}"
        + cv_text
    )
    if config.tensorboard:
        logs = Path(config.tensorboard) / prepared.run_dir.name
        report(f"tensorboard: logs in {logs} (view with: tensorboard --logdir "
               f"{config.tensorboard})")
    return encoded, tuner, train_mask


def _progress_facts(config: RunConfig, prepared: Prepared, train_mask: Any) -> ProgressFacts:
    """What progress.html says about the run that does not change while it runs."""
    from reports.progress import ProgressFacts

    task = prepared.task
    kind = task.kind + (f" ({task.n_classes} classes)" if task.is_classification else "")
    folds = f"{train_mask.shape[1]} folds" if train_mask is not None else "off"
    settings = (
        ("tuner", config.tuner),
        ("epochs", f"up to {config.epochs}"),
        ("early stopping", f"patience {config.patience}" if config.patience else "off"),
        ("cross-validation", folds),
        ("workers", str(config.workers)),
        ("seed", str(config.seed)),
    )
    return ProgressFacts(prepared.dataset.source, prepared.dataset.target, kind,
                         prepared.splits.sizes(), len(prepared.data.columns), settings)


def _interrupted_before_search(
    config: RunConfig, prepared: Prepared, started: float
) -> SearchInterrupted:
    """Ctrl-C after the run folder was opened but before the search began: the results so far
    are that no trial ran, written as an interrupted run's trials.csv and metrics.json (a
    resumed run's earlier trials are kept in the search's state and its trials.csv)."""
    from common.records import SearchResult
    from tuning.search.collect import trials_csv

    run_dir = prepared.run_dir
    result = SearchResult((), None, 0.0, True)
    earlier = (run_dir / "metrics.json").exists()  # a resumed run's: its trials are counted there
    if not (run_dir / "trials.csv").exists():
        write_text(run_dir / "trials.csv", trials_csv(result))
    if not earlier:
        write_json(run_dir / "metrics.json",
                   folder.metrics_record(config, prepared, result, started, "interrupted"))
    return SearchInterrupted(run_dir, None if earlier else 0)


def _stop_without_model(
    config: RunConfig, prepared: Prepared, result: SearchResult, started: float
) -> None:
    """No trial completed: write metrics.json saying why, and raise.

    Raises:
        SearchInterrupted: Ctrl-C before any trial completed.
        SearchFailedError: every trial failed.
    """
    run_dir = prepared.run_dir
    status = "interrupted" if result.interrupted else "failed"
    write_json(run_dir / "metrics.json",
               folder.metrics_record(config, prepared, result, started, status))
    if result.interrupted:
        raise SearchInterrupted(run_dir, result.n_completed + result.n_failed)
    raise SearchFailedError(
        f"All {len(result.trials)} trials failed, so there is no model (see "
        f"{run_dir}/trials.csv;"
        f" first reason: {result.trials[0].message if result.trials else 'none ran'}). "
        "Narrow the search space with --space, e.g. lower learning rates."
    )


def encoding_lines(checks: Any, features: Any) -> list[str]:
    """The console's line for each many-valued categorical column (README, data rules): its
    one-hot, and whether it got a target encoding and what that explains out of fold."""
    from data.preprocessing import MAX_TARGET_VALUES, TARGET_ENCODING_MIN_GAIN

    specs = {spec.name: spec for spec in features}
    lines = []
    for check in checks:
        many = (f"{check.values:,}" if check.values < MAX_TARGET_VALUES
                else f"at least {check.values:,}")
        spec = specs[check.column]
        head = (f"encoding: {check.column!r} has {many} distinct training values: one-hot over "
                f"the {len(spec.vocabulary)} most frequent")
        if check.kept:
            lines.append(f"{head}, plus a target encoding (out of fold it explains "
                         f"{check.gain:.1%} of the training target's variance)")
        else:
            lines.append(f"{head} only: its target encoding explains {max(check.gain, 0.0):.2%} "
                         "of the training target's variance out of fold, under "
                         f"{TARGET_ENCODING_MIN_GAIN:.0%}")
    return lines
