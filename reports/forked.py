"""Run pure-Python work in a forked child process while this one goes on with TensorFlow.

Two jobs use it. The baselines (scikit-learn fits, seconds on larger tables) run beside the
search: in a thread they shared the GIL with the trials' graph tracing, which is Python too, and
slowed the search by more than they took (digits, 10 one-epoch trials: 8.1 s of search with the
baselines in a thread, 5.4 s without them). The report's plots of the search (matplotlib,
~0.9 s on the default dataset) are drawn while this process evaluates and exports the best
model: threads did not overlap those either (1.70 s threaded against 1.27 s one after the
other), and a new interpreter would spend longer importing matplotlib than the plots take, but
a fork has everything loaded already.

The child only runs the given function (NumPy, scikit-learn, matplotlib, Jinja), never
TensorFlow, whose thread pools do not survive a fork; it sends the pickled result (or the
exception) back over a pipe and ends with `os._exit`, so the parent's exit handlers never run
twice. The parent writes every file itself. Where forking is unavailable (not Linux) or the
child dies, the function runs in this process instead when its result is asked for: the same
result, only later.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import Any


def can_fork() -> bool:
    """True on Linux; on macOS a forked child of a threaded process may crash in system
    libraries, and Windows has no fork."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


class ForkedCall:
    """`func()` computed in a forked child process, or later in this one.

    Args:
        func: returns a picklable value; must not use TensorFlow.
        fork: compute it in a child process when the platform allows it. Defaults to True.
        nice: added to the child's niceness: at 19 it gets a core only when nothing else
            wants it. Defaults to 0.
    """

    def __init__(self, func: Callable[[], Any], fork: bool = True, nice: int = 0) -> None:
        self._func = func
        self._nice = nice
        self._pid: int | None = None
        self._pipe: int | None = None
        self._outcome: tuple[bool, Any] | None = None  # (succeeded, value or exception)
        if fork and can_fork():
            self._start()

    def _start(self) -> None:
        read, write = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            stream.flush()
        pid = os.fork()
        if pid == 0:  # the child
            status = 1
            try:
                os.close(read)
                # Ctrl-C is the parent's to handle; it stops this child with `cancel`.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler
                if self._nice:
                    os.nice(self._nice)
                try:
                    outcome: tuple[bool, Any] = (True, self._func())
                except Exception as exc:  # noqa: BLE001 - handed to the parent to raise
                    outcome = (False, exc)
                try:
                    data = pickle.dumps(outcome)
                except Exception:  # noqa: BLE001 - e.g. an exception that does not pickle
                    data = pickle.dumps((False, RuntimeError(repr(outcome[1]))))
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
                status = 0
            except BaseException:  # noqa: BLE001 - the parent computes it again
                pass
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._pipe = pid, read
        atexit.register(self.cancel)  # the run ended early: do not leave the child running

    @property
    def forked(self) -> bool:
        """True while a child process is computing the result."""
        return self._pid is not None

    def result(self) -> Any:
        """The value, from the child or, if there is none or it died, computed here.

        Raises:
            Whatever `func` raised, in the child or here.
        """
        if self._outcome is None and self._pid is not None:
            self._outcome = self._collect()
        if self._outcome is None:
            self._outcome = (True, self._func())  # raises here, with a local traceback
        succeeded, value = self._outcome
        if not succeeded:
            raise value
        return value

    def _collect(self) -> tuple[bool, Any] | None:
        with os.fdopen(self._pipe, "rb") as pipe:
            self._pipe = None
            data = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        atexit.unregister(self.cancel)
        if os.waitstatus_to_exitcode(status) != 0 or not data:
            return None
        return pickle.loads(data)  # noqa: S301 - our own child's bytes

    def cancel(self) -> None:
        """Stop the child, if any (its result is not needed after all)."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self._pid, 0)
            self._pid = None
            atexit.unregister(self.cancel)
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
