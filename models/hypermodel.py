"""The MLP HyperModel: `build(hp)` makes the network, `fit(hp, ...)` trains it (early stopping)."""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from common.space import Range, SearchSpace, declare
from models.heads import Head
from models.optimizers import make_optimizer
from models.training import train


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

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        """Declare the whole search space up front, in the order `build` reads it.

        Keras Tuner learns the space by building the model; a hyperparameter first seen in
        `fit` (`batch_size`) or under a condition (`units_2` with 3 layers) would join it only
        when a trial first uses it, so trial 0 would train at the default batch size, and a
        trial started by a parallel worker before then would draw its values from a different
        space than the same trial in a one-process search.
        """
        self._declare(hp)

    def _declare(self, hp: kt.HyperParameters) -> dict[str, Any]:
        """Declare every hyperparameter on `hp`; this trial's values (None where inactive)."""
        space = self.space
        values = {"batch_size": declare(hp, "batch_size", space.batch_size)}
        for name in ("layers", "activation", "l2", "dropout"):
            values[name] = declare(hp, name, getattr(space, name))
        # units_i for every layer the space allows, active only in trials with more than i
        # layers: so the whole space is known before the first trial.
        layer_values = _possible_values(space.layers)
        for i in range(max(layer_values)):
            parents = [v for v in layer_values if v > i]
            scope = (
                {}
                if len(layer_values) == 1
                else {"parent_name": "layers", "parent_values": parents}
            )
            values[f"units_{i}"] = declare(hp, f"units_{i}", space.units, **scope)
        for name in ("optimizer", "learning_rate"):
            values[name] = declare(hp, name, getattr(space, name))
        return values

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        values = self._declare(hp)
        activation, l2, dropout = values["activation"], values["l2"], values["dropout"]
        model = keras.Sequential(name="mlp")
        model.add(keras.Input(shape=(self.n_features,), name="features"))
        for i in range(values["layers"]):
            model.add(
                keras.layers.Dense(
                    values[f"units_{i}"],
                    activation=activation,
                    kernel_regularizer=keras.regularizers.L2(l2) if l2 > 0 else None,
                    name=f"hidden_{i}",
                )
            )
            if dropout > 0:
                model.add(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
        model.add(
            keras.layers.Dense(self.head.units, activation=self.head.activation, name="output")
        )
        optimizer = make_optimizer(values["optimizer"], values["learning_rate"])
        model.compile(optimizer=optimizer, loss=self.head.loss, metrics=[self.head.metric])
        return model

    def fit(
        self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, **kwargs: Any
    ) -> dict:
        """Train one trial's model with early stopping; Keras Tuner passes the validation data.

        Returns:
            The objective for Keras Tuner: validation loss of the weights kept.

        Raises:
            keras_tuner.errors.FailedTrialError: if the loss becomes NaN or infinite.
        """
        batch_size = declare(hp, "batch_size", self.space.batch_size)
        x_val, y_val = kwargs["validation_data"]
        result = train(
            model,
            x,
            y,
            x_val,
            y_val,
            batch_size=batch_size,
            epochs=kwargs.get("epochs", self.epochs),
            initial_epoch=kwargs.get("initial_epoch", 0),
            patience=self.patience,
            # Drawn from the generator seeded per trial, so each trial shuffles repeatably.
            seed=int(np.random.randint(0, 2**31 - 1)),
            callbacks=kwargs.get("callbacks", ()),
        )
        if result.diverged:
            losses = result.history.get("loss", [])
            raise kt.errors.FailedTrialError(
                f"training diverged: the loss became {losses[-1] if losses else 'NaN'} at epoch "
                f"{len(losses)} (the learning rate is probably too high for this optimizer)"
            )
        val = result.history["val_loss"]
        kept = result.best_epoch if self.patience > 0 else len(val) - 1
        return {"val_loss": val[kept]}
