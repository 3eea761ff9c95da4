"""Parallel and distributed trials on Keras Tuner's chief/worker engine.

The chief is this tool's own process. It builds the tuner exactly as a single-process run does,
serves that tuner's oracle over gRPC with Keras Tuner's `OracleServicer`, runs trials itself
from the same oracle (its methods are thread-safe for this), and once every trial has ended it
evaluates the best one and writes the run folder through the normal pipeline.
A worker is the same command line plus `--worker --oracle HOST:PORT`: Keras Tuner's
`OracleClient` (selected by KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT)
asks the chief for trials and writes checkpoints and histories into the shared run folder.
`--workers N` is a chief on a free loopback port plus N - 1 local worker processes. This module
is the chief's side; the worker's is `tuning.parallel.worker`, and the calls between them
`tuning.parallel.liveness`.

What this adds to Keras Tuner's own `oracle_chief.start_server` loop:
  * the chief watches its local workers: when one dies, the trial it was running is ended as
    FAILED and a replacement is started (at most N - 1 times), so a lost worker never stalls the
    search (keras-team/keras-tuner#915);
  * every worker, local or remote, calls the chief at least once a second while it holds a
    trial, and one silent for --worker-timeout seconds is given up the same way
    (`tuning.parallel.liveness`): a remote host that dies, hangs or drops off the network costs its
    trial, not the search;
  * the chief stops as soon as every trial has ended and every worker was told to stop,
    instead of re-checking every 20 s;
  * workers wait for the chief's run folder and retry reaching the chief with backoff for
    --connect-timeout seconds (#990); once connected, a chief that stays silent for 5 minutes
    ends the worker instead of Keras Tuner's hour-long RPC timeout;
  * local workers exit when the chief's process disappears;
  * every call must carry this run's id (`tuning.parallel.identity`): a worker of another run
    is refused, and the port is the chief's alone (no SO_REUSEPORT: a second chief on the same
    port refuses to start instead of sharing the workers' calls with the first).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import compat
from common.errors import ConfigError, DiskFullError
from common.space import SearchSpace, load_space
from tuning.config import RunConfig
from tuning.interrupts import deferred
from tuning.options import forwarded_argv
from tuning.parallel.liveness import (
    CallLog,
    all_ended,
    pause_when_idle,
    release_worker,
    requeue_worker,
    synchronized,
)

LOOPBACK = "127.0.0.1"
_POLL_SECONDS = 0.2  # how often the chief checks its workers and the oracle
_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `tuning` package
# A layer's width times the batch size from which more TensorFlow threads per trial pay
# (README, Performance: below it one thread per trial was faster).
_WIDE = 512 * 1024
# How a worker stopped by a full disk says so last (the command line's `error: ` line).
_DISK_FULL = f"error: {DiskFullError.PREFIX}"
PARENT_ENV = "KERAS_MLP_TUNER_CHIEF_PID"  # set for local workers: exit when the chief is gone



def is_chief(config: RunConfig) -> bool:
    """True when this process serves the search to worker processes instead of running it."""
    return config.chief or (config.workers > 1 and not config.worker)


def threads_per_worker(workers: int, space: SearchSpace) -> int:
    """TensorFlow intra-op threads for each of `workers` processes sharing this machine.

    One, unless the space's widest layer on its largest batch reaches `_WIDE`: then the cores
    shared out among the processes. A tabular MLP's matrix products are small, and a second
    thread only adds hand-offs and fights the baselines, fitted beside the search, for the
    cores. `--workers 0` (serve only) runs no trials and gets every core for its evaluation.
    """
    cores = os.cpu_count() or 1
    if workers == 0:
        return cores
    if space.largest("units") * space.largest("batch_size") < _WIDE:
        return 1
    return max(1, cores // workers)


def oversubscribed(workers: int, cores: int) -> str | None:
    """What to tell a user who runs more trials at once than the machine has cores."""
    if workers <= cores:
        return None
    return (f"--workers {workers} on {cores} core{'s' if cores != 1 else ''}: the trials take "
            "turns on the cores and every process loads its own TensorFlow (~0.7 GB), so the "
            f"run is slower than with --workers {cores}. Pass --workers {cores} or fewer.")


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class _LocalWorker:
    worker_id: str
    process: subprocess.Popen
    log: Path
    copier: threading.Thread | None = None


class Chief:
    """Reserves the chief's port and starts the local workers; `search` then serves the oracle.

    Made first thing, before this process loads the data or TensorFlow, so the workers' whole
    start-up (Python, the data, TensorFlow) overlaps the chief's own instead of following its
    data loading. The run folder does not exist yet: the workers wait for its settings.json,
    their output is held in memory until `folder_ready`, and on bad input `close` stops them.
    """

    def __init__(self, config: RunConfig, run_dir: Path, report: Callable[[str], None]) -> None:
        self._config = config
        self._run_dir = run_dir
        self._report = report
        # First: a bad --space is reported before anything is started or reserved.
        self._threads = config.threads or threads_per_worker(config.workers,
                                                             load_space(config.space))
        host = config.bind if config.chief else LOOPBACK
        self._reserved = _reserve_port(host, config.port or 0)
        self.port: int = self._reserved.getsockname()[1]
        self._listen = _host_port(host, self.port)
        self.address = _host_port(LOOPBACK if host in ("0.0.0.0", "::") else host, self.port)
        self._workers: list[_LocalWorker] = []
        self._started = 0
        # This process runs trials too, so --workers N starts N - 1 worker processes: one
        # TensorFlow start-up fewer competing for the cores at the start.
        extra = max(0, config.workers - 1)
        self._restarts_left = extra
        self._silenced: dict[str, str] = {}  # local workers killed for staying silent: why
        self._servicer: Any = None
        self._stop = threading.Event()
        self._folder = threading.Event()  # the run folder exists: worker logs may be written
        self._own_done = False
        self._interrupted = False
        self._run_id = ""  # the run folder's, known once it exists
        atexit.register(self.close)
        for _ in range(extra):
            self._start_worker()

    def folder_ready(self, run_id: str) -> None:
        """The run folder exists: write the workers' logs there from now on, and say so.

        Args:
            run_id: the run folder's id, which every worker's call must carry.
        """
        self._run_id = run_id
        self._folder.set()
        extra = max(0, self._config.workers - 1)
        where = (f"{self._listen} for workers on other machines" if self._config.chief
                 else self._listen)
        runs = ("this process runs no" if not self._config.workers
                else "this process runs" if not extra
                else f"this process and {extra} local worker process{'es' if extra != 1 else ''}"
                     " run")
        threads = (f", {self._threads} TensorFlow thread{'s' if self._threads != 1 else ''} each"
                   if self._config.workers else "")
        self._report(f"parallel: chief serving the search on {where}; {runs} trials{threads}"
                     + (f", logs in {self._run_dir / 'workers'}" if extra else ""))
        warning = oversubscribed(self._config.workers, os.cpu_count() or 1)
        if warning:
            self._report(f"warning: {warning}")

    def _start_worker(self) -> None:
        self._started += 1
        worker_id = f"local-{self._started}"
        log = self._run_dir / "workers" / f"{worker_id}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
        env.update(TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "3"),
                   PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(self._threads),
                   **{PARENT_ENV: str(os.getpid())})
        # The same code as this process, wherever the worker starts (-P: not its own folder).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        argv = [*forwarded_argv(self._config), "--name", self._run_dir.name,
                "--worker", "--oracle", self.address, "--worker-id", worker_id,
                "--threads", str(self._threads)]
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "tuning.cli", *argv],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        )
        worker = _LocalWorker(worker_id, process, log)
        worker.copier = threading.Thread(target=self._copy_log, args=(worker,),
                                         name=f"log-{worker_id}", daemon=True)
        worker.copier.start()
        self._workers.append(worker)

    def _copy_log(self, worker: _LocalWorker) -> None:
        """Copy a worker's output into its log, holding it in memory until the folder exists."""
        held: list[bytes] = []
        handle = None
        try:
            for line in worker.process.stdout:
                held.append(line)
                if handle is None and self._folder.is_set():
                    worker.log.parent.mkdir(exist_ok=True)
                    handle = open(worker.log, "ab")  # noqa: SIM115 - open until the worker ends
                if handle is not None:
                    handle.writelines(held)
                    handle.flush()
                    held.clear()
            # Ended before the folder existed (e.g. the chief's input was bad): nothing to keep
            # unless the folder appears after all, as when this worker failed at start-up.
            if held and handle is None and self._folder.wait(30):
                worker.log.parent.mkdir(exist_ok=True)
                handle = open(worker.log, "ab")  # noqa: SIM115
                handle.writelines(held)
        finally:
            if handle is not None:
                handle.close()

    def search(self, tuner: Any, train: tuple[Any, Any], validation: tuple[Any, Any]) -> Any:
        """Serve `tuner`'s oracle, run this process's share of the trials, wait for the rest.

        Returns:
            The `SearchResult` of `tuning.search.collect.collect`, as a single-process search gives.
        """
        from concurrent import futures

        import grpc

        from tuning.parallel.identity import run_check
        from tuning.search.collect import collect

        compat.silence_conditions_print()
        oracle = tuner.oracle
        oracle.verbose = 0  # one progress line per ended trial instead
        _serialize_saves(oracle)
        pause_when_idle(oracle, tuner.tuner_id)
        tuner.save()
        self._servicer = compat.oracle_servicer(oracle)
        self._calls = CallLog(self._servicer, oracle)
        # so_reuseport 0: the port is this chief's alone, as `_reserve_port` made sure.
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                             interceptors=[run_check(self._run_id, str(self._run_dir),
                                                     self._report)],
                             options=[("grpc.so_reuseport", 0)])
        compat.add_oracle_servicer(self._servicer, server)
        try:
            bound = server.add_insecure_port(self._listen)
        except RuntimeError:
            bound = 0
        if not bound:
            self.close()
            raise ConfigError(f"Cannot listen on {self._listen}: the address is in use or not "
                              "this machine's. Pass another --port, or --bind with a local "
                              "address.")
        server.start()
        self._reserved.close()
        start = time.perf_counter()
        monitor = threading.Thread(target=self._monitor, args=(tuner,), name="chief-monitor",
                                   daemon=True)
        try:
            monitor.start()
            if self._config.workers > 0:  # this process is one of the --workers
                with deferred():  # its trials stop at an epoch's end, as a lone search's do
                    tuner.search(*train, validation_data=validation, verbose=0)
                # Its search returns once the oracle has no trial left to hand out.
                self._own_done = True
                self._calls.ended.set()
            # Serving only (--workers 0): the search is over once a worker was told to stop
            # (every trial handed out) and every trial has ended.
            while monitor.is_alive():
                monitor.join(0.5)
        except KeyboardInterrupt:
            self._interrupted = True
            self._report("interrupted: stopping the workers and writing the results so far")
        finally:
            self._stop.set()
            server.stop(grace=1.0)
            self.close()
            monitor.join(5.0)
        return collect(tuner, time.perf_counter() - start, self._interrupted)

    def _monitor(self, tuner: Any) -> None:
        """Until every trial has ended: replace dead workers, report every ended trial in order."""
        oracle, reported = tuner.oracle, 0
        while not self._stop.is_set():
            self._calls.ended.clear()
            stopping = self._servicer.stop_triggered or self._own_done
            if stopping and all_ended(oracle):
                break
            self._watch_workers(oracle)
            self._give_up_silent(tuner)
            reported = self._report_ended(tuner, reported)
            # A worker's last trial ending ends the search at once, not at the next look.
            self._calls.ended.wait(_POLL_SECONDS)
        self._report_ended(tuner, reported)

    def _watch_workers(self, oracle: Any) -> None:
        """End the trial of any worker that died, and start a replacement while any are left."""
        for worker in [w for w in self._workers if w.process.poll() is not None]:
            self._workers.remove(worker)
            code = worker.process.returncode
            if code == 2 and worker.copier is not None:
                worker.copier.join(2.0)  # its error line into the log
            if code == 2 and _last_line(worker.log).startswith(_DISK_FULL):
                # Not the trial's fault: it is handed out again (and --resume runs it if the
                # search stops for the same reason), never recorded as failed.
                trial_id = requeue_worker(oracle, worker.worker_id)
                what = f"trial {trial_id} will run again" if trial_id else "it held no trial"
                self._report(f"warning: worker {worker.worker_id} stopped: the disk is full; "
                             f"{what} (log: {worker.log})")
                continue
            reason = (f"worker {worker.worker_id} stopped with exit code {code} during this "
                      f"trial (log: {worker.log})")
            if worker.worker_id in self._silenced:
                reason = (f"{self._silenced[worker.worker_id]} during this trial and was "
                          f"stopped (log: {worker.log})")
            trial_id = release_worker(oracle, worker.worker_id, reason)
            if code == 0 and trial_id is None:
                continue  # told to stop by the oracle: its share of the search is done
            what = f"trial {trial_id} recorded as failed" if trial_id else "it held no trial"
            # A worker that exits by itself says why last; one killed by a signal does not.
            if worker.copier is not None:
                worker.copier.join(2.0)  # its last lines into the log, to quote them
            said = _last_line(worker.log) if code > 0 else ""
            said = f"; last line: {said[:300]}" if said else ""
            self._report(f"warning: worker {worker.worker_id} exited with code {code}; {what}"
                         f" (log: {worker.log}{said})")
            # Exit status 2 is a bad option or a settings mismatch: a replacement would fail too.
            stopping = self._servicer.stop_triggered or self._own_done
            if code != 2 and self._restarts_left > 0 and not stopping:
                self._restarts_left -= 1
                self._start_worker()
                self._report(f"parallel: started worker {self._workers[-1].worker_id} in its "
                             "place")

    def _give_up_silent(self, tuner: Any) -> None:
        """End the trial of any worker that has not called for --worker-timeout seconds.

        A local worker that hangs is killed, and `_watch_workers` replaces it; a remote one is
        dropped from the search (it may come back: see `tuning.parallel.liveness`).
        """
        for trial_id in self._calls.take_ignored():
            self._report(f"warning: trial {trial_id}'s result came after it was recorded as "
                         "failed; ignored")
        timeout = self._config.worker_timeout
        for worker_id, silence in self._calls.silent(timeout, skip=tuner.tuner_id):
            silent = (f"worker {worker_id} sent nothing for {silence:.0f} s (--worker-timeout "
                      f"{timeout:g})")
            local = next((w for w in self._workers if w.worker_id == worker_id), None)
            if local is not None:
                if local.process.poll() is None:
                    self._report(f"warning: {silent}; stopping it")
                    self._silenced[worker_id] = silent
                    local.process.kill()
                    local.process.wait(5)  # dead before the next look: one warning, not two
                continue
            trial_id = release_worker(tuner.oracle, worker_id, f"{silent} during this trial")
            what = f"trial {trial_id} recorded as failed" if trial_id else "it held no trial"
            self._report(f"warning: {silent}; {what}, going on without it")

    def _report_ended(self, tuner: Any, reported: int) -> int:
        """A progress line for each newly ended trial, whichever process ran it, in end order."""
        ended = tuner.oracle.end_order
        if reported < len(ended):
            tuner.show_progress()  # the page as the lines below say: every trial ended so far
        while reported < len(ended):
            self._report(tuner._trial_line(tuner.oracle.trials[ended[reported]]))
            reported += 1
        return reported

    def close(self) -> None:
        """Stop the local workers at once: when the search is over they have nothing left to
        do, and their CPU is better spent on the chief's final evaluation."""
        self._reserved.close()
        for worker in self._workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self._workers:
            try:
                worker.process.wait(5)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            if worker.copier is not None and self._folder.is_set():
                worker.copier.join(2.0)
        self._workers.clear()


def _reserve_port(host: str, port: int) -> socket.socket:
    """Bind (without listening) so the port stays ours until gRPC binds it too.

    SO_REUSEADDR, not SO_REUSEPORT: Linux lets gRPC's socket (SO_REUSEADDR too) bind the port
    beside this one because neither listens, but refuses both while any other process listens
    on it, so a port in use stops the chief here, before anything is written.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Cannot listen on {_host_port(host, port)}: {exc.strerror} "
                          "(another process, perhaps another chief, may listen there). Pass "
                          "another --port, or --bind with one of this machine's "
                          "addresses.") from exc
    return sock


def _last_line(log: Path) -> str:
    """The log's last non-blank line, stripped ("" when there is none or it cannot be read)."""
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _serialize_saves(oracle: Any) -> None:
    """The chief's own tuner saves the oracle outside its lock; gRPC threads change it meanwhile."""
    save = oracle.save
    oracle.save = lambda: synchronized(lambda _oracle: save())(oracle)
