"""Everything checked before the run folder is made: the data, its splits, the search space."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.errors import ConfigError
from common.files import can_create_in, nearest_existing
from common.space import SearchSpace, load_space
from tuning.config import RunConfig
from tuning.options import BY_NAME

if TYPE_CHECKING:
    from data.cleaning import CleanData
    from data.loading import Dataset
    from data.splits import Splits
    from data.task import Task


@dataclass(frozen=True)
class Prepared:
    """Everything checked before the run folder is made: bad input never leaves a folder."""

    dataset: Dataset
    data: CleanData
    task: Task
    splits: Splits
    space: SearchSpace
    run_dir: Path


def run_name(config: RunConfig) -> str:
    """--name, or the data's name (the CSV's stem, the bundled set's name, "dataframe") and
    the time."""
    if config.name:
        return config.name
    if config.frame is not None:
        name = "dataframe"
    else:
        name = Path(config.data).stem if config.data is not None else config.dataset_name
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] or "run"
    return f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"


def _check_run_dir(config: RunConfig, run_dir: Path) -> None:
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out '{out}' is a file, not a folder. Pass a folder for run outputs.")
    probe = nearest_existing(out)
    if not probe.is_dir():
        raise ConfigError(
            f"Cannot create --out '{out}': '{probe}' is a file, not a folder. Pass --out with a "
            "folder path."
        )
    if not can_create_in(out):
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
    from data.loading import drop_columns, load_bundled, load_csv, load_frame
    from data.splits import encode_target, split
    from data.task import infer_task

    space = load_space(config.space)
    if config.frame is not None:
        dataset = load_frame(config.frame, config.target)
    elif config.data is not None:
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
    _check_target_transform(config, task, splits)
    run_dir = config.run_dir(run_name(config))
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


def _check_target_transform(config: RunConfig, task: Any, splits: Any) -> None:
    """--target-transform must suit the task and the training target."""
    if config.target_transform == "auto":
        return
    flag = BY_NAME["target_transform"].label
    if task.kind != "regression" and config.target_transform != "none":
        raise ConfigError(
            f"{flag} {config.target_transform} is for regression, and the task is "
            f"{task.kind}. Leave it out (or ask for the regression task)."
        )
    low = float(splits.y["train"].min()) if task.kind == "regression" else 0.0
    if config.target_transform == "log" and low < 0:
        raise ConfigError(
            f"{flag} log needs a non-negative target, and the training split's "
            f"smallest is {low:g}. Use quantile or none."
        )
