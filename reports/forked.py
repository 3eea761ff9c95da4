"""Render the report in a forked child process while this one writes the model export.

After the search, the report (matplotlib figures, about 1.2-1.5 s) and the model export
(TensorFlow's SavedModel writer, about 1 s) each keep one core busy and need nothing from each
other. Threads do not overlap them (both are Python under the GIL: measured 1.70 s threaded
against 1.27 s one after the other), a new interpreter would spend longer importing matplotlib
than the page takes, but a fork has everything loaded already.

The child only runs `render_page` (NumPy, matplotlib, Jinja) and sends the HTML text back over a
pipe; it never touches TensorFlow (whose thread pools do not survive a fork), the run folder or
the console, and it ends with `os._exit`, so the parent's exit handlers never run twice. The
parent writes the page itself. Wherever forking is unavailable or the child fails, the page is
rendered in this process instead: the same page, only later.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable


def _can_fork() -> bool:
    # Linux only: on macOS a forked child of a threaded process may crash in system libraries.
    return hasattr(os, "fork") and sys.platform.startswith("linux")


class PendingPage:
    """A page being rendered by `render_page()` in a forked child, or later in this process.

    Args:
        render_page: returns the page's HTML; must not use TensorFlow.
        fork: render in a child process when the platform allows it. Defaults to True.
    """

    def __init__(self, render_page: Callable[[], str], fork: bool = True) -> None:
        self._render = render_page
        self._pid: int | None = None
        self._pipe: int | None = None
        if fork and _can_fork():
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
                page = self._render().encode("utf-8")
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(page)
                status = 0
            except BaseException:  # noqa: BLE001 - the parent renders again and raises it
                pass
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._pipe = pid, read

    @property
    def forked(self) -> bool:
        """True while a child process is rendering the page."""
        return self._pid is not None

    def html(self) -> str:
        """The page: the child's, or, if there is no child or it failed, rendered here.

        Raises:
            Whatever `render_page` raises, when it fails in this process.
        """
        if self._pid is not None:
            with os.fdopen(self._pipe, "rb") as pipe:
                self._pipe = None
                page = pipe.read()
            _, status = os.waitpid(self._pid, 0)
            self._pid = None
            if os.waitstatus_to_exitcode(status) == 0:
                return page.decode("utf-8")
        return self._render()

    def cancel(self) -> None:
        """Stop the child, if any (the page is not needed after all)."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self._pid, 0)
            self._pid = None
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
