"""Watching a search: progress.html after every trial, the epoch line, --tensorboard's logs."""

from __future__ import annotations

import csv
import glob
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape

from common.errors import ConfigError
from tuning.config import RunConfig
from tuning.run import folder, pipeline
from tuning.search import callbacks
from tuning.search.callbacks import EpochLine

SPACE = """
layers = [1, 2]
units = [8, 16]
learning_rate = { min = 1e-3, max = 3e-2, sampling = "log" }
batch_size = 32
"""


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_epoch_line_waits_a_few_seconds_then_rewrites_at_most_twice_a_second():
    clock, shown = _Clock(), []
    line = EpochLine("4", 9, shown.append, after=3.0, every=0.5, clock=clock)
    line.clear()
    assert shown == []  # never shown: nothing to blank
    for epoch, (now, loss) in enumerate([(1.0, 0.9), (2.9, 0.5), (3.0, 0.7), (3.2, 0.4),
                                         (3.5, 0.6), (4.4, math.nan)]):
        clock.now = now
        line.on_epoch_end(epoch, {"loss": 1.0, "val_loss": loss})
    assert shown == [
        "  trial 4  epoch 3/9  val_loss 0.7000  best 0.5000 (epoch 2)",  # 3 s in
        # 3.2 s is too soon after 3.0 s; 3.5 s is not
        "  trial 4  epoch 5/9  val_loss 0.6000  best 0.4000 (epoch 4)",
        "  trial 4  epoch 6/9  val_loss -  best 0.4000 (epoch 4)",
    ]
    line.clear()
    line.clear()
    assert shown[3:] == [""]  # blanked once, before the trial's own line


def test_a_tensorboard_folder_that_is_a_file_is_bad_input(tmp_path):
    (tmp_path / "tb").write_text("")
    with pytest.raises(ConfigError, match=r"--tensorboard '.*tb' is a file, not a folder"):
        RunConfig(dataset="iris", tensorboard=str(tmp_path / "tb"))
    assert RunConfig(dataset="iris", tensorboard=str(tmp_path / "new" / "tb")).tensorboard


def _events(folder_path: Path) -> list:
    import tensorflow as tf

    return [event for path in sorted(glob.glob(str(folder_path / "events.out.tfevents.*")))
            for event in tf.compat.v1.train.summary_iterator(path)]


def _hparams(trial_dir: Path) -> dict:
    """The HParams plugin's session start in a trial's TensorBoard folder: name -> value."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    for event in _events(trial_dir):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name != "hparams":
                continue
            data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
            if data.HasField("session_start_info"):
                return {name: getattr(v, v.WhichOneof("kind"))
                        for name, v in data.session_start_info.hparams.items()}
    return {}


def _scalars(split_dir: Path, tag: str) -> list[tuple[int, float]]:
    import tensorflow as tf

    return [(event.step, float(tf.make_ndarray(value.tensor)))
            for event in _events(split_dir) for value in event.summary.value if value.tag == tag]


def test_a_search_can_be_watched_on_its_page_its_epoch_line_and_in_tensorboard(
        tmp_path, monkeypatch, seed):
    monkeypatch.setattr(callbacks, "EPOCH_LINE_AFTER_SECONDS", 0.0)  # show every epoch
    monkeypatch.setattr(callbacks, "EPOCH_LINE_EVERY_SECONDS", 0.0)
    monkeypatch.setattr(folder, "export_best", lambda *args, **kwargs: None)  # tested elsewhere
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    (tmp_path / "t.csv").write_text("a,b,y\n" + "".join(
        f"{a:.4f},{b:.4f},{int(a + b > 0)}\n" for a, b in x))
    (tmp_path / "space.toml").write_text(SPACE)
    run_dir, tb = tmp_path / "runs" / "run", tmp_path / "tb"
    config = RunConfig(data=str(tmp_path / "t.csv"), target="y", space=str(tmp_path / "space.toml"),
                       tuner="random", max_trials=2, epochs=2, patience=0, cv=0, ensemble=1,
                       out=str(tmp_path / "runs"), name="run", tensorboard=str(tb))
    events, pages = [], {}

    def report(line: str) -> None:
        events.append(("line", line))
        if line.startswith("trial "):  # the page as it is when the console says a trial ended
            pages[line.split()[1]] = (run_dir / "progress.html").read_text()

    pipeline.run(config, report=report, live=lambda text: events.append(("live", text)))

    lines = [text for kind, text in events if kind == "line"]
    at = lines.index(f"progress: {run_dir / 'progress.html'} (refreshes every 5 s)")
    assert lines[at - 2].startswith("search: ") and lines[at + 1].startswith("trial 0 ")
    assert lines[at - 1] == (f"tensorboard: logs in {tb / 'run'} (view with: tensorboard "
                             f"--logdir {tb})")
    # After each trial the page lists every trial ended so far, and reloads itself.
    assert sorted(pages) == ["0", "1"]
    for done, page in enumerate((pages["0"], pages["1"]), start=1):
        assert f"Searching: {done} of 2 trials done" in page
        assert '<meta http-equiv="refresh" content="5">' in page
        assert f"<dt>trials ended</dt><dd>{done} of 2" in page
        assert len(re.findall(r'<tr class="(best|failed|)">', page)) == done  # table rows
    final = (run_dir / "progress.html").read_text()
    from reports.headline import result_line

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert str(escape(result_line(metrics))) in final and 'href="report.html"' in final
    assert "http-equiv=\"refresh\"" not in final and '"verdict finished"' in final
    # Each trial showed its epochs on the updating line, blanked before its own line.
    for trial in ("0", "1"):
        own = next(i for i, e in enumerate(events) if e == ("line", lines[at + 1 + int(trial)]))
        before = [text for kind, text in events[:own] if kind == "live"]
        assert before[-1] == ""
        assert f"  trial {trial}  epoch 2/2  val_loss " in before[-2]
    # TensorBoard: each trial's hyperparameters and its per-epoch losses, as trials.csv has them.
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    for row in rows:
        trial_dir = tb / "run" / f"trial_{row['trial_id']}"
        hparams = _hparams(trial_dir)
        assert hparams and set(hparams) == {k for k in row if k not in (
            "trial_id", "status", "score", "epochs", "seconds", "message") and row[k] != ""}
        for name, value in hparams.items():
            assert (value == pytest.approx(float(row[name])) if isinstance(value, float)
                    else value == row[name]), name
        history = json.loads((run_dir / "histories" / f"trial_{row['trial_id']}.json").read_text())
        val = _scalars(trial_dir / "validation", "epoch_loss")
        assert [step for step, _ in val] == [0, 1]
        assert [v for _, v in val] == pytest.approx(history["history"]["val_loss"], rel=1e-5)
        assert [s for s, _ in _scalars(trial_dir / "train", "epoch_loss")] == [0, 1]


def test_a_trial_run_again_starts_its_tensorboard_logs_afresh(tmp_path):
    stale = tmp_path / "trial_3" / "train" / "events.out.tfevents.1.old"
    stale.parent.mkdir(parents=True)
    stale.write_text("the cut-off attempt's curves")
    made = callbacks.tensorboard_callbacks(tmp_path / "trial_3", "3",
                                           {"units_0": np.int64(8), "tuner/epochs": 4})
    assert not stale.exists()
    assert [type(c).__name__ for c in made] == ["TensorBoard", "Callback"]
    # A folder that cannot be written is said once; the trials go on without logs.
    (tmp_path / "file").write_text("")
    said: list[str] = []
    logs = callbacks.TensorBoardLogs(tmp_path / "file", "run", said.append)
    assert logs.callbacks("0", {}) == [] and logs.callbacks("1", {}) == []
    assert len(said) == 1 and said[0].startswith("warning: cannot write TensorBoard logs to ")
    assert callbacks._hparam_value(np.int64(8)) == 8 and type(callbacks._hparam_value(
        np.float32(0.5))) is float and callbacks._hparam_value(None) == "None"


def test_logs_and_pipes_get_the_page_s_path_but_no_updating_line(cli_run):
    proc, run_dir = cli_run  # stdout is a pipe
    assert proc.returncode == 0, proc.stderr
    assert f"progress: {run_dir / 'progress.html'} (refreshes every 5 s)\n" in proc.stdout
    assert "\r" not in proc.stdout and "epoch 1/1" not in proc.stdout
    assert '"verdict finished"' in (run_dir / "progress.html").read_text()


def test_only_a_terminal_gets_the_updating_line(monkeypatch):
    import io
    import sys

    from reports.console import TerminalLine
    from tuning import api
    from tuning.cli import main

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a log file or a pipe
    assert main._live_line() is None and api._live_line() is None
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert isinstance(main._live_line(), TerminalLine)
    assert isinstance(api._live_line(), TerminalLine)


def test_the_chief_rewrites_the_page_before_it_reports_the_trials_that_ended():
    from types import SimpleNamespace

    from tuning.parallel.chief import Chief

    calls: list[str] = []

    class Tuner:
        oracle = SimpleNamespace(end_order=["0", "1"], trials={"0": "t0", "1": "t1"})

        def show_progress(self) -> None:
            calls.append("page")

        def _trial_line(self, trial: str) -> str:
            return f"line {trial}"

    chief = object.__new__(Chief)  # only its reporting, no server or workers
    chief._report = calls.append
    assert chief._report_ended(Tuner(), 0) == 2
    assert calls == ["page", "line t0", "line t1"]
    calls.clear()
    assert chief._report_ended(Tuner(), 2) == 2 and calls == []  # nothing new: no rewrite
