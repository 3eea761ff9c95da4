"""The tool's error hierarchy: user-facing errors that also subclass the built-ins."""

from __future__ import annotations

import errno
from pathlib import Path


class TuningError(ValueError):
    """Base class for every error the tool reports to the user as `error: ...` (exit status 2)."""


class ConfigError(TuningError):
    """A command-line option or search-space file is invalid."""


class DataError(TuningError):
    """The input data cannot be used as given."""


class ModelError(TuningError):
    """An exported model folder is missing, incomplete or not made by this tool."""


class SearchFailedError(TuningError, RuntimeError):
    """Every trial of the search failed, so there is no model to report."""


class DiskFullError(TuningError):
    """The disk holding the run folder filled up (or its quota ran out) during the run.

    The trial that was being written is left unfinished, not failed: `--resume`, once there
    is space again, runs it again.
    """

    PREFIX = "The disk is full"  # how its message begins (a chief reads it in a worker's log)

    @classmethod
    def in_run(cls, run_dir: str | Path, error: BaseException, what: str = "") -> DiskFullError:
        """The error to report for `error` (a full disk, see `is_disk_full`) in `run_dir`.

        Args:
            what: what was being written, e.g. "trial 3's checkpoint". Defaults to the file.
        """
        run_dir = Path(run_dir)
        cause = next((e for e in _chain(error) if isinstance(e, OSError)), error)
        reason = getattr(cause, "strerror", None) or "No space left on device"
        where = what or (f"'{cause.filename}'" if getattr(cause, "filename", None) else "a file")
        return cls(
            f"{cls.PREFIX} ({reason}) while writing {where} in '{run_dir}'. The search "
            "stopped; no unfinished trial was recorded as failed. Free some space, then "
            f"continue with the same options plus --resume --out {run_dir.parent} --name "
            f"{run_dir.name}"
        )


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# How libraries that wrap the error in their own (h5py, TensorFlow) spell it.
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "errno = 28", "errno = 122")


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def is_disk_full(error: BaseException) -> bool:
    """True when `error`, or an error it was raised from, says the disk or the quota is full."""
    for e in _chain(error):
        if isinstance(e, OSError) and e.errno in _DISK_FULL:
            return True
        if isinstance(e, (OSError, RuntimeError)) and any(t in str(e) for t in _DISK_FULL_TEXT):
            return True
    return False


class SearchInterrupted(Exception):
    """The user pressed Ctrl-C (or sent SIGTERM) during the search; the results so far are
    written, unless a second interruption came while they were being written.

    Not a `TuningError`: nothing was wrong with the input, and `--resume` continues the run.

    Attributes:
        run_dir: the run folder to resume.
        trials_done: trials that ended (completed or failed) before the interruption; None
            when not known (interrupted before the search or while its results were written).
        written: trials.csv and metrics.json hold the results so far. False when the run was
            stopped before they were written; the search's own state is kept either way.
    """

    def __init__(self, run_dir: object, trials_done: int | None, written: bool = True) -> None:
        done = "" if trials_done is None else f" after {trials_done} finished trial(s)"
        super().__init__(f"interrupted{done}; "
                         + (f"results so far are in {run_dir}" if written
                            else f"the search's state is kept in {run_dir}"))
        self.run_dir = run_dir
        self.trials_done = trials_done
        self.written = written
