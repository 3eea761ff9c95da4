"""Which run a worker belongs to: the run id it sends on every call, and the chief's check.

A run folder's settings.json holds a random `run_id`, written when the folder is made and kept
by --resume (`tuning.run.modes`). A worker reads it from the run folder it joins and sends it
as gRPC metadata with every call (`stamp`); the chief answers only calls that carry its own
run's id (`RunCheck`). So a worker given another run's --out/--name (a typo, a finished run
with the same options) is refused at its first call instead of training the chief's trials
into the wrong folder.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

RUN_ID_KEY = "keras-mlp-tuner-run-id"  # gRPC metadata keys are lower case
WORKER_KEY = "keras-mlp-tuner-worker-id"
# The status of a refused call: the worker stops with the message instead of retrying.
REFUSED = "FAILED_PRECONDITION"


def new_run_id() -> str:
    """A random id for a new run folder."""
    return secrets.token_hex(8)


def refusal(exc: Any) -> str | None:
    """The chief's message when `exc` (a `grpc.RpcError`) is its refusal of this worker."""
    code = getattr(exc, "code", None)
    if code is None or not callable(code) or getattr(code(), "name", "") != REFUSED:
        return None
    return exc.details()


def stamp(channel: Any, run_id: str, worker_id: str) -> Any:
    """`channel` with the run id and the worker's id added to every call's metadata."""
    import grpc

    extra = ((RUN_ID_KEY, run_id), (WORKER_KEY, worker_id))

    class _Details(grpc.ClientCallDetails):
        def __init__(self, details: Any) -> None:
            self.method, self.timeout = details.method, details.timeout
            self.metadata = (*(details.metadata or ()), *extra)
            self.credentials, self.wait_for_ready = details.credentials, details.wait_for_ready
            self.compression = getattr(details, "compression", None)

    class _Stamp(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            return continuation(_Details(details), request)

    return grpc.intercept_channel(channel, _Stamp())


def run_check(run_id: str, run_dir: str, report: Callable[[str], None]) -> Any:
    """A gRPC server interceptor that refuses every call not stamped with `run_id`.

    The chief says once per worker that it refused it; the worker gets the message as its
    call's error and stops with it.
    """
    import grpc

    warned: set[str] = set()
    lock = threading.Lock()

    class _RunCheck(grpc.ServerInterceptor):
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            metadata = dict(details.invocation_metadata or ())
            theirs = metadata.get(RUN_ID_KEY)
            if theirs == run_id:
                return continuation(details)
            worker = metadata.get(WORKER_KEY, "without an id")
            what = (f"run id {theirs}" if theirs else "no run id (not this tool's worker, or "
                    "an older version)")
            message = (f"The chief at this address serves the run in '{run_dir}' (run id "
                       f"{run_id}), and this worker's run folder has {what}. Give the worker "
                       "the chief's --out and --name.")
            with lock:
                first = worker not in warned
                warned.add(worker)
            if first:
                report(f"warning: refused worker {worker}: it belongs to another run ({what}, "
                       f"this run's is {run_id}); check its --out and --name")

            def refuse(request: Any, context: Any) -> Any:
                context.abort(getattr(grpc.StatusCode, REFUSED), message)

            return grpc.unary_unary_rpc_method_handler(refuse)

    return _RunCheck()
