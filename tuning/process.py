"""Settings of the whole process that make searches fast: TensorFlow's environment variables
and thread pools, and the garbage collector told to skip the long-lived objects TensorFlow
leaves.

The command line applies them all for good (it owns its process). The Python API sets the
environment variables only where they are unset, the thread pools only while TensorFlow has
not started (they cannot change later), and freezes the garbage collector only for the length
of a `tune` call (`frozen_gc`).
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.space import SearchSpace
    from tuning.config import RunConfig


# Read by TensorFlow when it is imported; a value already in the environment wins.
TENSORFLOW_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ start-up noise
    # oneDNN's kernels cost more than they save on small MLPs (README, Performance) and
    # announce themselves on stderr; TF_ENABLE_ONEDNN_OPTS=1 keeps them.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KERAS_BACKEND": "tensorflow",
}


def set_tensorflow_environment() -> None:
    """Put `TENSORFLOW_ENVIRONMENT` in the environment where it is not set, before TensorFlow
    is imported (it has no effect afterwards)."""
    for key, value in TENSORFLOW_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def set_thread_pools(config: RunConfig, space: SearchSpace) -> bool:
    """Size TensorFlow's thread pools for the search, if TensorFlow still allows it.

    One intra-op thread per trial unless the space has very wide layers (see
    `tuning.parallel.chief.threads_per_worker`), or `--threads`.

    Returns:
        True if the pools were set; False if TensorFlow had already started in this process
        and keeps the pools it started with.
    """
    import tensorflow as tf

    from tuning.parallel.chief import threads_per_worker

    per_worker = config.threads or threads_per_worker(config.workers, space)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(per_worker)
        tf.config.threading.set_inter_op_parallelism_threads(1 if per_worker == 1 else 2)
    except RuntimeError:  # TensorFlow has started: its pools are fixed for the process
        return False
    return True


def freeze_gc() -> None:
    """Leave everything that exists now out of later garbage collections, for good.

    Keras Tuner runs two full collections per trial; TensorFlow's many long-lived objects
    make each slow (README, Performance).
    """
    gc.freeze()


@contextmanager
def frozen_gc() -> Iterator[None]:
    """`freeze_gc` for the length of a `with` block, then the objects go back to the collector.

    Does nothing if objects were frozen already (the caller's own `gc.freeze`, or the command
    line's): then the caller's choice stands and is not undone here.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def quiet_tensorflow_logs() -> Iterator[None]:
    """TensorFlow's Python INFO lines ("Assets written to ...") held back for a `with` block.

    In an interactive session (a notebook's kernel) TensorFlow sets its logger to INFO when it
    first logs, so a filter drops them rather than a level, and is removed afterwards.
    """
    logger = logging.getLogger("tensorflow")
    below_warning = _BelowWarning()
    logger.addFilter(below_warning)
    try:
        yield
    finally:
        logger.removeFilter(below_warning)


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING
