"""Keeps progress.html (`reports.progress`) up to date from the tuner's oracle: when the search
starts, after every trial that ends in any process (the chief's oracle knows them all), and
once more when the run ends, however it ends."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from common.errors import SearchFailedError, SearchInterrupted
from common.files import write_text
from common.records import TrialRecord
from reports.progress import REFRESH_SECONDS, Progress, ProgressFacts, render_progress
from tuning.search.collect import trial_record

PAGE = "progress.html"


class ProgressPage:
    """`<run folder>/progress.html` of one session's search.

    Made before the run starts, so that whatever ends the run can say so on the page; `start`
    binds it to the run folder and the tuner once the search is about to begin, and until then
    every other method does nothing.

    Args:
        report: where a warning goes if the page cannot be written.
    """

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report
        self._tuner: Any = None
        self._ended: dict[str, TrialRecord] = {}  # an ended trial does not change: read once
        self._warned = False

    def start(self, run_dir: Path, facts: ProgressFacts, total: int, tuner: Any) -> str:
        """Write the page as the search starts.

        Args:
            run_dir: the run folder.
            facts: what the page says about the run that does not change.
            total: --max-trials.
            tuner: the tuner, whose oracle knows every trial (a chief's, every process's).

        Returns:
            The console's line that names the page.
        """
        self.path = run_dir / PAGE
        self._history_dir = run_dir / "histories"
        self._facts = dataclasses.replace(facts, started=f"{datetime.now():%H:%M:%S}")
        self._total = total
        self._tuner = tuner
        self._started = time.perf_counter()
        self._earlier = len(tuner.oracle.end_order)  # a resumed run's earlier sessions
        self.update()
        return f"progress: {self.path} (refreshes every {REFRESH_SECONDS} s)"

    def update(self, state: str = "running", note: str = "") -> None:
        """Rewrite the page from the oracle's trials, atomically.

        A page that cannot be written costs one warning, never the search: it is only a view.
        """
        if self._tuner is None:
            return
        try:
            write_text(self.path, render_progress(self._progress(state, note)))
        except Exception as exc:  # noqa: BLE001 - a view: its failure must not end the search
            if not self._warned:
                self._warned = True
                self._report(f"warning: cannot write {self.path} ({type(exc).__name__}: "
                             f"{exc}); the search goes on without it")

    def stopped(self, error: BaseException) -> None:
        """Say on the page how the run ended early: interrupted, or failed and why."""
        if isinstance(error, (SearchInterrupted, KeyboardInterrupt)):
            self.update("interrupted", "The search was stopped with Ctrl-C.")
        elif isinstance(error, SearchFailedError):
            self.update("failed", str(error))
        else:
            self.update("failed", f"Unexpected {type(error).__name__}: {error} (the console "
                        "has the details; --resume continues the run).")

    def _progress(self, state: str, note: str) -> Progress:
        tuner = self._tuner
        oracle = tuner.oracle
        # Copies: with a chief, gRPC threads add and end trials while this reads.
        trials, ended = dict(oracle.trials), list(oracle.end_order)
        proposed = dict(getattr(oracle, "proposed", {}))
        for trial_id in ended:
            if trial_id not in self._ended and trial_id in trials:
                record = trial_record(trials[trial_id], self._history_dir, proposed)
                self._ended[trial_id] = dataclasses.replace(record, history={})
        running = tuple(t.trial_id for t in list(oracle.ongoing_trials.values()))
        done = len(ended)
        return Progress(
            facts=self._facts,
            trials=tuple(self._ended[t] for t in ended if t in self._ended),
            total=self._total,
            running=running if state == "running" else (),
            elapsed=time.perf_counter() - self._started,
            time_left=tuner._time_left(done) if state == "running" else "",  # noqa: SLF001
            earlier=self._earlier,
            state=state,
            note=note,
            written=f"{datetime.now():%H:%M:%S}",
            scale=tuner.score_scale,
        )
