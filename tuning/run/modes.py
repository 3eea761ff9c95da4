"""How one process takes part in a run: alone, as the chief of worker processes, or as a worker.

`tuning.run.pipeline.run` asks the mode `for_config` picks to open the run folder and to run
the search; the rest of the run is the same for all three.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.errors import ConfigError
from common.files import remove_stale_temporaries, write_json
from tuning.config import RunConfig, settings_differences
from tuning.parallel import chief, worker
from tuning.parallel.identity import new_run_id
from tuning.run.lock import RunLock
from tuning.run.prepare import run_name

if TYPE_CHECKING:
    from common.records import SearchResult

Report = Callable[[str], None]
Data = tuple[Any, Any]  # encoded features and targets


class Alone:
    """This process runs every trial: it makes the run folder, or continues it with --resume.

    Attributes:
        config: the run's configuration, as this mode completes it.
        writes_results: the process evaluates the best model and writes the run folder's results.
        run_id: the run folder's id (settings.json), once the folder is open.
    """

    writes_results = True

    def __init__(self, config: RunConfig, report: Report) -> None:
        self.config = config
        self._report = report
        self._lock: RunLock | None = None
        self.run_id = ""

    def open_folder(self, run_dir: Path) -> None:
        """Make the run folder, or (with --resume) check that it holds this search and clean
        up after the session that was stopped; either way lock it for this process.

        Raises:
            ConfigError: the folder cannot be made, a resume's settings differ, or another
                process holds the folder (nothing in it is changed then).
        """
        self._lock = RunLock(run_dir)
        if self.config.resume:
            saved = _check_resume(self.config, run_dir)
            self._lock.acquire()
            self.run_id = str(saved.get("run_id") or "")
            if not self.run_id:  # a folder from before run ids: it gets one now
                self.run_id = new_run_id()
                write_json(run_dir / "settings.json", saved | {"run_id": self.run_id})
            # Until this session ends, the folder is not a finished run (see
            # `tuning.run.folder.metrics_record`).
            (run_dir / "metrics.json").unlink(missing_ok=True)
            remove_stale_temporaries(run_dir)  # what a killed session's atomic writes left
        else:
            self.run_id = new_run_id()
            _make_run_dir(self.config, run_dir, self._lock, self.run_id)

    def release(self) -> None:
        """Unlock the run folder: this process is done with it."""
        if self._lock is not None:
            self._lock.release()

    def search(self, tuner: Any, train: Data, validation: Data) -> SearchResult | None:
        """Run the search; None when another process collects the results."""
        from tuning.search.collect import run_search

        return run_search(tuner, train, validation, self._report)

    def close(self) -> None:
        """Stop whatever the mode started (on bad input, before the search)."""


class Chief(Alone):
    """This process serves the search to worker processes (`tuning.parallel.chief`) and runs
    trials itself; it writes the results as `Alone` does.

    The local workers start as soon as this is made, before the data is loaded, so that their
    start-up overlaps this process's own; `close` stops them on bad input.
    """

    def __init__(self, config: RunConfig, report: Report) -> None:
        config = dataclasses.replace(config, name=run_name(config))  # the workers' folder too
        super().__init__(config, report)
        self._chief = chief.Chief(config, config.run_dir(config.name), report)

    def open_folder(self, run_dir: Path) -> None:
        super().open_folder(run_dir)
        self._chief.folder_ready(self.run_id)

    def search(self, tuner: Any, train: Data, validation: Data) -> SearchResult | None:
        return self._chief.search(tuner, train, validation)

    def close(self) -> None:
        self._chief.close()


class Worker(Alone):
    """This process runs trials for a chief (`tuning.parallel.worker`), in the chief's folder."""

    writes_results = False

    def open_folder(self, run_dir: Path) -> None:
        # No lock: the chief holds its folder, and its workers write there for it.
        self.run_id = worker.join(self.config, run_dir, self._report)

    def search(self, tuner: Any, train: Data, validation: Data) -> SearchResult | None:
        worker.work(tuner, train, validation, self.config, self._report, self.run_id)
        return None


def for_config(config: RunConfig, report: Report) -> Alone:
    """The mode `config` asks for (a chief starts its local workers here)."""
    if config.worker:
        return Worker(config, report)
    if chief.is_chief(config):
        return Chief(config, report)
    return Alone(config, report)


def _check_resume(config: RunConfig, run_dir: Path) -> dict[str, Any]:
    """The saved settings.json, if it holds this search (nothing is written).

    Raises:
        ConfigError: it cannot be read, or its settings differ from `config`'s.
    """
    try:
        saved = json.loads((run_dir / "settings.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Cannot resume '{run_dir}': its settings.json cannot be read ({exc}). Start a new "
            "run with another --name."
        ) from None
    if not isinstance(saved, dict):
        raise ConfigError(
            f"Cannot resume '{run_dir}': its settings.json holds {json.dumps(saved)[:40]}, not "
            "the object of settings this tool writes. Start a new run with another --name."
        )
    differ = settings_differences(saved, config.settings())
    if differ:
        detail = "; ".join(differ)
        raise ConfigError(
            f"--resume with different settings ({detail}). Repeat the original options, or start "
            "a new run with another --name."
        )
    return saved


def _make_run_dir(config: RunConfig, run_dir: Path, lock: RunLock, run_id: str) -> None:
    """Create the run folder, locked, with its settings.json (and `run_id`), or nothing at all.

    Raises:
        ConfigError: the folder exists (another process made it first) or cannot be written.
    """
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the run folder '{run_dir}' ({exc.strerror or exc}). Pass --out with "
            "a folder you can write to."
        ) from None
    try:
        lock.acquire()
        write_json(run_dir / "settings.json", config.settings() | {"run_id": run_id})
    except OSError as exc:
        lock.release()
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
        raise ConfigError(
            f"Cannot write to the run folder '{run_dir}' ({exc.strerror or exc}). Pass --out with "
            "a folder you can write to."
        ) from None
