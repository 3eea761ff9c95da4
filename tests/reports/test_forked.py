"""Work done in a forked child: the same result, errors raised here, fallback, no leftovers."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from reports.forked import ForkedCall

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")


def _reaped(pid: int) -> bool:
    """The child is gone and waited for: no zombie left behind."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@linux_only
def test_the_result_is_computed_in_another_process_and_handed_back():
    parent = os.getpid()
    call = ForkedCall(lambda: (os.getpid(), "x" * 300_000))
    assert call.forked
    pid, text = call.result()  # larger than a pipe's buffer: the child must not block on it
    assert pid != parent and text == "x" * 300_000
    assert not call.forked
    assert call.result() == (pid, text)  # kept, not computed again
    assert _reaped(pid)


@linux_only
def test_the_child_can_run_at_a_lower_priority():
    here = os.nice(0)
    assert ForkedCall(lambda: os.nice(0), nice=19).result() == min(19, here + 19)
    assert ForkedCall(lambda: os.nice(0)).result() == here
    assert os.nice(0) == here  # this process keeps its own


@linux_only
def test_an_error_in_the_child_is_raised_here():
    def fail() -> None:
        raise ValueError(f"bad input in {os.getpid()}")

    call = ForkedCall(fail)
    child = call._pid
    with pytest.raises(ValueError, match="bad input in") as raised:
        call.result()
    assert str(os.getpid()) not in str(raised.value)  # raised by the child, not re-run here
    assert _reaped(child)


@linux_only
def test_a_child_that_dies_is_replaced_by_computing_here():
    parent = os.getpid()

    def compute() -> str:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
        return "computed here"

    call = ForkedCall(compute)
    child = call._pid
    assert call.result() == "computed here"
    assert _reaped(child)


def test_without_fork_it_is_computed_when_asked_for():
    calls = []
    call = ForkedCall(lambda: calls.append(os.getpid()) or "here", fork=False)
    assert not call.forked and calls == []
    assert call.result() == "here"
    assert calls == [os.getpid()]


@linux_only
def test_cancel_stops_a_child_at_once():
    call = ForkedCall(lambda: time.sleep(60) or "never")
    child = call._pid
    started = time.monotonic()
    call.cancel()
    assert time.monotonic() - started < 5
    assert not call.forked
    assert _reaped(child)
    call.cancel()  # twice is harmless


@linux_only
def test_output_buffered_before_the_fork_is_written_once(capfd):
    print("before the fork", end="")  # still in this process's buffer
    ForkedCall(lambda: None).result()
    sys.stdout.flush()
    assert capfd.readouterr().out == "before the fork"
