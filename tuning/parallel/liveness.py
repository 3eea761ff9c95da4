"""Telling a silent worker from a slow one: heartbeats to the chief, and the chief's timeout.

The chief watches the processes it starts itself (`tuning.parallel.chief`), but a worker on another
machine is only a gRPC client: when it dies, loses the network or hangs, Keras Tuner's chief
keeps its trial "running" and waits for it forever (keras-team/keras-tuner#915). So:

  * a worker calls the chief at least every `HEARTBEAT_SECONDS` while it holds a trial (a
    read-only `GetTrial` of that trial, from a daemon thread: a trial's tracing and long epochs
    do not delay it); Keras Tuner itself calls only to get a trial and to hand in its result,
    so a long trial was indistinguishable from a dead worker;
  * the chief notes when each worker last called (`CallLog`), and a worker silent for
    `--worker-timeout` seconds is given up: the trial it held is recorded as FAILED with the
    reason, and the search goes on without it;
  * a worker that was given up but was only cut off can come back: its result for the trial the
    chief already recorded as failed is ignored (so no trial ends twice), and it is handed new
    trials like any other worker.

`release_worker` (ending a lost worker's trial) and `all_ended` are shared with the chief's
watch over its local worker processes; `pause_when_idle` is what both sides do around Keras
Tuner's other calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from common import compat

HEARTBEAT_SECONDS = 1.0
IDLE_PAUSE = 0.5  # a worker told to wait (Hyperband between brackets) asks again after this
MIN_WORKER_TIMEOUT = 5.0  # several heartbeats, so one late call is not taken for a lost worker


def synchronized(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func(oracle, ...)` under the oracle's own lock, as Keras Tuner's gRPC handlers take it."""
    from keras_tuner import synchronized as locked

    return locked(func)


def all_ended(oracle: Any) -> bool:
    """No trial runs and no worker is still asking for trials: the search is over."""
    return synchronized(_all_ended_locked)(oracle)


def _all_ended_locked(oracle: Any) -> bool:
    return not oracle.ongoing_trials and not oracle.tuner_ids


def release_worker(oracle: Any, worker_id: str, reason: str) -> str | None:
    """End `worker_id`'s running trial as FAILED and forget the worker; returns that trial's id."""
    return synchronized(_release_worker_locked)(oracle, worker_id, reason)


def _release_worker_locked(oracle: Any, worker_id: str, reason: str) -> str | None:
    trial = oracle.ongoing_trials.get(worker_id)
    if trial is not None:
        trial.status = compat.trial_status().FAILED
        trial.message = reason
        oracle.end_trial(trial)  # re-entrant: this thread already holds the oracle's lock
    oracle.tuner_ids.discard(worker_id)
    return None if trial is None else trial.trial_id


def requeue_worker(oracle: Any, worker_id: str) -> str | None:
    """Forget `worker_id` and hand its running trial out again, from scratch (the worker
    stopped for a reason not the trial's own, a full disk); returns that trial's id."""
    return synchronized(_requeue_worker_locked)(oracle, worker_id)


def _requeue_worker_locked(oracle: Any, worker_id: str) -> str | None:
    trial = oracle.ongoing_trials.pop(worker_id, None)
    if trial is not None:
        trial.metrics = compat.new_metrics_tracker()
        compat.queue_for_retry(oracle, trial.trial_id)
        oracle.save()
    oracle.tuner_ids.discard(worker_id)
    return None if trial is None else trial.trial_id


def _owner_locked(oracle: Any, trial_id: str) -> str | None:
    return next((tid for tid, t in oracle.ongoing_trials.items() if t.trial_id == trial_id), None)


class CallLog:
    """The chief's record of when each worker last called it, kept by wrapping `servicer`.

    Args:
        servicer: Keras Tuner's `OracleServicer` serving `oracle` to the workers.
        oracle: the chief's oracle.
    """

    def __init__(self, servicer: Any, oracle: Any) -> None:
        self._oracle = oracle
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._ignored: list[str] = []  # trials whose result came after they were given up
        self.ended = threading.Event()  # set when a worker has ended a trial
        self._wrap(servicer)

    def _stamp(self, tuner_id: str | None) -> None:
        if tuner_id is not None:
            with self._lock:
                self._seen[tuner_id] = time.monotonic()

    def _owner(self, trial_id: str) -> str | None:
        return synchronized(_owner_locked)(self._oracle, trial_id)

    def _wrap(self, servicer: Any) -> None:
        service = compat.oracle_messages()
        create, update = servicer.CreateTrial, servicer.UpdateTrial
        end, get = servicer.EndTrial, servicer.GetTrial

        def create_trial(request: Any, context: Any) -> Any:
            self._stamp(request.tuner_id)
            return create(request, context)

        def update_trial(request: Any, context: Any) -> Any:
            owner = self._owner(request.trial_id)
            if owner is None:  # given up on: its metrics no longer count
                trial = self._oracle.trials[request.trial_id]
                return service.UpdateTrialResponse(trial=trial.to_proto())
            self._stamp(owner)
            return update(request, context)

        def end_trial(request: Any, context: Any) -> Any:
            owner = self._owner(request.trial.trial_id)
            if owner is None:
                with self._lock:
                    self._ignored.append(request.trial.trial_id)
                return service.EndTrialResponse()
            self._stamp(owner)
            try:
                return end(request, context)
            finally:
                self.ended.set()

        def get_trial(request: Any, context: Any) -> Any:
            self._stamp(self._owner(request.trial_id))
            return get(request, context)

        servicer.CreateTrial, servicer.UpdateTrial = create_trial, update_trial
        servicer.EndTrial, servicer.GetTrial = end_trial, get_trial

    def take_ignored(self) -> list[str]:
        """Trials whose late result was ignored since the last call."""
        with self._lock:
            ignored, self._ignored = self._ignored, []
        return ignored

    def silent(self, timeout: float, skip: str) -> list[tuple[str, float]]:
        """Workers in the search, other than `skip` (the chief's own tuner), that have not
        called for `timeout` seconds, with how long they have been silent."""
        tuner_ids = synchronized(lambda oracle: set(oracle.tuner_ids))(self._oracle)
        now = time.monotonic()
        with self._lock:
            for tuner_id in tuner_ids:
                self._seen.setdefault(tuner_id, now)  # joined before the log was kept
            return [(t, now - self._seen[t]) for t in sorted(tuner_ids - {skip})
                    if now - self._seen[t] >= timeout]


class Heartbeat:
    """A worker's calls to the chief while it holds a trial (see the module docstring).

    Args:
        client: the worker's Keras Tuner `OracleClient`.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._trial_id: str | None = None
        self._stop = threading.Event()
        create, end = client.create_trial, client.end_trial

        def create_trial(tuner_id: str) -> Any:
            trial = create(tuner_id)
            self._trial_id = trial.trial_id if trial.status == "RUNNING" else None
            return trial

        def end_trial(trial: Any) -> None:
            self._trial_id = None
            end(trial)

        client.create_trial, client.end_trial = create_trial, end_trial

    def start(self) -> None:
        # Imported here, not in the thread: its first beat must not wait for an import.
        import grpc

        self._thread = threading.Thread(
            target=self._beat, args=(grpc, compat.oracle_messages()), name="heartbeat",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self, grpc: Any, service: Any) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            trial_id = self._trial_id
            if trial_id is None:
                continue
            try:
                self._client.stub.GetTrial(
                    service.GetTrialRequest(trial_id=trial_id),
                    timeout=HEARTBEAT_SECONDS * 5,
                )
            except grpc.RpcError:
                pass  # the worker's own next call reports a chief that is gone


def pause_when_idle(oracle: Any, tuner_id: str | None = None) -> None:
    """Keras Tuner asks again at once after an IDLE answer; wait a little instead of spinning.

    `oracle` is the chief's oracle or a worker's gRPC client. With `tuner_id`, only that
    tuner's requests wait: the chief's oracle also answers the workers, who wait themselves.
    """
    idle = compat.trial_status().IDLE
    create_trial = oracle.create_trial

    def patient_create_trial(requester: str) -> Any:
        trial = create_trial(requester)
        if trial.status == idle and tuner_id in (None, requester):
            time.sleep(IDLE_PAUSE)
        return trial

    oracle.create_trial = patient_create_trial
