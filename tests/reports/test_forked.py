"""The report rendered in a forked child: same page, fallback to this process, no leftovers."""

from __future__ import annotations

import os
import sys
import time

import pytest

from reports.forked import PendingPage

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@linux_only
def test_the_page_is_rendered_in_another_process_and_handed_back():
    parent = os.getpid()
    page = PendingPage(lambda: f"<p>rendered by {os.getpid()}</p>" + "x" * 300_000)
    assert page.forked
    html = page.html()  # larger than a pipe's buffer: the child must not block on it
    assert html.startswith("<p>rendered by ") and not html.startswith(f"<p>rendered by {parent}<")
    assert len(html) == len(f"<p>rendered by {parent}</p>") + 300_000
    assert not page.forked
    assert _no_children_left()


@linux_only
def test_a_child_that_fails_is_replaced_by_rendering_here():
    parent = os.getpid()

    def render() -> str:
        if os.getpid() != parent:
            raise MemoryError("only in the child")
        return "<p>rendered here</p>"

    assert PendingPage(render).html() == "<p>rendered here</p>"
    assert _no_children_left()


def test_a_page_that_cannot_be_rendered_raises_here():
    def render() -> str:
        raise ValueError("no page")

    page = PendingPage(render)
    with pytest.raises(ValueError, match="no page"):
        page.html()
    assert _no_children_left()


def test_without_fork_the_page_is_rendered_when_asked_for():
    calls = []
    page = PendingPage(lambda: calls.append(os.getpid()) or "<p>here</p>", fork=False)
    assert not page.forked and calls == []
    assert page.html() == "<p>here</p>"
    assert calls == [os.getpid()]


@linux_only
def test_cancel_stops_a_child_at_once():
    page = PendingPage(lambda: time.sleep(60) or "never")
    started = time.monotonic()
    page.cancel()
    assert time.monotonic() - started < 5
    assert not page.forked
    assert _no_children_left()
    page.cancel()  # twice is harmless


@linux_only
def test_output_buffered_before_the_fork_is_written_once(capfd):
    print("before the fork", end="")  # still in this process's buffer
    PendingPage(lambda: "<p></p>").html()
    sys.stdout.flush()
    assert capfd.readouterr().out == "before the fork"
