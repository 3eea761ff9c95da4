"""The MLP HyperModel: `build(hp)` makes the network, `fit(hp, ...)` trains it with early stopping."""

from __future__ import annotations

import math
from typing import Any

import keras
import keras_tuner as kt

from models.heads import Head
from models.optimizers import make_optimizer
from tuning.space import Range, SearchSpace, declare


class NonFiniteLoss(keras.callbacks.Callback):
    """Stops training as soon as the loss or validation loss stops being a finite number.

    Too large a learning rate makes gradient descent diverge; once the loss is NaN or infinite
    no later epoch can recover, so the epoch is noted and training ends at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bad_epoch: int | None = None
        self.bad_value: str = ""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                self.bad_epoch, self.bad_value = epoch + 1, f"{key} = {float(value)}"
                self.model.stop_training = True
                return


def _possible_values(param: Any) -> list[int]:
    if isinstance(param, Range):
        return list(range(int(param.min), int(param.max) + 1))
    if isinstance(param, tuple):
        return [int(v) for v in param]
    return [int(param)]


class MLPHyperModel(kt.HyperModel):
    """A multilayer perceptron whose architecture and training are searched.

    Hyperparameters (names are stable; they are trials.csv's columns): `layers`, `units_0` …
    `units_{n-1}` (one per hidden layer), `activation`, `l2`, `dropout`, `optimizer`,
    `learning_rate` (in `build`) and `batch_size` (in `fit`).

    Args:
        n_features: width of the encoded input.
        head: the task's output head.
        space: the search space.
        epochs: most epochs per trial.
        patience: early-stopping patience on validation loss; 0 turns early stopping off.
    """

    def __init__(
        self, n_features: int, head: Head, space: SearchSpace, epochs: int, patience: int
    ) -> None:
        super().__init__(name="mlp")
        self.n_features = n_features
        self.head = head
        self.space = space
        self.epochs = epochs
        self.patience = patience

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        space = self.space
        n_layers = declare(hp, "layers", space.layers)
        activation = declare(hp, "activation", space.activation)
        l2 = declare(hp, "l2", space.l2)
        dropout = declare(hp, "dropout", space.dropout)
        layer_values = _possible_values(space.layers)
        model = keras.Sequential(name="mlp")
        model.add(keras.Input(shape=(self.n_features,), name="features"))
        for i in range(n_layers):
            # units_i exists only in trials with more than i layers.
            parents = [v for v in layer_values if v > i]
            scope = {} if len(layer_values) == 1 else {"parent_name": "layers", "parent_values": parents}
            units = declare(hp, f"units_{i}", space.units, **scope)
            model.add(
                keras.layers.Dense(
                    units,
                    activation=activation,
                    kernel_regularizer=keras.regularizers.L2(l2) if l2 > 0 else None,
                    name=f"hidden_{i}",
                )
            )
            if dropout > 0:
                model.add(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
        model.add(keras.layers.Dense(self.head.units, activation=self.head.activation, name="output"))
        optimizer = make_optimizer(
            declare(hp, "optimizer", space.optimizer),
            declare(hp, "learning_rate", space.learning_rate),
        )
        model.compile(optimizer=optimizer, loss=self.head.loss, metrics=[self.head.metric])
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, **kwargs: Any) -> Any:
        """Train one trial's model; Keras Tuner passes its callbacks and validation data.

        Raises:
            keras_tuner.errors.FailedTrialError: if the loss becomes NaN or infinite.
        """
        batch_size = declare(hp, "batch_size", self.space.batch_size)
        watch = NonFiniteLoss()
        callbacks = [*kwargs.pop("callbacks", []), watch]
        if self.patience > 0:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=self.patience, restore_best_weights=True
                )
            )
        kwargs.setdefault("epochs", self.epochs)
        kwargs["verbose"] = 0
        history = model.fit(x, y, batch_size=batch_size, callbacks=callbacks, **kwargs)
        if watch.bad_epoch is not None:
            raise kt.errors.FailedTrialError(
                f"training diverged: {watch.bad_value} at epoch {watch.bad_epoch} "
                "(the learning rate is probably too high for this optimizer)"
            )
        return history
