"""The tool's error hierarchy: user-facing errors that also subclass the built-ins."""

from __future__ import annotations


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


class SearchInterrupted(Exception):
    """The user pressed Ctrl-C during the search; the results so far are written.

    Not a `TuningError`: nothing was wrong with the input, and `--resume` continues the run.

    Attributes:
        run_dir: the run folder to resume.
        trials_done: trials that ended (completed or failed) before the interruption.
    """

    def __init__(self, run_dir: object, trials_done: int) -> None:
        super().__init__(f"interrupted after {trials_done} finished trial(s); results so far are "
                         f"in {run_dir}")
        self.run_dir = run_dir
        self.trials_done = trials_done
