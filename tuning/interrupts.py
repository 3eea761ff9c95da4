"""Ctrl-C during a search: a flag that survives a KeyboardInterrupt Python drops."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

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
