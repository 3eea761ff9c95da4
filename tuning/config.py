"""The run's configuration: one frozen object, validated once when it is made."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common.errors import ConfigError
from data.names import BUNDLED, TASKS
from tuning.parallel.liveness import HEARTBEAT_SECONDS, MIN_WORKER_TIMEOUT

TUNERS = ("random", "grid", "bayesian", "hyperband")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class RunConfig:
    """Everything one tuning run needs to know; the CLI's options map one to one onto it."""

    data: str | None = None  # CSV file; None uses `dataset`
    target: str | None = None  # target column, required with `data`
    drop: tuple[str, ...] = ()  # feature columns to leave out
    dataset: str | None = None  # bundled scikit-learn dataset; breast_cancer when no `data`
    task: str = "auto"  # auto, binary, multiclass or regression
    tuner: str = "bayesian"  # random, grid, bayesian or hyperband
    max_trials: int = 20  # trials to run (hyperband: at most this many)
    epochs: int = 100  # most epochs per trial
    patience: int = 10  # early-stopping patience on val_loss; 0 = off
    space: str | None = None  # search-space TOML file; None = built-in space
    val_size: float = 0.15  # share of rows for validation
    test_size: float = 0.15  # share of rows for test
    seed: int = 0  # makes splits, initial weights and the search repeatable
    out: str = "runs"  # where run folders go
    name: str | None = None  # run folder name; None = derived from data and time
    resume: bool = False  # continue the run out/name after an interruption
    workers: int = 1  # trials run at once on this machine
    refit: bool = False  # retrain the best configuration on train+validation before export
    # Parallel and distributed tuning (Keras Tuner's chief/worker mode; tuning/distributed.py).
    chief: bool = False  # serve the search's oracle on bind:port for workers on other machines
    port: int | None = None  # the chief's port, required with `chief`
    bind: str = "0.0.0.0"  # the address the chief listens on; 0.0.0.0 = every interface
    worker: bool = False  # run trials for the chief at `oracle` instead of searching alone
    oracle: str | None = None  # HOST:PORT of the chief, required with `worker`
    worker_id: str | None = None  # this worker's Keras Tuner id; None = worker-<host>-<pid>
    threads: int | None = None  # TensorFlow intra-op threads; None = distributed.threads_per_worker
    connect_timeout: float = 600.0  # seconds a worker keeps retrying to reach the chief
    worker_timeout: float = 60.0  # seconds of silence after which the chief gives a worker up

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if self.data is not None and self.dataset is not None:
            raise ConfigError("Pass either --data or --dataset, not both.")
        if self.data is not None and not self.target:
            raise ConfigError(
                "--data needs --target: name the column to predict, e.g. --target price."
            )
        if self.data is None and self.target is not None and self.dataset is None:
            raise ConfigError(
                "--target needs --data FILE (the bundled datasets name their own target)."
            )
        if self.dataset is not None and self.dataset not in BUNDLED:
            raise ConfigError(
                f"Unknown --dataset '{self.dataset}'. Choose one of: {', '.join(BUNDLED)}."
            )
        _choice("--task", self.task, ("auto", *TASKS))
        _choice("--tuner", self.tuner, TUNERS)
        _at_least("--max-trials", self.max_trials, 1)
        _at_least("--epochs", self.epochs, 1)
        _at_least("--patience", self.patience, 0)
        _at_least("--workers", self.workers, 0 if self.chief else 1)
        for flag, value in (("--val-size", self.val_size), ("--test-size", self.test_size)):
            if not 0.0 < value < 1.0:
                raise ConfigError(f"{flag} must be a fraction between 0 and 1, got {value:g}.")
        if self.val_size + self.test_size >= 0.9:
            raise ConfigError(
                f"--val-size + --test-size = {self.val_size + self.test_size:g} leaves too little "
                "for training; keep their sum below 0.9 (e.g. 0.15 each)."
            )
        if self.seed < 0:
            raise ConfigError(f"--seed must be 0 or more, got {self.seed}.")
        if self.name is not None and not _PLAIN_NAME.match(self.name):
            raise ConfigError(
                f"--name '{self.name}' is not a plain folder name: use letters, digits, '.', '_' "
                "and '-', starting with a letter or digit (no slashes, no '..')."
            )
        if self.name is not None and set(self.name) == {"."}:
            raise ConfigError(f"--name '{self.name}' is not a plain folder name.")
        if self.resume and self.name is None:
            raise ConfigError("--resume needs --name: the run folder to continue (under --out).")
        self._validate_distributed()

    def _validate_distributed(self) -> None:
        if self.chief and self.worker:
            raise ConfigError(
                "Pass either --chief or --worker, not both: a process is one or the "
                "other (the chief also starts --workers N local workers)."
            )
        if (self.chief or self.worker) and self.name is None:
            raise ConfigError(
                f"--{'chief' if self.chief else 'worker'} needs --name: the chief "
                "and its workers must share one run folder, --out/--name."
            )
        if self.chief:
            if self.port is None:
                raise ConfigError(
                    "--chief needs --port P: the port workers connect to, e.g. --port 8470."
                )
            _port("--port", self.port)
            if not self.bind or any(c.isspace() for c in self.bind):
                raise ConfigError(
                    f"--bind must be an address such as 0.0.0.0 or 10.0.0.5, got {self.bind!r}."
                )
        elif self.port is not None:
            raise ConfigError(
                "--port is the chief's: pass it with --chief (workers use --oracle HOST:PORT)."
            )
        if self.worker:
            if self.oracle is None:
                raise ConfigError(
                    "--worker needs --oracle HOST:PORT: where the chief listens, "
                    "e.g. --oracle 10.0.0.5:8470."
                )
            split_address(self.oracle)
            if self.workers != 1:
                raise ConfigError(
                    "--worker runs one trial at a time, so --workers must stay 1; "
                    "start one --worker process per trial slot (with --threads)."
                )
            if self.resume:
                raise ConfigError(
                    "--resume is the chief's option: a worker joins whatever "
                    "search the chief serves."
                )
        else:
            if self.oracle is not None:
                raise ConfigError("--oracle is a worker's option: pass it with --worker.")
            if self.worker_id is not None:
                raise ConfigError("--worker-id is a worker's option: pass it with --worker.")
        if self.worker_id is not None and (
            not _PLAIN_NAME.match(self.worker_id) or "chief" in self.worker_id
        ):
            raise ConfigError(
                f"--worker-id '{self.worker_id}' must be a plain name (letters, "
                "digits, '.', '_', '-') without the word 'chief', which Keras "
                "Tuner reserves for the chief."
            )
        if self.threads is not None:
            _at_least("--threads", self.threads, 1)
        if not self.connect_timeout > 0:
            raise ConfigError(
                f"--connect-timeout must be a number of seconds > 0, got {self.connect_timeout!r}."
            )
        if not self.worker_timeout >= MIN_WORKER_TIMEOUT:
            raise ConfigError(
                f"--worker-timeout must be at least {MIN_WORKER_TIMEOUT:g} seconds (workers call "
                f"the chief every {HEARTBEAT_SECONDS:g} s), got {self.worker_timeout!r}."
            )

    @property
    def dataset_name(self) -> str:
        """The bundled dataset used when no CSV is given."""
        return self.dataset or "breast_cancer"

    def run_dir(self, name: str) -> Path:
        return Path(self.out) / name

    def settings(self) -> dict[str, Any]:
        """The options that define a search; a resume must repeat them exactly.

        The data and search-space files are identified by their contents (SHA-256) as well as
        their paths: an edited file under the same name is a different search.
        """
        keep = (
            "data",
            "target",
            "drop",
            "dataset",
            "task",
            "tuner",
            "max_trials",
            "epochs",
            "patience",
            "space",
            "val_size",
            "test_size",
            "seed",
            "refit",
        )
        values = asdict(self)
        settings = {k: (list(values[k]) if k == "drop" else values[k]) for k in keep}
        settings["data_sha256"] = _file_digest(self.data)
        settings["space_sha256"] = _file_digest(self.space)
        return settings


def settings_differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between two `RunConfig.settings()`, one readable phrase per setting.

    A data or space file that moved (another path, the same contents) is no difference. A
    digest missing from `saved` (a run folder from before digests were kept) is not compared.
    """
    differ = []
    for key, value in now.items():
        was = saved.get(key)
        if key.endswith("_sha256"):
            if was is not None and was != value:
                what = key.removesuffix("_sha256")
                differ.append(
                    f"the {what} file's contents changed (SHA-256 was {str(was)[:12]}…, "
                    f"now {str(value)[:12]}…)"
                )
            continue
        if key in ("data", "space") and was is not None and value is not None and was != value:
            digest = f"{key}_sha256"
            if saved.get(digest) is not None and saved.get(digest) == now.get(digest):
                continue  # the same file, moved
        if was != value:
            differ.append(f"{key}: was {was!r}, now {value!r}")
    return differ


def _file_digest(path: str | None) -> str | None:
    """SHA-256 of a file's bytes; None without a file (or one that cannot be read)."""
    if path is None:
        return None
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def split_address(address: str) -> tuple[str, int]:
    """HOST:PORT (or [IPv6]:PORT) as (host, port).

    Raises:
        ConfigError: if `address` is not HOST:PORT with a port in 1..65535.
    """
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--oracle must be HOST:PORT, e.g. 10.0.0.5:8470, got {address!r}.")
    _port("--oracle's port", int(port))
    return host, int(port)


def _port(flag: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{flag} must be a port number from 1 to 65535, got {value!r}.")


def _choice(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{flag} '{value}' is not one of: {', '.join(allowed)}.")


def _at_least(flag: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{flag} must be a whole number ≥ {low}, got {value!r}.")
