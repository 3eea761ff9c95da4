"""Ctrl-C and SIGTERM during a search: a flag that survives a KeyboardInterrupt Python drops."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

_INTERRUPTED = threading.Event()
_SIGNALS: list[int] = []  # the signals received, in order
_DEFERRING = threading.Event()  # set inside `deferred()`


def catch_interrupts(sigterm: bool = True) -> None:
    """Make Ctrl-C (and SIGTERM) stop the search even when Python drops the KeyboardInterrupt.

    CPython only prints ("Exception ignored in ...") an exception raised while a finalizer
    runs, and Ctrl-C often lands in one: Keras Tuner runs two full garbage collections per
    trial, which finalize the previous trial's TensorFlow objects. So Ctrl-C also sets a flag,
    and the tuner stops at the next epoch when it is set (`interrupt_requested`); the dropped
    exception's traceback is not printed. SIGTERM (a `kill`, a scheduler's stop) does the same
    as Ctrl-C, so the results so far are written then too; `terminated` tells the command line
    to exit with 143 instead of 130. Call from the main thread. An ignored SIGINT is taken
    over too: a non-interactive shell starts a background command (`tool & ... kill -INT $!`)
    with SIGINT ignored, and a run that cannot be interrupted would never write its results so
    far; a signal with a handler of its own is left alone. The flag stays set for the rest of
    the process: this is for a command line that runs one search.

    Args:
        sigterm: handle SIGTERM, and an ignored SIGINT, too. Defaults to True; a chief's local
            worker keeps the default SIGTERM and what SIGINT it was given (its chief stops it
            with SIGTERM and has the run's results to write).
    """
    report_unraisable = sys.unraisablehook

    def unraisable(info: Any) -> None:
        # The dropped KeyboardInterrupt's "Exception ignored in ..." traceback is noise: the
        # flag has it. Anything else is reported as Python would.
        if not (issubclass(info.exc_type, KeyboardInterrupt) and _INTERRUPTED.is_set()):
            report_unraisable(info)

    caught = False
    sigint = signal.getsignal(signal.SIGINT)
    if sigint is signal.default_int_handler or (sigterm and sigint is signal.SIG_IGN):
        signal.signal(signal.SIGINT, _on_signal)
        caught = True
    if sigterm and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_signal)
        caught = True
    if caught:
        sys.unraisablehook = unraisable


def _on_signal(signum: int, frame: Any) -> None:
    first = not _INTERRUPTED.is_set()
    _SIGNALS.append(signum)
    _INTERRUPTED.set()
    if first and _DEFERRING.is_set():
        return  # the code inside `deferred()` stops at its next safe point
    raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside, the first Ctrl-C or SIGTERM only sets the flag; a second one raises at once.

    A KeyboardInterrupt can land on any bytecode: inside Keras Tuner's oracle, whose lock is
    not released on an exception, or while TensorFlow traces a function under its own locks.
    One such landing left a run hanging after SIGTERM, with nothing written. The search polls
    `interrupt_requested` at the end of every epoch and before every trial and raises there,
    where nothing is half-done; leaving this block with the flag set raises too, so a signal
    that came after the last poll still stops the run before what follows it.
    """
    _DEFERRING.set()
    try:
        yield
    finally:
        _DEFERRING.clear()
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


def interrupt_requested() -> bool:
    """True once Ctrl-C was pressed (or SIGTERM came), whether or not its KeyboardInterrupt got
    through."""
    return _INTERRUPTED.is_set()


def terminated() -> bool:
    """True when the first interruption was SIGTERM rather than Ctrl-C."""
    return bool(_SIGNALS) and _SIGNALS[0] == signal.SIGTERM
