"""The Python API: `tune` a DataFrame or a CSV, `load_run` a finished run, predict with it.

    from tuning import tune
    result = tune(frame, target="price", max_trials=10)

`tune` takes the command line's tune options as keyword arguments (snake_case, the same
defaults, from `tuning.options.OPTIONS`) and runs the same pipeline (`tuning.run.pipeline.run`)
on top of which the command line sits. Unlike the command line it prints only through
`report`/`verbose`, never exits, installs no signal handler and leaves the process as it
found it, except what TensorFlow fixes when it starts: before it is imported, `tune` sets
the command line's environment variables where they are unset (`TF_ENABLE_ONEDNN_OPTS=0`,
`TF_CPP_MIN_LOG_LEVEL=3`, `KERAS_BACKEND=tensorflow`), and the first `tune` of a process
sizes TensorFlow's thread pools as the command line does if TensorFlow has not started yet;
later calls, or a process that already ran TensorFlow, keep what it has. The garbage
collector is frozen for the length of the call only (`tuning.process.frozen_gc`).
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.errors import ConfigError
from tuning.options import BY_NAME, OPTIONS, Option, split_names

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from common.space import SearchSpace
    from models.predictor import Predictor
    from tuning.config import RunConfig

# tune()'s own arguments: `data` is the first positional argument, not a keyword option.
OPTION_NAMES = tuple(o.name for o in OPTIONS if o.name != "data")


def tune(
    data: pd.DataFrame | str | os.PathLike | None = None,
    target: str | None = None,
    *,
    verbose: bool = True,
    report: Callable[[str], None] | None = None,
    **options: Any,
) -> TuningResult:
    """Search for the best MLP for a table, evaluate it, export it and write the run folder.

    Args:
        data: a pandas DataFrame, a CSV path, or None for a bundled set (`dataset=`, by
            default breast_cancer). A DataFrame gets exactly the checks a CSV gets once its
            text is read, and settings.json identifies it by a SHA-256 of its contents, so
            `resume=True` works with the same frame.
        target: the column to predict; required with `data`.
        verbose: print the command line's progress lines. Defaults to True.
        report: where the progress lines go instead (one string per line); overrides
            `verbose`.
        **options: the command line's tune options in snake_case with the same defaults
            (`max_trials=20`, `epochs=100`, `tuner="bayesian"`, `out="runs"`, `seed=0`, ...).
            Without `name`, the run folder is named from the data and the time, made unique.

    Returns:
        The finished run (see `TuningResult`).

    Raises:
        TuningError: bad input or options, with the command line's message; nothing is
            written. Also when every trial failed (`SearchFailedError`; trials.csv and
            metrics.json are written), and when the disk filled up (`DiskFullError`; the
            unfinished trial is not failed, and `resume=True` runs it again).
        SearchInterrupted: Ctrl-C (KeyboardInterrupt) during the search; trials.csv and
            metrics.json hold the results so far, and `resume=True` with the same options,
            `out` and `name` continues the run.
    """
    from tuning import process

    process.set_tensorflow_environment()  # the command line's, where unset, before TF loads
    from tuning.run.pipeline import run

    config = make_config(data, target, options)
    lines = report if report is not None else (_print if verbose else _quiet)
    # Keras Tuner's per-trial collections skip TensorFlow's objects, for this call only.
    with process.frozen_gc(), process.quiet_tensorflow_logs():
        run_dir = run(config, report=lines, configure=_set_thread_pools,
                      live=_live_line() if report is None and verbose else None)
    return load_run(run_dir)


def make_config(
    data: pd.DataFrame | str | os.PathLike | None, target: str | None, options: Mapping[str, Any]
) -> RunConfig:
    """The `RunConfig` for `tune(data, target, **options)`: names and types checked, a run
    folder name chosen when none is given.

    Raises:
        ConfigError: an unknown option, a value of the wrong type, or what `RunConfig` rejects.
    """
    import pandas as pd

    from tuning.config import RunConfig

    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ConfigError(
            f"Unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}. "
            f"The options are: {', '.join(OPTION_NAMES)} (the command line's, in snake_case)."
        )
    values = {name: _coerce(BY_NAME[name], value) for name, value in options.items()}
    values = {name: value for name, value in values.items() if value is not None}
    if target is not None:
        if (not isinstance(target, str) and isinstance(data, pd.DataFrame)
                and not isinstance(target, bool) and target in list(data.columns)):
            target = str(target).strip()  # a frame's column names are read as text
        if not isinstance(target, str):
            raise ConfigError(f"--target must be a column name (text), got {target!r}.")
        values["target"] = target
    if isinstance(data, pd.DataFrame):
        values["frame"] = data
    elif isinstance(data, (str, os.PathLike)):
        values["data"] = os.fspath(data)
    elif data is not None:
        raise ConfigError(
            f"data must be a pandas DataFrame, a CSV path or None (with dataset=), got "
            f"{type(data).__name__}."
        )
    config = RunConfig(**values)
    if config.name is None and not (config.chief or config.worker):
        config = dataclasses.replace(config, name=_unique_name(config))
    return config


def _coerce(option: Option, value: Any) -> Any:
    """A keyword argument as the command line's parser would have made it; None: the default.

    Raises:
        ConfigError: if `value` is not of the option's kind.
    """
    if value is None:
        return None
    kind = option.kind
    if kind is bool:
        if type(value).__name__ in ("bool", "bool_"):
            return bool(value)
        expected = "True or False"
    elif kind is int:
        if _is_integer(value):
            return int(value)
        expected = "a whole number"
    elif kind is float:
        if _is_integer(value) or type(value).__name__ in ("float", "float32", "float64"):
            return float(value)
        expected = "a number"
    elif kind is tuple:
        if isinstance(value, str):
            return split_names(value)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        expected = "a list of column names"
    else:
        if isinstance(value, (str, os.PathLike)):
            return os.fspath(value)
        expected = "text (or a path)"
    raise ConfigError(f"{option.label} must be {expected}, got {value!r}.")


def _is_integer(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and type(value).__name__ not in ("bool", "bool_")


def _unique_name(config: RunConfig) -> str:
    """The command line's folder name (data and time), with -2, -3 ... if that is taken: two
    runs in one second (cross-validation folds) must not collide."""
    from tuning.run.prepare import run_name

    name, n = run_name(config), 1
    while config.run_dir(name if n == 1 else f"{name}-{n}").exists():
        n += 1
    return name if n == 1 else f"{name}-{n}"


def _set_thread_pools(config: RunConfig, space: SearchSpace) -> None:
    from tuning.process import set_thread_pools

    set_thread_pools(config, space)  # False when TensorFlow started already: left as it is


def _print(line: str) -> None:
    print(line, flush=True)


def _live_line() -> Callable[[str], None] | None:
    """A long trial's updating epoch line, where the lines print to a terminal (not in a
    notebook, whose output is no terminal)."""
    import sys

    from reports.console import TerminalLine

    return TerminalLine(sys.stdout) if sys.stdout.isatty() else None


def _quiet(line: str) -> None:
    pass


def load_run(folder: str | os.PathLike) -> TuningResult:
    """The result of a finished run folder, as `tune` returns it.

    Raises:
        ConfigError: the folder does not exist, is not a run folder of this tool, or is not
            finished (interrupted, every trial failed, or still running).
    """
    run_dir = Path(folder)
    if not run_dir.is_dir():
        what = "is a file" if run_dir.exists() else "does not exist"
        raise ConfigError(f"Run folder '{run_dir}' {what}. Pass the folder a run wrote.")
    metrics_path = run_dir / "metrics.json"
    resume = (f"continue it with the same options plus resume=True, out='{run_dir.parent}', "
              f"name='{run_dir.name}' (--resume)")
    if not metrics_path.is_file():
        if (run_dir / "settings.json").is_file():
            raise ConfigError(
                f"Run folder '{run_dir}' is not finished: it has no metrics.json (its search is "
                f"running, or was stopped before it ended); {resume}."
            )
        raise ConfigError(
            f"'{run_dir}' is not a run folder of this tool (no settings.json or metrics.json). "
            "Pass a folder that tune() or the command line wrote."
        )
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"'{metrics_path}' is not readable JSON ({exc}).") from None
    status = metrics.get("status") if isinstance(metrics, dict) else None
    if status == "interrupted":
        raise ConfigError(f"Run folder '{run_dir}' was interrupted before its search ended; "
                          f"{resume}.")
    if status == "failed":
        raise ConfigError(f"Run folder '{run_dir}' has no model: every trial failed (see its "
                          "trials.csv). Narrow the search space, e.g. lower learning rates.")
    if status != "complete" or not (run_dir / "model").is_dir():
        raise ConfigError(
            f"Run folder '{run_dir}' is not a finished run (metrics.json status {status!r}"
            f"{'' if (run_dir / 'model').is_dir() else ', no model/ folder'})."
        )
    return TuningResult(run_dir, metrics)


class TuningResult:
    """A finished run: what its run folder holds, and its exported model ready to predict.

    Attributes:
        run_dir: the run folder.
        metrics: metrics.json as a dict.
    """

    def __init__(self, run_dir: Path, metrics: dict[str, Any]) -> None:
        self.run_dir = Path(run_dir)
        self.metrics = metrics

    def __repr__(self) -> str:
        return f"TuningResult({str(self.run_dir)!r})"

    def __getstate__(self) -> dict[str, Any]:
        # A pickled result (a fitted estimator sent back by joblib) reloads its model from
        # the run folder when it next predicts, instead of carrying the Keras model along.
        state = dict(self.__dict__)
        state.pop("predictor", None)
        return state

    @property
    def task(self) -> str:
        """"binary", "multiclass" or "regression"."""
        return self.metrics["task"]

    @property
    def target(self) -> str:
        return self.metrics["target"]

    @property
    def classes(self) -> list[Any]:
        """Class labels in the order of `predict_proba`'s columns (empty for regression)."""
        return self.predictor.classes

    @property
    def diagnosis(self) -> dict[str, Any]:
        """metrics.json's diagnosis: verdict, reasons, warnings, advice, evidence, checks."""
        return self.metrics["diagnosis"]

    @property
    def verdict(self) -> str:
        """"underfitting", "overfitting" or "good fit"."""
        return self.diagnosis["verdict"]

    @property
    def best_hyperparameters(self) -> dict[str, Any]:
        return dict(self.metrics["best_hyperparameters"])

    @property
    def test_score(self) -> dict[str, float]:
        """The exported model's test metrics (metrics.json's `exported_model.test`)."""
        return dict(self.metrics["exported_model"]["test"])

    @cached_property
    def trials(self) -> pd.DataFrame:
        """trials.csv: one row per trial (`trial_id`, `status`, `score`, one column per
        hyperparameter, `epochs`, `seconds`, `message`)."""
        import pandas as pd

        frame = pd.read_csv(self.run_dir / "trials.csv", dtype={"trial_id": str, "message": str})
        frame["message"] = frame["message"].fillna("")
        return frame

    @property
    def report_path(self) -> Path:
        return self.run_dir / "report.html"

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    @cached_property
    def predictor(self) -> Predictor:
        """The exported model (`models.predictor.Predictor`)."""
        from models.predictor import Predictor

        return Predictor.load(self.model_dir)

    def predict(self, frame: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
        """The predict command's table for raw rows (a DataFrame or a CSV path): `prediction`
        and, for classification, `probability_<label>` per class; one row per input row.

        Raises:
            DataError: a missing feature column, or values of the wrong kind.
        """
        return self.predictor.predict(_rows(frame))

    def predict_proba(self, frame: pd.DataFrame | str | os.PathLike) -> np.ndarray:
        """Class probabilities of shape (rows, classes), columns in `classes` order.

        Raises:
            ModelError: for a regression run.
        """
        return self.predictor.predict_proba(_rows(frame))

    def _repr_html_(self) -> str:
        """A compact summary for notebooks: the exported model's test score against the
        baselines, the verdict and warnings, and a link to the report. Every text from the
        data (target, labels, column names in warnings) is escaped."""
        from reports.headline import make_headline

        metrics = self.metrics
        headline = make_headline(
            self.task, metrics.get("exported_model") or {}, metrics.get("baselines") or {},
            metrics.get("n_rows", {}).get("test"),
        )
        metric = headline.metric
        rows = [(headline.exported.label, headline.exported.test.get(metric))]
        rows += [(entry.label, entry.test.get(metric)) for entry in headline.baselines]
        table = "".join(
            f"<tr><td>{_e(label)}</td><td style='text-align:right'>{_number(value)}</td></tr>"
            for label, value in rows
        )
        diagnosis = self.diagnosis
        reasons = "; ".join(diagnosis.get("reasons") or [])
        warnings = "".join(f"<li>{_e(w)}</li>" for w in diagnosis.get("warnings") or [])
        n = metrics.get("n_rows", {})
        trials = metrics.get("trials", {})
        link = _e(_href(self.report_path), quote=True)
        return (
            "<div class='keras-mlp-tuner-result'>"
            f"<p><b>{_e(self.task)}</b> on target <code>{_e(self.target)}</code> · "
            f"{trials.get('completed', 0)} trials completed, {trials.get('failed', 0)} failed · "
            f"rows train {n.get('train')}, validation {n.get('validation')}, test "
            f"{n.get('test')}</p>"
            f"<p>{_e(headline.sentence)}</p>"
            f"<table><tr><th>test</th><th>{_e(headline.metric_name)}</th></tr>{table}</table>"
            f"<p>Diagnosis: <b>{_e(diagnosis.get('verdict', ''))}</b>"
            f"{' (' + _e(reasons) + ')' if reasons else ''}</p>"
            f"{'<ul>' + warnings + '</ul>' if warnings else ''}"
            f"<p><a href=\"{link}\" target=\"_blank\">report.html</a> · "
            f"<code>{_e(str(self.run_dir))}</code></p>"
            "</div>"
        )


def _rows(frame: Any) -> Any:
    return os.fspath(frame) if isinstance(frame, os.PathLike) else frame


def _e(text: Any, quote: bool = False) -> str:
    return html.escape(str(text), quote=quote)


def _number(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.4f}"
    return "—"


def _href(path: Path) -> str:
    """A link a notebook can follow: relative to the working folder when it is inside it
    (Jupyter serves those), else a file: URI."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()
