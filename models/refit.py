"""Retrain the best configuration on train+validation for a fixed number of epochs (`--refit`).

The search kept the weights of the epoch with the lowest validation loss. Once the
hyperparameters and that epoch count are chosen, the validation rows have done their job and
can be trained on too: the same network is built again from scratch and trained on all
non-test rows for exactly that many epochs, without early stopping (there is nothing left to
watch). The test split stays untouched, so its metrics remain an honest estimate.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import keras_tuner as kt
    import numpy as np

    from models.hypermodel import MLPHyperModel


def trained_epochs(best_epoch: int, hyperparameters: dict[str, Any]) -> int:
    """Epochs behind a trial's kept weights, counting those inherited from earlier trials.

    Hyperband continues some trials from an earlier trial's weights at `tuner/initial_epoch`;
    the trial's own history starts there.

    Args:
        best_epoch: the 1-based kept epoch in the trial's own history.
        hyperparameters: the trial's hyperparameter values.
    """
    return int(hyperparameters.get("tuner/initial_epoch", 0)) + int(best_epoch)


def refit(
    hypermodel: MLPHyperModel,
    hyperparameters: kt.HyperParameters,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
) -> keras.Model:
    """Build the configuration anew and train it for exactly `epochs` epochs.

    Args:
        hypermodel: the run's hypermodel; its early stopping is not used here.
        hyperparameters: the best trial's hyperparameters (`tuner.oracle.trials[id]`).
        x: encoded features of the training and validation rows.
        y: their targets, in training form.
        epochs: how many epochs to train.
        seed: seeds the initial weights and the batch order.

    Returns:
        The trained network (encoded features in, the head's output out).

    Raises:
        keras_tuner.errors.FailedTrialError: if the loss becomes NaN or infinite.
    """
    import keras

    keras.utils.set_random_seed(seed)
    fixed = copy.copy(hypermodel)
    fixed.patience = 0  # a fixed epoch count: nothing to stop early on
    model = fixed.build(hyperparameters)
    # The training loop always evaluates "validation" data; with early stopping off it only
    # watches it for divergence, so the training rows themselves serve (the test rows never do).
    fixed.fit(hyperparameters, model, x, y, epochs=epochs, validation_data=(x, y))
    return model
