"""The options table is the one source: argparse, RunConfig, settings and workers follow it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from common.errors import ConfigError
from tuning.cli.args import tune_parser
from tuning.config import RunConfig, settings_differences
from tuning.options import OPTIONS, forwarded_argv


def test_runconfig_has_one_field_per_option_with_its_default():
    fields = dataclasses.fields(RunConfig)
    # Then its one field that is no option: the Python API's DataFrame in place of --data.
    assert [f.name for f in fields] == [o.name for o in OPTIONS] + ["frame"]
    assert [f.default for f in fields] == [o.default for o in OPTIONS] + [None]


def test_the_command_line_parses_to_the_defaults_and_knows_every_flag():
    defaults = dataclasses.asdict(RunConfig())
    assert defaults.pop("frame") is None
    assert vars(tune_parser().parse_args([])) == defaults
    flags = {a.option_strings[0] for a in tune_parser()._actions if a.option_strings}
    assert flags == {"-h"} | {o.flag for o in OPTIONS}


def test_settings_hold_the_options_that_define_the_search(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n")
    settings = RunConfig(data=str(data), target="y", workers=3, name="n").settings()
    assert list(settings) == [o.name for o in OPTIONS if o.search] + ["data_sha256",
                                                                       "space_sha256"]
    assert len(settings["data_sha256"]) == 64 and settings["space_sha256"] is None


def test_every_search_option_is_forwarded_to_the_workers():
    forwarded = {o.name for o in OPTIONS if o.forwarded}
    # --tensorboard too: it is no search setting, but every local worker logs its trials.
    assert {o.name for o in OPTIONS if o.search} | {"out", "tensorboard"} == forwarded
    config = RunConfig(dataset="iris", drop=("a", "b"), refit=True, workers=2, name="r",
                       tensorboard="tb")
    argv = forwarded_argv(config)
    assert "--drop" in argv and argv[argv.index("--drop") + 1] == "a,b" and "--refit" in argv
    assert argv[argv.index("--tensorboard") + 1] == "tb"
    assert "tensorboard" not in config.settings()  # a resume may add or change it
    assert "--workers" not in argv and "--name" not in argv


def test_a_list_of_columns_to_drop_is_taken_as_a_tuple():
    assert RunConfig(drop=["a"]).drop == ("a",)


def test_differences_are_named_with_the_callers_words():
    saved = RunConfig(max_trials=3).settings()
    now = RunConfig().settings()
    assert settings_differences(saved, now) == ["max_trials: was 3, now 20"]
    assert settings_differences(saved, now, ("chief", "worker")) == \
        ["max_trials: chief 3, worker 20"]


def _join(config, run_dir, monkeypatch):
    from tuning.parallel import worker

    for key in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.setenv(key, "")  # join sets them; the test's process gets them back
    worker.join(config, run_dir, lambda line: None)


def test_a_worker_accepts_its_own_copy_of_the_data_and_refuses_other_contents(tmp_path,
                                                                              monkeypatch):
    """A remote worker reads the data at its own path: the same contents are the same search,
    as for --resume; other contents are not."""
    chief_copy, worker_copy = tmp_path / "chief.csv", tmp_path / "worker.csv"
    chief_copy.write_text("a,y\n1,0\n2,1\n")
    worker_copy.write_text("a,y\n1,0\n2,1\n")
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    chief = RunConfig(data=str(chief_copy), target="y", chief=True, port=9000, name="r",
                      out=str(tmp_path / "runs"))
    (run_dir / "settings.json").write_text(json.dumps(chief.settings() | {"run_id": "0a1b"}))
    worker = RunConfig(data=str(worker_copy), target="y", worker=True, oracle="h:9000",
                       name="r", out=str(tmp_path / "runs"), connect_timeout=1)
    _join(worker, run_dir, monkeypatch)  # no error
    worker_copy.write_text("a,y\n1,0\n2,0\n")
    with pytest.raises(ConfigError, match=r"differ from the chief's .*the data file's contents "
                       r"changed \(SHA-256 chief"):
        _join(worker, run_dir, monkeypatch)
