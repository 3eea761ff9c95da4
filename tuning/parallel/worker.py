"""The worker side of parallel and distributed tuning (see `tuning.parallel.chief`).

A worker is the chief's command line plus `--worker --oracle HOST:PORT`. Before TensorFlow
loads it waits for the chief's run folder and checks that it holds the same search (`join`);
then it runs trials from the chief's oracle through Keras Tuner's `OracleClient` until the
chief has none left (`work`), writing checkpoints and histories into the shared run folder.
Every call carries the run folder's run id, and a chief serving another run refuses it
(`tuning.parallel.identity`): the worker then stops with the chief's message, exit status 2.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import compat
from common.errors import ConfigError
from tuning.config import RunConfig, settings_differences, split_address
from tuning.parallel import identity
from tuning.parallel.chief import PARENT_ENV
from tuning.parallel.liveness import Heartbeat, pause_when_idle

RPC_TIMEOUT = 300.0  # once connected, a chief silent this long is taken as gone


def join(config: RunConfig, run_dir: Path, report: Callable[[str], None]) -> str:
    """Before TensorFlow loads: wait for the chief's run folder, check it holds this search, and
    point Keras Tuner at the chief.

    Returns:
        The run folder's run id, which `work` sends with every call to the chief.

    Raises:
        ConfigError: no run folder appeared in --connect-timeout seconds, or its settings differ.
    """
    _exit_with_parent()  # a local worker starts before the chief's folder exists
    settings = run_dir / "settings.json"
    deadline = time.monotonic() + config.connect_timeout
    while True:
        saved = _read_settings(settings)
        if saved:
            # The same comparison as --resume's: a data file at another path with the same
            # contents (another machine's copy) is the same search.
            differ = settings_differences(saved, config.settings(), ("chief", "worker"))
            if differ:
                raise ConfigError(f"This worker's search options differ from the chief's "
                                  f"({'; '.join(differ)}). Start the worker with the chief's "
                                  "options.")
            if saved.get("run_id"):
                break  # else a chief resuming an older version's folder is adding it
        if time.monotonic() > deadline:
            if saved:
                raise ConfigError(
                    f"The run folder '{run_dir}' has no run id (an older version made it). "
                    "Start its chief first, with --resume, then the workers."
                )
            raise ConfigError(
                f"No run folder at '{run_dir}' after {config.connect_timeout:g} s. Start the chief "
                f"first (run_tuning.py --chief --name {run_dir.name} ...) and give the workers the "
                "same --out and --name, on a filesystem they share."
            )
        time.sleep(0.1)
    host, port = split_address(config.oracle or "")
    worker_id = config.worker_id or _default_worker_id()
    os.environ.update(KERASTUNER_TUNER_ID=worker_id,
                      KERASTUNER_ORACLE_IP=f"[{host}]" if ":" in host else host,
                      KERASTUNER_ORACLE_PORT=str(port))
    report(f"worker {worker_id}: chief at {config.oracle}, run folder {run_dir}")
    return str(saved["run_id"])


def _read_settings(path: Path) -> dict[str, Any]:
    """settings.json as a dict; empty while it does not exist (or holds no object)."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _default_worker_id() -> str:
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())
    # Keras Tuner treats any id containing "chief" as the chief.
    return f"worker-{host.replace('chief', 'chf')[:40]}-{os.getpid()}"


def _exit_with_parent() -> None:
    """A local worker ends itself when the chief that started it is gone (even if killed)."""
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(1.0)
        os._exit(3)

    threading.Thread(target=watch, name="chief-watch", daemon=True).start()


def work(tuner: Any, train: tuple[Any, Any], validation: tuple[Any, Any],
         config: RunConfig, report: Callable[[str], None], run_id: str) -> None:
    """Run trials for the chief until its oracle says the search is over.

    Args:
        run_id: the run folder's id (`join`), sent with every call.

    Raises:
        ConfigError: the chief did not answer within --connect-timeout seconds, or it serves
            another run.
        RuntimeError: the chief stopped answering in the middle of the search.
    """
    import grpc

    compat.silence_conditions_print()
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    _wait_for_chief(address, config.connect_timeout, report)
    # Keras Tuner's client makes its first call in `search`: every call is stamped.
    channel = identity.stamp(grpc.insecure_channel(address), run_id,
                             os.environ["KERASTUNER_TUNER_ID"])
    tuner.oracle.stub = compat.oracle_stub(channel)
    compat.set_client_timeout(RPC_TIMEOUT)
    pause_when_idle(tuner.oracle)
    heartbeat = Heartbeat(tuner.oracle)
    heartbeat.start()
    try:
        tuner.search(*train, validation_data=validation, verbose=0)
    except grpc.RpcError as exc:
        refused = identity.refusal(exc)
        if refused:
            raise ConfigError(refused) from None
        raise RuntimeError(f"Lost the chief at {address} ({exc.code().name}: {exc.details()}). "
                           "Check that the chief is still running.") from exc
    finally:
        heartbeat.stop()
    report("worker: the chief has no more trials for this worker; done")


def _wait_for_chief(address: str, timeout: float, report: Callable[[str], None]) -> None:
    """Retry with backoff until the chief answers: it may still be loading TensorFlow or data."""
    import grpc

    deadline = time.monotonic() + timeout
    delay, told = 0.25, False
    # gRPC backs off up to 2 minutes between attempts to reach a server that is not up yet;
    # the chief is usually only seconds away, so keep the attempts frequent.
    options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", 500)]
    with grpc.insecure_channel(address, options=options) as channel:
        while True:
            try:
                grpc.channel_ready_future(channel).result(timeout=delay)
                return
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    raise ConfigError(
                        f"The chief at {address} did not answer within {timeout:g} s. Start it "
                        "with run_tuning.py --chief --port P, check --oracle and the firewall, "
                        "or raise --connect-timeout."
                    ) from None
                if not told and delay >= 2.0:
                    report(f"worker: waiting for the chief at {address}")
                    told = True
                delay = min(delay * 2, 5.0)
