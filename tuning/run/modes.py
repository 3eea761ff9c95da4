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
    """

    writes_results = True

    def __init__(self, config: RunConfig, report: Report) -> None:
        self.config = config
        self._report = report

    def open_folder(self, run_dir: Path) -> None:
        """Make the run folder, or (with --resume) check that it holds this search and clean
        up after the session that was stopped.

        Raises:
            ConfigError: the folder cannot be made, or a resume's settings differ.
        """
        if self.config.resume:
            _check_resume(self.config, run_dir)
            # Until this session ends, the folder is not a finished run (see
            # `tuning.run.folder.metrics_record`).
            (run_dir / "metrics.json").unlink(missing_ok=True)
            remove_stale_temporaries(run_dir)  # what a killed session's atomic writes left
        else:
            _make_run_dir(self.config, run_dir)

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
        self._chief.folder_ready()

    def search(self, tuner: Any, train: Data, validation: Data) -> SearchResult | None:
        return self._chief.search(tuner, train, validation)

    def close(self) -> None:
        self._chief.close()


class Worker(Alone):
    """This process runs trials for a chief (`tuning.parallel.worker`), in the chief's folder."""

    writes_results = False

    def open_folder(self, run_dir: Path) -> None:
        worker.join(self.config, run_dir, self._report)

    def search(self, tuner: Any, train: Data, validation: Data) -> SearchResult | None:
        worker.work(tuner, train, validation, self.config, self._report)
        return None


def for_config(config: RunConfig, report: Report) -> Alone:
    """The mode `config` asks for (a chief starts its local workers here)."""
    if config.worker:
        return Worker(config, report)
    if chief.is_chief(config):
        return Chief(config, report)
    return Alone(config, report)


def _check_resume(config: RunConfig, run_dir: Path) -> None:
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


def _make_run_dir(config: RunConfig, run_dir: Path) -> None:
    """Create the run folder with its settings.json, or nothing at all."""
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the run folder '{run_dir}' ({exc.strerror or exc}). Pass --out with "
            "a folder you can write to."
        ) from None
    try:
        write_json(run_dir / "settings.json", config.settings())
    except OSError as exc:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
        raise ConfigError(
            f"Cannot write to the run folder '{run_dir}' ({exc.strerror or exc}). Pass --out with "
            "a folder you can write to."
        ) from None
