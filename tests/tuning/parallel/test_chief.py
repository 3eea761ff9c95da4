"""Parallel and distributed tuning: options, the chief's bookkeeping, and real chief + workers runs.

The end-to-end runs start `run_tuning.py --workers 2` (a chief and two worker processes talking
gRPC on 127.0.0.1) in its own process group, and kill the whole group when a test ends, so no
worker outlives a failed test.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from common.errors import ConfigError
from tuning.config import RunConfig

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chief": True, "worker": True, "name": "r", "port": 9000, "oracle": "h:1"},
         "either --chief or --worker"),
        ({"chief": True, "port": 9000}, "--chief needs --name"),
        ({"worker": True, "oracle": "h:9000"}, "--worker needs --name"),
        ({"chief": True, "name": "r"}, "--chief needs --port"),
        ({"chief": True, "name": "r", "port": 70000}, "port number from 1 to 65535"),
        ({"port": 9000}, "--port is the chief's"),
        ({"worker": True, "name": "r"}, "--worker needs --oracle HOST:PORT"),
        ({"worker": True, "name": "r", "oracle": "10.0.0.5"}, "must be HOST:PORT"),
        ({"worker": True, "name": "r", "oracle": "h:0"}, "port number from 1 to 65535"),
        ({"worker": True, "name": "r", "oracle": "h:9000", "workers": 2}, "--workers must stay 1"),
        ({"oracle": "h:9000"}, "--oracle is a worker's option"),
        ({"worker": True, "name": "r", "oracle": "h:1", "worker_id": "my-chief"},
         "without the word"),
        ({"threads": 0}, "--threads must be a whole number"),
        ({"workers": 0}, "--workers must be a whole number ≥ 1"),
        ({"worker_timeout": 1}, r"--worker-timeout \(worker_timeout\) must be at least 5 seconds"),
    ],
    ids=["chief-and-worker", "chief-no-name", "worker-no-name", "chief-no-port", "bad-port",
         "port-without-chief", "worker-no-oracle", "oracle-no-port", "oracle-port-zero",
         "worker-with-workers", "oracle-without-worker", "worker-id-chief", "zero-threads",
         "zero-workers", "short-worker-timeout"],
)
def test_bad_distributed_options(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig(**kwargs)


def test_chief_may_serve_without_local_workers():
    config = RunConfig(chief=True, name="r", port=8470, workers=0)
    assert config.workers == 0 and config.bind == "0.0.0.0"


def test_more_workers_than_cores_is_warned_about():
    from tuning.parallel.chief import oversubscribed

    assert oversubscribed(2, 2) is None and oversubscribed(1, 1) is None
    assert oversubscribed(3, 2).startswith("--workers 3 on 2 cores")
    assert "--workers 1 or fewer" in oversubscribed(2, 1)


def test_the_chief_says_what_runs_where_and_warns_about_too_many_workers(tmp_path,
                                                                         monkeypatch):
    from tuning.parallel import chief as distributed

    monkeypatch.setattr(distributed.Chief, "_start_worker", lambda self: None)
    monkeypatch.setattr(distributed.os, "cpu_count", lambda: 2)
    for workers, warned in ((2, False), (3, True)):
        lines: list[str] = []
        config = RunConfig(workers=workers, out=str(tmp_path), name=f"w{workers}")
        chief = distributed.Chief(config, tmp_path / f"w{workers}", lines.append)
        try:
            chief.folder_ready("0123abcd")
        finally:
            chief.close()
        assert lines[0].startswith("parallel: chief serving the search on 127.0.0.1:")
        assert f"{workers - 1} local worker process" in lines[0]
        assert "1 TensorFlow thread each" in lines[0]
        assert [line.startswith("warning: --workers 3 on 2 cores") for line in lines[1:]] == \
            ([True] if warned else [])


def test_trials_get_one_tensorflow_thread_unless_the_layers_are_wide(monkeypatch):
    """Small matrix products run no faster on a second thread: one per process, unless the
    space's widest layer on its largest batch reaches 512 x 1024; serve-only gets every core."""
    from common.space import Range, SearchSpace
    from tuning.parallel import chief as distributed

    monkeypatch.setattr(distributed.os, "cpu_count", lambda: 8)
    built_in = SearchSpace()
    wide = SearchSpace(units=Range(16, 512), batch_size=(256, 1024))
    assert (built_in.largest("units"), wide.largest("units"), wide.largest("batch_size")) == \
        (256, 512, 1024)
    assert [distributed.threads_per_worker(n, built_in) for n in (1, 2, 0)] == [1, 1, 8]
    assert [distributed.threads_per_worker(n, wide) for n in (1, 2, 3, 0)] == [8, 4, 2, 8]
    assert distributed.threads_per_worker(2, SearchSpace(units=4096, batch_size=128)) == 4


def test_local_workers_are_started_before_the_data_libraries_load():
    """`--workers N` starts its worker processes first thing, so that their start-up overlaps
    the chief's: nothing on the way to `pipeline.run` creating the chief loads pandas,
    scikit-learn or TensorFlow (pandas alone took 0.3 s)."""
    code = ("import sys, run_tuning, tuning.run.pipeline; from tuning.config import RunConfig; "
            "RunConfig(dataset='digits', task='multiclass'); "
            "print(sorted(m for m in ('pandas', 'sklearn', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_workers_get_the_chiefs_search_options():
    """A local worker's command line parses back to the chief's search settings."""
    from tuning.cli.args import tune_parser
    from tuning.options import forwarded_argv

    chief = RunConfig(dataset="iris", drop=("petal width (cm)",), tuner="random", max_trials=3,
                      epochs=2, patience=0, seed=4, refit=True, workers=2, name="r", out="o")
    argv = [*forwarded_argv(chief), "--name", "r", "--worker", "--oracle", "127.0.0.1:9",
            "--worker-id", "local-1", "--threads", "1"]
    worker = RunConfig(**vars(tune_parser().parse_args(argv)))
    assert worker.settings() == chief.settings()
    assert (worker.worker, worker.workers, worker.threads) == (True, 1, 1)


def _small_oracle(tmp_path: Path):
    """A random-search oracle of 3 trials over one hyperparameter, saving under tmp_path."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Int("units", 1, 8)
    oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=3, seed=1,
                                           hyperparameters=hp)
    oracle._set_project_dir(str(tmp_path), "keras_tuner")
    return oracle


def test_a_dead_workers_trial_ends_as_failed(tmp_path):
    """What the chief does when a worker dies holding a trial: no stall, nothing lost."""
    from tuning.parallel.liveness import all_ended, release_worker

    oracle = _small_oracle(tmp_path)
    trial = oracle.create_trial("local-1")
    oracle.create_trial("local-2")
    assert release_worker(oracle, "local-1", "worker local-1 stopped") == trial.trial_id
    assert oracle.trials[trial.trial_id].status == "FAILED"
    assert oracle.trials[trial.trial_id].message == "worker local-1 stopped"
    assert "local-1" not in oracle.tuner_ids and "local-1" not in oracle.ongoing_trials
    assert release_worker(oracle, "local-1", "again") is None  # nothing held any more
    assert not all_ended(oracle)  # local-2 still runs its trial


def test_a_silent_worker_is_given_up_and_its_late_result_ignored(tmp_path, monkeypatch):
    """The chief's call log, on a real oracle served by Keras Tuner's servicer (no network):
    a worker that stops calling is reported once the timeout passes, its trial is ended as
    failed, and the result it sends afterwards neither ends that trial again nor counts."""
    import keras_tuner as kt
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    from tuning.parallel import liveness
    from tuning.parallel.liveness import all_ended, release_worker

    clock = [1000.0]
    monkeypatch.setattr(liveness.time, "monotonic", lambda: clock[0])
    hp = kt.HyperParameters()
    hp.Int("units", 1, 8)
    oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=4, seed=1,
                                           hyperparameters=hp)
    oracle._set_project_dir(str(tmp_path), "keras_tuner")
    servicer = OracleServicer(oracle)
    calls = liveness.CallLog(servicer, oracle)
    service = protos.get_service()

    def create(tuner_id):
        request = service.CreateTrialRequest(tuner_id=tuner_id)
        return kt.engine.trial.Trial.from_proto(servicer.CreateTrial(request, None).trial)

    lost, alive = create("remote-a"), create("remote-b")
    oracle.create_trial("chief")  # the chief's own trials do not go through gRPC
    clock[0] += 4
    servicer.GetTrial(service.GetTrialRequest(trial_id=alive.trial_id), None)  # a heartbeat
    assert calls.silent(5, skip="chief") == []
    clock[0] += 2
    assert calls.silent(5, skip="chief") == [("remote-a", 6.0)]  # b called 2 s ago

    assert release_worker(oracle, "remote-a", "silent") == lost.trial_id
    assert calls.silent(5, skip="chief") == []
    # remote-a was only cut off: its result arrives after all.
    lost.status = "COMPLETED"
    servicer.UpdateTrial(service.UpdateTrialRequest(trial_id=lost.trial_id,
                                                    metrics={"val_loss": 0.1}), None)
    servicer.EndTrial(service.EndTrialRequest(trial=lost.to_proto()), None)
    assert oracle.trials[lost.trial_id].status == "FAILED"
    assert oracle.trials[lost.trial_id].message == "silent"
    assert oracle.end_order.count(lost.trial_id) == 1
    assert calls.take_ignored() == [lost.trial_id] and calls.take_ignored() == []
    # It is a worker like any other again once it asks for a trial.
    again = create("remote-a")
    assert again.trial_id not in (lost.trial_id, alive.trial_id)
    alive.status = again.status = "COMPLETED"
    for trial in (alive, again):
        oracle.update_trial(trial.trial_id, {"val_loss": 0.2})
        calls.ended.clear()
        servicer.EndTrial(service.EndTrialRequest(trial=trial.to_proto()), None)
        assert calls.ended.is_set()  # wakes the chief's monitor at once
    assert oracle.trials[again.trial_id].status == "COMPLETED"
    assert not all_ended(oracle)  # the chief's own trial still runs


def test_a_worker_beats_only_while_it_holds_a_trial(monkeypatch):
    from tuning.parallel import liveness

    monkeypatch.setattr(liveness, "HEARTBEAT_SECONDS", 0.05)
    beats: list[str] = []

    class Stub:  # the gRPC stub: only the heartbeat's call is expected
        def GetTrial(self, request, timeout=None):  # noqa: N802 - gRPC's method name
            beats.append(request.trial_id)

    class Client:  # Keras Tuner's OracleClient, as far as the heartbeat sees it
        stub = Stub()

        def create_trial(self, tuner_id):
            return types.SimpleNamespace(trial_id="3", status="RUNNING")

        def end_trial(self, trial):
            pass

    client = Client()
    heartbeat = liveness.Heartbeat(client)
    heartbeat.start()
    try:
        time.sleep(0.3)
        assert beats == []  # no trial held yet
        trial = client.create_trial("w")
        time.sleep(0.4)
        assert len(beats) >= 3 and set(beats) == {"3"}
        client.end_trial(trial)
        time.sleep(0.15)
        after_end = len(beats)
        time.sleep(0.3)
        assert len(beats) == after_end
    finally:
        heartbeat.stop()


# --- real runs: a chief and two workers on loopback ---------------------------------------------


def _tiny_csv(tmp_path: Path) -> str:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    rows = [f"{a:.4f},{b:.4f},{c:.4f},{int(a + b > 0)}" for a, b, c in x]
    path = tmp_path / "tiny.csv"
    path.write_text("a,b,c,y\n" + "\n".join(rows) + "\n")
    return str(path)


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run_tuning.py"), "--data", _tiny_csv(tmp_path),
         "--target", "y", "--tuner", "random", "--out", str(tmp_path / "runs"), "--name", "run",
         "--workers", "2", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: the workers are killed with it
    )


def _finish(proc: subprocess.Popen, timeout: float) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        _kill_group(proc)
    assert proc.returncode == 0, out
    return out


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _trials(run: Path) -> list[dict[str, str]]:
    with open(run / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _ran(run: Path) -> list[str]:
    """Trial ids as the workers' logs report them ended, one entry per time a trial ran."""
    ids = []
    for log in sorted((run / "workers").glob("*.log")):
        ids += [line.split()[1] for line in log.read_text().splitlines()
                if line.startswith("trial ")]
    return ids


def _worker_alone(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, str(ROOT / "run_tuning.py"), "--data", _tiny_csv(tmp_path), "--target",
         "y", "--tuner", "random", "--out", str(tmp_path / "runs"), "--name", "run", "--worker",
         "--oracle", "127.0.0.1:9", "--connect-timeout", "1", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_a_worker_without_a_chief_gives_up_after_connect_timeout(tmp_path):
    done = _worker_alone(tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: No run folder at") and "after 1 s" in done.stderr
    assert not (tmp_path / "runs" / "run").exists()


def test_a_worker_with_other_search_options_than_its_chief_is_refused(tmp_path):
    run = tmp_path / "runs" / "run"
    run.mkdir(parents=True)
    chief = RunConfig(data=_tiny_csv(tmp_path), target="y", tuner="random", max_trials=3,
                      name="run", out=str(tmp_path / "runs"))
    (run / "settings.json").write_text(json.dumps(chief.settings()))
    done = _worker_alone(tmp_path)  # --max-trials left at its default, 20
    assert done.returncode == 2, done.stderr
    assert "differ from the chief's (max_trials: chief 3, worker 20)" in done.stderr
    assert sorted(p.name for p in run.iterdir()) == ["settings.json"]


@pytest.mark.slow
def test_a_worker_whose_chief_never_answers_gives_up(tmp_path):
    """The run folder is there (a chief made it) but nothing listens at --oracle."""
    run = tmp_path / "runs" / "run"
    run.mkdir(parents=True)
    config = RunConfig(data=_tiny_csv(tmp_path), target="y", tuner="random", name="run",
                       out=str(tmp_path / "runs"))
    (run / "settings.json").write_text(json.dumps(config.settings() | {"run_id": "0a1b"}))
    done = _worker_alone(tmp_path)
    assert done.returncode == 2, done.stderr
    assert "The chief at 127.0.0.1:9 did not answer within 1 s" in done.stderr


@pytest.mark.slow
def test_two_workers_run_every_trial_exactly_once(tmp_path):
    proc = _start(tmp_path, "--max-trials", "4", "--epochs", "1")
    out = _finish(proc, timeout=150)
    run = tmp_path / "runs" / "run"
    rows = _trials(run)
    assert sorted(int(r["trial_id"]) for r in rows) == [0, 1, 2, 3]
    assert {r["status"] for r in rows} == {"COMPLETED"}
    oracle = json.loads((run / "keras_tuner" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"]
    assert set(oracle["run_times"].values()) == {1}  # none lost, none run twice
    assert json.loads((run / "metrics.json").read_text())["trials"]["completed"] == 4
    assert (run / "model" / "model.keras").exists()
    # (On a 1-core machine the chief rightly warns that --workers 2 is more than its cores.)
    assert not [line for line in out.splitlines()
                if line.startswith("warning:") and not line.startswith("warning: --workers")], out
    # One progress line per trial, counted in the order they ended, however close together.
    counts = [line.split(" done")[0].split()[-1] for line in out.splitlines()
              if line.startswith("trial ")]
    assert counts == ["1/4", "2/4", "3/4", "4/4"], out
    # The chief keeps progress.html for every process's trials.
    assert f"progress: {run / 'progress.html'} (refreshes every 5 s)" in out
    page = (run / "progress.html").read_text()
    assert '"verdict finished"' in page and "<dt>trials ended</dt><dd>4 of 4" in page
    # Keras Tuner's stray debug print of conditional hyperparameters (bare numbers) is silenced.
    logs = [line for log in (run / "workers").glob("*.log")
            for line in log.read_text().splitlines()]
    assert not [line for line in out.splitlines() + logs if line.strip().isdigit()]


@pytest.mark.slow
def test_killing_a_worker_mid_search_loses_no_trial(tmp_path):
    # Enough trials, each long enough, that the worker process, which starts (and imports
    # TensorFlow) while the chief already runs trials, surely gets one before the chief has run
    # them all, even on a fast machine (8 trials of 5 epochs once ended before the worker began;
    # a trial of 150 epochs, cross-validated on 5 folds, takes 1-3 s, and the worker has taken
    # trial 1 while the chief was still on trial 0). One network exported: the export is not
    # what is tested here.
    proc = _start(tmp_path, "--max-trials", "5", "--epochs", "150", "--patience", "0",
                  "--ensemble", "1")
    run = tmp_path / "runs" / "run"
    try:
        trial_id = _wait_for_trial_of(run, "local-1", proc, timeout=120)
        os.kill(_pid_of(run, "local-1"), signal.SIGKILL)
        out = _finish(proc, timeout=150)
    finally:
        _kill_group(proc)
    rows = {int(r["trial_id"]): r for r in _trials(run)}  # ids are zero-padded past 10 trials
    assert sorted(rows) == list(range(5))
    assert {r["status"] for r in rows.values()} <= {"COMPLETED", "FAILED"}
    assert "warning: worker local-1 exited with code -9" in out
    killed = rows[int(trial_id)]
    if killed["status"] == "FAILED":  # unless it ended in the instant before the kill
        assert "worker local-1 stopped" in killed["message"]
    assert json.loads((run / "metrics.json").read_text())["trials"]["completed"] >= 1


@pytest.mark.slow
def test_a_remote_worker_that_hangs_does_not_stall_the_chief(tmp_path):
    """Two workers on "other machines" (processes the chief did not start) serve a chief that
    runs no trials itself; one stops mid-trial, as a hung or cut-off host would. After
    --worker-timeout the chief records that trial as failed and the other worker finishes the
    search. (Before the heartbeat, the chief waited for that trial forever.)"""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    trials = ("--max-trials", "6", "--epochs", "30", "--patience", "0")
    chief = _start(tmp_path, *trials, "--chief", "--port", str(port), "--bind", "127.0.0.1",
                   "--workers", "0", "--worker-timeout", "5")
    remotes = [_start(tmp_path, *trials, "--worker", "--oracle", f"127.0.0.1:{port}",
                      "--worker-id", f"remote-{i}", "--workers", "1", "--threads", "1")
               for i in (1, 2)]
    run = tmp_path / "runs" / "run"
    try:
        trial_id = _wait_for_trial_of(run, "remote-1", chief, timeout=120)
        os.killpg(remotes[0].pid, signal.SIGSTOP)
        stopped = time.monotonic()
        out = _finish(chief, timeout=150)
    finally:
        for proc in (chief, *remotes):
            _kill_group(proc)
    rows = {r["trial_id"]: r for r in _trials(run)}
    assert sorted(int(t) for t in rows) == list(range(6))
    assert "warning: worker remote-1 sent nothing for" in out
    assert "remote-2 sent nothing" not in out  # the healthy worker's heartbeat kept it in
    held = rows[str(int(trial_id))]
    if held["status"] == "FAILED":  # unless it ended in the instant before the stop
        assert "worker remote-1 sent nothing for" in held["message"]
        assert time.monotonic() - stopped >= 5
    assert json.loads((run / "metrics.json").read_text())["status"] == "complete"


def _wait_for_trial_of(run: Path, worker_id: str, proc: subprocess.Popen, timeout: float) -> str:
    """The id of the trial `worker_id` is running, as the chief's oracle.json records it."""
    deadline = time.monotonic() + timeout
    state = run / "keras_tuner" / "oracle.json"
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            ongoing = json.loads(state.read_text()).get("ongoing_trials", {})
        except (OSError, ValueError):
            ongoing = {}
        if worker_id in ongoing:
            return ongoing[worker_id]
        time.sleep(0.1)
    raise AssertionError(f"{worker_id} never started a trial")


def _pid_of(run: Path, worker_id: str) -> int:
    """The worker process the chief of `run` started as `worker_id`."""
    wanted = {b"--worker-id", worker_id.encode(), str(run.parent).encode()}
    for entry in Path("/proc").iterdir():
        try:
            argv = set((entry / "cmdline").read_bytes().split(b"\0"))
        except OSError:
            continue
        if entry.name.isdigit() and wanted <= argv:
            return int(entry.name)
    raise AssertionError(f"no process for {worker_id}")


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_workers_started_early_are_stopped_on_bad_input(tmp_path):
    # The workers start before the chief has checked its input; an error must not leave them.
    (tmp_path / "runs" / "run").mkdir(parents=True)
    proc = _start(tmp_path, "--max-trials", "2")
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        _kill_group(proc)
    assert proc.returncode == 2, out
    assert "already exists" in out
    assert not _processes_mentioning(str(tmp_path / "runs")), "a worker outlived its chief"
    assert list((tmp_path / "runs" / "run").iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_local_workers_end_when_their_chief_is_killed(tmp_path):
    """kill -9 of the chief leaves no worker behind: each watches its parent."""
    # More trials than the chief could end alone before its worker starts: it is killed first.
    proc = _start(tmp_path, "--max-trials", "100", "--epochs", "50", "--patience", "0")
    run = tmp_path / "runs" / "run"
    try:
        _wait_for_trial_of(run, "local-1", proc, timeout=120)
        os.kill(proc.pid, signal.SIGKILL)  # the chief alone, not its process group
        proc.wait()
        deadline = time.monotonic() + 10
        while _processes_mentioning(str(run.parent)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _processes_mentioning(str(run.parent)), "a worker outlived its chief"
    finally:
        _kill_group(proc)


# --------------------------------------------------------------------------------------------
# Runs identified: the chief's port is its own, and it serves only its own run's workers


def test_a_chief_whose_port_is_taken_refuses_to_start_and_writes_nothing(tmp_path):
    """Another server already listens on --port (gRPC's own SO_REUSEPORT, as a chief before this
    fix had): the new chief stops with one line, exit 2, before making its run folder."""
    from concurrent import futures

    import grpc

    other = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = other.add_insecure_port("127.0.0.1:0")  # a free port, picked by the system
    other.start()
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "run_tuning.py"), "--data", _tiny_csv(tmp_path),
             "--target", "y", "--chief", "--port", str(port), "--bind", "127.0.0.1",
             "--workers", "0", "--out", str(tmp_path / "runs"), "--name", "run"],
            cwd=ROOT, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True,
            text=True, timeout=120,
        )
    finally:
        other.stop(None)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: Cannot listen on 127.0.0.1:{port}: Address already "
                                  "in use"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_dead_workers_trial_goes_back_in_the_queue_when_the_disk_was_full(tmp_path):
    """A local worker stopped by a full disk: its trial is handed out again, not failed."""
    from tuning.parallel.liveness import requeue_worker

    oracle = _small_oracle(tmp_path)
    trial = oracle.create_trial("local-1")
    assert requeue_worker(oracle, "local-1") == trial.trial_id
    assert "local-1" not in oracle.tuner_ids and "local-1" not in oracle.ongoing_trials
    again = oracle.create_trial("local-2")
    assert again.trial_id == trial.trial_id and again.status == "RUNNING"
    assert again.hyperparameters.values == trial.hyperparameters.values


@pytest.mark.slow
def test_a_worker_of_another_run_is_refused_and_writes_nothing(tmp_path):
    """Defect: a worker whose --name named another, finished run with the same options trained
    the live chief's trials into that run's folder. The run ids differ, so the chief refuses
    its every call: the worker stops with one line, exit 2, and the other folder is untouched."""
    import socket

    with socket.socket() as probe:  # a free port (a race with another process is unlikely)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = _tiny_csv(tmp_path)
    common = ["--data", data, "--target", "y", "--tuner", "random", "--max-trials", "2",
              "--epochs", "1", "--cv", "0", "--ensemble", "1", "--out", str(tmp_path / "runs")]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    chief = subprocess.Popen(
        [sys.executable, str(ROOT / "run_tuning.py"), *common, "--name", "live", "--chief",
         "--port", str(port), "--bind", "127.0.0.1", "--workers", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    other = tmp_path / "runs" / "other"  # the same search's settings, another run's id
    try:
        deadline = time.monotonic() + 120
        live = tmp_path / "runs" / "live" / "settings.json"
        while not live.exists():
            assert chief.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        other.mkdir()
        saved = json.loads(live.read_text())
        assert len(saved["run_id"]) == 16
        (other / "settings.json").write_text(json.dumps(saved | {"run_id": "0123456789abcdef"}))
        worker = subprocess.run(
            [sys.executable, str(ROOT / "run_tuning.py"), *common, "--name", "other",
             "--worker", "--oracle", f"127.0.0.1:{port}", "--connect-timeout", "60"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
        )
        assert chief.poll() is None  # the chief goes on serving its own run
    finally:
        _kill_group(chief)
    said = chief.stdout.read()
    assert worker.returncode == 2, worker.stderr
    last = worker.stderr.strip().splitlines()
    assert len(last) == 1 and last[0].startswith("error: The chief at this address serves the "
                                                 "run in"), worker.stderr
    assert "run id 0123456789abcdef" in last[0] and "Traceback" not in worker.stderr
    # Its tuner made the usual (empty) folders before its first call; no file was written.
    assert [p.name for p in other.rglob("*") if p.is_file()] == ["settings.json"]
    assert "warning: refused worker" in said, said
