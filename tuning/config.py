"""The run's configuration: one frozen object, validated once when it is made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.errors import ConfigError
from common.files import sha256
from tuning.options import BY_NAME, DIGESTS, OPTIONS, PLAIN_NAME, SEARCH, port


def _fields_from_options(cls: type) -> type:
    """Give `cls` one field per run option, in the table's order, then its own fields, and make
    it a frozen dataclass."""
    own = dict(cls.__dict__.get("__annotations__", {}))
    cls.__annotations__ = {option.name: option.annotation for option in OPTIONS} | own
    for option in OPTIONS:
        setattr(cls, option.name, option.default)
    return dataclass(frozen=True)(cls)


@_fields_from_options
class RunConfig:
    """Everything one tuning run needs to know: one field per option of `tuning.options.OPTIONS`
    (same names, same defaults), checked once here.

    Attributes:
        frame: the training rows as a pandas DataFrame (the Python API's `tune(frame)`), in
            place of a --data file; settings.json identifies it by its contents.
    """

    frame: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if isinstance(self.drop, list):  # from Python code; the command line gives a tuple
            object.__setattr__(self, "drop", tuple(self.drop))
        if self.frame is not None:
            self._validate_frame()
        if self.data is not None and self.dataset is not None:
            raise ConfigError("Pass either --data or --dataset, not both.")
        if self.data is not None and not self.target:
            raise ConfigError(
                "--data needs --target: name the column to predict, e.g. --target price."
            )
        if self.data is None and self.target is not None and self.dataset is None and (
            self.frame is None
        ):
            raise ConfigError(
                "--target needs --data FILE (the bundled datasets name their own target)."
            )
        for option in OPTIONS:
            value = getattr(self, option.name)
            if option.check is not None and value is not None:
                option.check(option.label, value)
        if not self.chief and self.workers < 1:
            raise ConfigError(f"--workers must be a whole number ≥ 1, got {self.workers!r}.")
        if self.val_size + self.test_size >= 0.9:
            sizes = f"{BY_NAME['val_size'].label} + {BY_NAME['test_size'].label}"
            raise ConfigError(
                f"{sizes} = {self.val_size + self.test_size:g} leaves too little "
                "for training; keep their sum below 0.9 (e.g. 0.15 each)."
            )
        if self.resume and self.name is None:
            raise ConfigError("--resume needs --name: the run folder to continue (under --out).")
        self._validate_distributed()

    def _validate_frame(self) -> None:
        if self.data is not None or self.dataset is not None:
            raise ConfigError("Pass the data once: a DataFrame, a --data file or a --dataset.")
        if not self.target:
            raise ConfigError(
                "A DataFrame needs --target: name the column to predict, e.g. target='price'."
            )
        if self.chief or self.worker or self.workers != 1:
            raise ConfigError(
                "--workers, --chief and --worker start processes that read the data from a "
                "file, so they need the data as a CSV path, not a DataFrame. Save it with "
                "frame.to_csv(path, index=False) and pass the path, or keep workers=1."
            )

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
            port("--port", self.port)
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
                raise ConfigError(
                    f"{BY_NAME['worker_id'].label} is a worker's option: pass it with --worker."
                )
        if self.worker_id is not None and (
            not PLAIN_NAME.match(self.worker_id) or "chief" in self.worker_id
        ):
            raise ConfigError(
                f"{BY_NAME['worker_id'].label} '{self.worker_id}' must be a plain name (letters, "
                "digits, '.', '_', '-') without the word 'chief', which Keras "
                "Tuner reserves for the chief."
            )

    @property
    def dataset_name(self) -> str:
        """The bundled dataset used when no CSV is given."""
        return self.dataset or "breast_cancer"

    def run_dir(self, name: str) -> Path:
        return Path(self.out) / name

    def settings(self) -> dict[str, Any]:
        """The options that define a search (`Option.search`); a resume or a worker must repeat
        them exactly.

        The data and search-space files are identified by their contents (SHA-256) as well as
        their paths: an edited file under the same name is a different search.
        """
        settings = {name: getattr(self, name) for name in SEARCH}
        settings["drop"] = list(settings["drop"])  # as JSON reads it back
        for name in DIGESTS:
            settings[f"{name}_sha256"] = _file_digest(getattr(self, name))
        if self.frame is not None:  # a DataFrame stands where a --data file would
            settings["data_sha256"] = self._frame_digest()
        return settings

    def _frame_digest(self) -> str:
        """The DataFrame's `data.loading.frame_digest`, worked out once (it reads every row)."""
        digest = self.__dict__.get("_frame_sha256")
        if digest is None:
            from data.loading import frame_digest

            digest = frame_digest(self.frame)
            object.__setattr__(self, "_frame_sha256", digest)
        return digest


def settings_differences(
    saved: dict[str, Any], now: dict[str, Any], labels: tuple[str, str] = ("was", "now")
) -> list[str]:
    """What differs between two `RunConfig.settings()`, one readable phrase per setting.

    Both `--resume` (the saved run against this session) and a worker (the chief's run folder
    against its own options) compare with this. A data or space file that moved (another path,
    the same contents) is no difference. A digest missing from `saved` (a run folder from
    before digests were kept) is not compared.

    Args:
        labels: what to call the saved and the current value in the phrases.
    """
    before, after = labels
    differ = []
    for key, value in now.items():
        was = saved.get(key)
        if key.endswith("_sha256"):
            if was is not None and was != value:
                what = key.removesuffix("_sha256")
                differ.append(
                    f"the {what} file's contents changed (SHA-256 {before} {str(was)[:12]}…, "
                    f"{after} {str(value)[:12]}…)"
                )
            continue
        if key in DIGESTS and was is not None and value is not None and was != value:
            digest = f"{key}_sha256"
            if saved.get(digest) is not None and saved.get(digest) == now.get(digest):
                continue  # the same file, moved
        if was != value:
            differ.append(f"{key}: {before} {was!r}, {after} {value!r}")
    return differ


def _file_digest(path: str | None) -> str | None:
    """SHA-256 of a file's bytes; None without a file (or one that cannot be read)."""
    if path is None:
        return None
    try:
        return sha256(path)
    except OSError:
        return None


def split_address(address: str) -> tuple[str, int]:
    """HOST:PORT (or [IPv6]:PORT) as (host, port).

    Raises:
        ConfigError: if `address` is not HOST:PORT with a port in 1..65535.
    """
    host, sep, number = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not number.isdigit():
        raise ConfigError(f"--oracle must be HOST:PORT, e.g. 10.0.0.5:8470, got {address!r}.")
    port("--oracle's port", int(number))
    return host, int(number)
