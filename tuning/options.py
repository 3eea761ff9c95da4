"""The run options, declared once.

`OPTIONS` is the one list of the tune command's options. Everything else is derived from it:
the command line's argparse (`tuning.cli.main`), `RunConfig`'s fields, defaults and per-option
checks (`tuning.config`), the settings that define a search (settings.json, and the resume and
worker comparisons of them) and the options a chief forwards to its local workers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import ConfigError
from common.files import can_create_in
from data.names import BUNDLED, TASKS
from tuning.parallel.liveness import HEARTBEAT_SECONDS, MIN_WORKER_TIMEOUT

TUNERS = ("random", "grid", "bayesian", "hyperband")
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

Check = Callable[[str, Any], None]  # check(label, value) raises ConfigError on a bad value


def choice(allowed: tuple[str, ...]) -> Check:
    def check(flag: str, value: Any) -> None:
        if value not in allowed:
            raise ConfigError(f"{flag} '{value}' is not one of: {', '.join(allowed)}.")

    return check


def at_least(low: int) -> Check:
    def check(flag: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{flag} must be a whole number ≥ {low}, got {value!r}.")

    return check


def port(flag: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{flag} must be a port number from 1 to 65535, got {value!r}.")


def _dataset(flag: str, value: Any) -> None:
    if value not in BUNDLED:
        raise ConfigError(f"Unknown {flag} '{value}'. Choose one of: {', '.join(BUNDLED)}.")


def _fraction(flag: str, value: Any) -> None:
    if not 0.0 < value < 1.0:
        raise ConfigError(f"{flag} must be a fraction between 0 and 1, got {value:g}.")


def _seed(flag: str, value: Any) -> None:
    if value < 0:
        raise ConfigError(f"{flag} must be 0 or more, got {value}.")


def _folder_name(flag: str, value: Any) -> None:
    if not PLAIN_NAME.match(value):
        raise ConfigError(
            f"{flag} '{value}' is not a plain folder name: use letters, digits, '.', '_' "
            "and '-', starting with a letter or digit (no slashes, no '..')."
        )
    if set(value) == {"."}:
        raise ConfigError(f"{flag} '{value}' is not a plain folder name.")


def auto_int(text: str) -> int | None:
    """A whole number, or "auto" (None: the automatic default)."""
    import argparse

    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number or 'auto', got {text!r}") from None


def _folds(flag: str, value: Any) -> None:
    at_least(0)(flag, value)
    if value > 20:
        raise ConfigError(f"{flag} must be at most 20 folds (0 or 1 turns it off), got {value}.")


def _log_folder(flag: str, value: Any) -> None:
    if not value or not value.strip():
        raise ConfigError(f"{flag} needs a folder, e.g. {flag} tb_logs.")
    if Path(value).exists() and not Path(value).is_dir():
        raise ConfigError(f"{flag} '{value}' is a file, not a folder. Pass a folder for the "
                          "TensorBoard logs.")
    if not can_create_in(value):
        raise ConfigError(f"Cannot write TensorBoard logs to {flag} '{value}'. Pass a folder "
                          "you can write to.")


def _seconds(flag: str, value: Any) -> None:
    if not value > 0:
        raise ConfigError(f"{flag} must be a number of seconds > 0, got {value!r}.")


def _worker_timeout(flag: str, value: Any) -> None:
    if not value >= MIN_WORKER_TIMEOUT:
        raise ConfigError(
            f"{flag} must be at least {MIN_WORKER_TIMEOUT:g} seconds (workers call "
            f"the chief every {HEARTBEAT_SECONDS:g} s), got {value!r}."
        )


@dataclass(frozen=True)
class Option:
    """One tune option.

    Attributes:
        name: the `RunConfig` field (and, in snake_case, the option's name everywhere else);
            the flag is `--` and the name with dashes.
        kind: str, int, float, bool (a flag that is off by default) or tuple (names, A,B on the
            command line).
        default: the value when the option is not given; None means "not given".
        help: the `--help` text.
        group: the `--help` section (one of `GROUPS`).
        metavar: the value's placeholder in `--help`; None: argparse's own.
        check: the option's own check of a given (not None) value; checks that involve
            several options are `RunConfig`'s.
        search: the option defines the search: it is in settings.json, and a resume or a
            worker must repeat it.
        digest: the option names a file whose contents define the search too (SHA-256).
        forwarded: a chief passes it to its local workers as it is.
        parse: turns the command line's text into the value, when `kind` alone does not
            (e.g. "auto" for the automatic default).
    """

    name: str
    kind: type
    default: Any
    help: str
    group: str
    metavar: str | None = None
    check: Check | None = None
    search: bool = False
    digest: bool = False
    forwarded: bool = False
    parse: Callable[[str], Any] | None = None  # the command line's text to a value; None: kind

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def label(self) -> str:
        """How messages name the option, for the command line and Python alike: the flag, and
        the keyword argument where it is spelled otherwise ("--max-trials (max_trials)")."""
        return self.flag if "_" not in self.name else f"{self.flag} ({self.name})"

    @property
    def annotation(self) -> str:
        """The `RunConfig` field's type, as text."""
        text = "tuple[str, ...]" if self.kind is tuple else self.kind.__name__
        return f"{text} | None" if self.default is None else text


_PARALLEL = "parallel and distributed tuning (Keras Tuner's chief/worker mode; see README)"
GROUPS = ("data", "search", _PARALLEL, "output")  # --help's sections, in this order


def _search(name: str, kind: type, default: Any, help: str, group: str, **more: Any) -> Option:
    """An option that defines the search, and so goes to the workers too."""
    return Option(name, kind, default, help, group, search=True, forwarded=True, **more)


OPTIONS: tuple[Option, ...] = (
    _search("data", str, None, "a CSV file with a header row", "data", metavar="PATH",
            digest=True),
    _search("target", str, None, "the target column (required with --data)", "data",
            metavar="NAME"),
    _search("drop", tuple, (), "feature columns to leave out (leaks, IDs)", "data",
            metavar="A,B"),
    _search("dataset", str, None, "a bundled scikit-learn dataset: breast_cancer, digits, wine, "
            "iris, diabetes (default: breast_cancer when no --data)", "data", metavar="NAME",
            check=_dataset),
    _search("task", str, "auto", "auto, binary, multiclass or regression (default: auto)",
            "data", check=choice(("auto", *TASKS))),
    _search("tuner", str, "bayesian", "random, grid, bayesian or hyperband (default: bayesian)",
            "search", check=choice(TUNERS)),
    _search("max_trials", int, 20, "trials to run; hyperband stops after at most N (default: 20)",
            "search", metavar="N", check=at_least(1)),
    _search("epochs", int, 100, "most epochs per trial (default: 100)", "search", metavar="N",
            check=at_least(1)),
    _search("patience", int, 10, "early-stopping patience on validation loss; 0 turns it off "
            "(default: 10)", "search", metavar="N", check=at_least(0)),
    _search("space", str, None, "search-space TOML file (see README)", "search", metavar="FILE",
            digest=True),
    _search("val_size", float, 0.15, "share of rows for validation (default: 0.15)", "data",
            metavar="F", check=_fraction),
    _search("test_size", float, 0.15, "share of rows for test (default: 0.15)", "data",
            metavar="F", check=_fraction),
    _search("seed", int, 0, "makes splits, initial weights and the search repeatable "
            "(default: 0)", "search", metavar="N", check=_seed),
    Option("out", str, "runs", "where run folders go (default: runs)", "output", metavar="DIR",
           forwarded=True),
    Option("name", str, None, "the run folder's name (default: from the data and the time)",
           "output", metavar="NAME", check=_folder_name),
    Option("resume", bool, False, "continue the run --out/--name after an interruption",
           "output"),
    # Not a search setting (a resume may add or change it); every local worker logs its trials.
    Option("tensorboard", str, None, "also write TensorBoard HParams logs there, one folder "
           "per trial: DIR/<run name>/trial_<id> (view with: tensorboard --logdir DIR)",
           "output", metavar="DIR", check=_log_folder, forwarded=True),
    # Not forwarded: a local worker runs one trial at a time, the default.
    Option("workers", int, 1, "trials run at once on this machine (default: 1)", "search",
           metavar="N", check=at_least(0)),
    _search("refit", bool, False, "retrain the best configuration on train+validation before "
            "export", "search"),
    _search("target_transform", str, "auto", "regression: the scale the target is learned on: "
            "auto (log1p for a right-skewed non-negative target), none, log or quantile "
            "(default: auto)", "search", check=choice(("auto", "none", "log", "quantile"))),
    _search("cv", int, None, "score each trial by K-fold cross-validation on train+validation; "
            "0 or 1 turns it off (default: auto: 5 folds up to 1,000 train+validation rows)",
            "search",
            metavar="K", check=_folds, parse=auto_int),
    _search("ensemble", int, None, "the exported model averages the networks of up to K of the "
            "best trials, chosen on held-out predictions; 1 exports the single best trial "
            "(default: auto: 5, or 1 with --refit)", "search", metavar="K", check=at_least(1),
            parse=auto_int),
    Option("chief", bool, False, "serve the search on --bind:--port for --worker processes on "
           "other machines, run --workers N local workers (0: serve only), then write the "
           "results; needs --name and a run folder shared with the workers", _PARALLEL),
    Option("port", int, None, "the chief's port (with --chief)", _PARALLEL, metavar="P"),
    Option("bind", str, "0.0.0.0", "the address the chief listens on (default: 0.0.0.0, every "
           "interface)", _PARALLEL, metavar="ADDR"),
    Option("worker", bool, False, "run trials for the chief at --oracle; repeat the chief's "
           "options, --out and --name included", _PARALLEL),
    Option("oracle", str, None, "where the chief listens (with --worker)", _PARALLEL,
           metavar="HOST:PORT"),
    Option("worker_id", str, None, "this worker's name (default: worker-<host>-<pid>)",
           _PARALLEL, metavar="NAME"),
    Option("threads", int, None, "TensorFlow threads per process (default: 1, or cores // "
           "--workers when the space's widest layer times its largest batch is 512 x 1024 or "
           "more)", _PARALLEL, metavar="N", check=at_least(1)),
    Option("connect_timeout", float, 600.0, "seconds a worker keeps retrying to reach the chief "
           "(default: 600)", _PARALLEL, metavar="S", check=_seconds),
    Option("worker_timeout", float, 60.0, "seconds without a call from a worker after which the "
           "chief records its trial as failed and goes on without it (default: 60)", _PARALLEL,
           metavar="S", check=_worker_timeout),
)

BY_NAME = {option.name: option for option in OPTIONS}
SEARCH = tuple(o.name for o in OPTIONS if o.search)  # what settings.json holds, in this order
DIGESTS = tuple(o.name for o in OPTIONS if o.digest)  # files identified by their contents too


def split_names(text: str) -> tuple[str, ...]:
    """`A, B` on the command line as ("A", "B")."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def forwarded_argv(values: Any, options: Iterable[Option] = OPTIONS) -> list[str]:
    """The forwarded options of `values` (a `RunConfig`) as command-line flags; what is off or
    not given is left out."""
    argv: list[str] = []
    for option in options:
        value = getattr(values, option.name)
        if not option.forwarded or value is None or value is False or value == ():
            continue
        if value is True:
            argv.append(option.flag)
        elif isinstance(value, tuple):
            argv += [option.flag, ",".join(value)]
        else:
            argv += [option.flag, str(value)]
    return argv
