"""The tool's error hierarchy: user-facing errors that also subclass the built-ins; Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any


class TunerError(Exception):
    """Base class for every error the tool reports to the user as `error: ...` (exit status 2)."""


class ConfigError(TunerError, ValueError):
    """A command-line option or search-space file is invalid."""


class DataError(TunerError, ValueError):
    """The input data cannot be used as given."""


class ModelError(TunerError, ValueError):
    """An exported model folder is missing, incomplete or not made by this tool."""


class SearchFailedError(TunerError, RuntimeError):
    """Every trial of the search failed, so there is no model to report."""


class SearchInterrupted(Exception):
    """The user pressed Ctrl-C during the search; the results so far are written.

    Not a `TunerError`: nothing was wrong with the input, and `--resume` continues the run.

    Attributes:
        run_dir: the run folder to resume.
        trials_done: trials that ended (completed or failed) before the interruption.
    """

    def __init__(self, run_dir: object, trials_done: int) -> None:
        super().__init__(f"interrupted after {trials_done} finished trial(s); results so far are "
                         f"in {run_dir}")
        self.run_dir = run_dir
        self.trials_done = trials_done


_INTERRUPTED = threading.Event()


def catch_interrupts() -> None:
    """Make Ctrl-C stop the search even when Python drops the KeyboardInterrupt.

    CPython only prints ("Exception ignored in ...") an exception raised while a finalizer
    runs, and Ctrl-C often lands in one: Keras Tuner runs two full garbage collections per
    trial, which finalize the previous trial's TensorFlow objects. So Ctrl-C also sets a flag,
    and the tuner stops at the next epoch when it is set (`interrupt_requested`); the dropped
    exception's traceback is not printed. Call from the main thread; SIGINT is left alone when
    it is ignored (as for a background job). The flag stays set for the rest of the process:
    this is for a command line that runs one search.
    """
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def on_sigint(signum: int, frame: Any) -> None:
        _INTERRUPTED.set()
        raise KeyboardInterrupt

    report_unraisable = sys.unraisablehook

    def unraisable(info: Any) -> None:
        # The dropped KeyboardInterrupt's "Exception ignored in ..." traceback is noise: the
        # flag has it. Anything else is reported as Python would.
        if not (issubclass(info.exc_type, KeyboardInterrupt) and _INTERRUPTED.is_set()):
            report_unraisable(info)

    signal.signal(signal.SIGINT, on_sigint)
    sys.unraisablehook = unraisable


def interrupt_requested() -> bool:
    """True once Ctrl-C was pressed, whether or not its KeyboardInterrupt got through."""
    return _INTERRUPTED.is_set()
