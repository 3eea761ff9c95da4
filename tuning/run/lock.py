"""One process at a time in a run folder: an exclusive `flock` on its `run.lock`.

The process that makes a run folder, or continues it with --resume, holds the lock until it
ends; the kernel releases it when the process dies however it dies (SIGKILL included), so a
stale lock never blocks a --resume. A second process, while the first is alive, is refused
before it changes anything in the folder. Workers joining a chief do not take it: they write
into the chief's folder on the chief's behalf.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from common.errors import ConfigError

LOCK_FILE = "run.lock"

_held: set[int] = set()  # this process's lock descriptors, closed in a forked child


def _close_in_child() -> None:
    # A forked helper (reports.forked) must not keep the folder locked after this process dies.
    for fd in list(_held):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class RunLock:
    """The lock on one run folder, held from `acquire` until `release` (or the process ends)."""

    def __init__(self, run_dir: Path) -> None:
        self._path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or say which process holds it.

        Raises:
            ConfigError: another live process holds the folder.
        """
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            who = f" (process {holder})" if holder.isdigit() else ""
            raise ConfigError(
                f"The run folder '{self._path.parent}' is in use by another run{who}, still "
                "going: a second run or --resume there would run the same trials twice. Wait "
                "for it to end, or stop it, then continue it with --resume."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        _held.add(fd)

    def release(self) -> None:
        """Let another process have the folder (closing the file releases the lock)."""
        if self._fd is not None:
            _held.discard(self._fd)
            os.close(self._fd)
            self._fd = None
