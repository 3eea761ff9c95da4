"""The MLP HyperModel: `build(hp)` makes the network, `fit(hp, ...)` trains it (early stopping)."""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from common.space import Range, SearchSpace, declare
from data.encoding import call_in_blocks
from models.fold_training import held_out_predictions, train_folds
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
    `learning_rate`, `numeric_encoding`, `l1` (in `build`) and `batch_size` (in `fit`).

    Args:
        n_features: width of the encoded input; with several numeric encodings, encoding ->
            width.
        head: the task's output head.
        space: the search space.
        epochs: most epochs per trial.
        patience: early-stopping patience on validation loss; 0 turns early stopping off.
        train_mask: with cross-validation, (n, K) bool: the rows each fold trains on (each
            trial is then K networks, `models.fold_training`). Defaults to None.
        inputs: with several numeric encodings, encoding -> (features of the rows trials
            train on, validation features): `fit` trains each trial on its encoding's.
            Defaults to None (the features Keras Tuner passes).
    """

    def __init__(
        self,
        n_features: int | dict[str, int],
        head: Head,
        space: SearchSpace,
        epochs: int,
        patience: int,
        train_mask: np.ndarray | None = None,
        inputs: dict[str, tuple[Any, Any]] | None = None,
    ) -> None:
        super().__init__(name="mlp")
        self.n_features = n_features
        self.inputs = inputs
        self.head = head
        self.space = space
        self.epochs = epochs
        self.patience = patience
        self.train_mask = train_mask

    def single(self) -> MLPHyperModel:
        """This hypermodel without cross-validation: one network per build, trained on the
        features it is given (as `--refit` does)."""
        return MLPHyperModel(self.n_features, self.head, self.space, self.epochs, self.patience)

    def width(self, encoding: str) -> int:
        """The encoded input's width in a numeric encoding."""
        return self.n_features if isinstance(self.n_features, int) else self.n_features[encoding]

    def encoding(self, hp: kt.HyperParameters) -> str:
        """The trial's numeric encoding."""
        return declare(hp, "numeric_encoding", self.space.numeric_encoding)

    def _data(self, hp: kt.HyperParameters, x: Any, validation: Any) -> tuple[Any, Any]:
        """The trial's features and validation data in its numeric encoding."""
        if not self.inputs:
            return x, validation
        x, x_val = self.inputs[self.encoding(hp)]
        return x, (x_val, validation[1]) if validation is not None else None

    @property
    def folds(self) -> int:
        """Networks per trial: K with cross-validation (`train_mask` (n, K)), else 1."""
        return 1 if self.train_mask is None else int(self.train_mask.shape[1])

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
        for name in ("optimizer", "learning_rate", "numeric_encoding", "l1"):
            values[name] = declare(hp, name, getattr(space, name))
        return values

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        values = self._declare(hp)
        if self.folds > 1:
            return self._build_stacked(values)
        activation, l2, dropout = values["activation"], values["l2"], values["dropout"]
        layers = values["layers"]
        model = keras.Sequential(name="mlp")
        model.add(keras.Input(shape=(self.width(values["numeric_encoding"]),), name="features"))
        for i in range(layers):
            model.add(
                keras.layers.Dense(
                    values[f"units_{i}"],
                    activation=activation,
                    kernel_regularizer=_regularizer(l2, values["l1"] if i == 0 else 0.0),
                    name=f"hidden_{i}",
                )
            )
            if dropout > 0:
                model.add(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
        # With no hidden layer (a linear model) the output layer carries the L2 penalty (and
        # the inputs' L1), as every kernel does in the cross-validated folds
        # (`models.fold_training`).
        output = _regularizer(l2, values["l1"]) if layers == 0 else None
        model.add(
            keras.layers.Dense(self.head.units, activation=self.head.activation,
                               kernel_regularizer=output, name="output")
        )
        optimizer = make_optimizer(values["optimizer"], values["learning_rate"])
        model.compile(optimizer=optimizer, loss=self.head.loss, metrics=[self.head.metric])
        return model

    def _build_stacked(self, values: dict[str, Any]) -> keras.Model:
        """The K fold networks of one trial side by side: output (n, K, units).

        Each layer is an `EinsumDense` whose kernel has a leading fold axis; its initializer is
        Glorot's uniform per fold (Keras counts the fold axis into the fans, hence scale K).
        The L2 (and the first kernel's L1) penalty is applied per fold by
        `models.fold_training`, not by a regularizer.
        """
        k, dropout = self.folds, values["dropout"]
        width = self.width(values["numeric_encoding"])
        x = inputs = keras.Input(shape=(width,), name="features")
        equation = "bi,kio->bko"
        widths = [values[f"units_{i}"] for i in range(values["layers"])]
        for i, width in enumerate([*widths, self.head.units]):
            last = i == len(widths)
            x = keras.layers.EinsumDense(
                equation,
                output_shape=(k, width),
                bias_axes="ko",
                activation=self.head.activation if last else values["activation"],
                kernel_initializer=keras.initializers.VarianceScaling(
                    scale=float(k), mode="fan_avg", distribution="uniform"),
                name="output" if last else f"hidden_{i}",
            )(x)
            equation = "bki,kio->bko"
            if not last and dropout > 0:
                x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
        model = keras.Model(inputs, x, name="mlp_folds")
        model.compile(optimizer=make_optimizer(values["optimizer"], values["learning_rate"]))
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
        x, kwargs["validation_data"] = self._data(hp, x, kwargs.get("validation_data"))
        if self.folds > 1:
            return self._fit_folds(hp, model, x, y, batch_size, **kwargs)
        x_val, y_val = kwargs["validation_data"]
        result = train(
            model,
            x,
            y,
            x_val,
            y_val,
            batch_size=batch_size,
            **self._schedule(kwargs),
        )
        if result.diverged:
            losses = result.history.get("loss", [])
            _diverged(losses[-1] if losses else "NaN", len(losses))
        val = result.history["val_loss"]
        kept = result.best_epoch if self.patience > 0 else len(val) - 1
        return {"val_loss": val[kept]}

    def _schedule(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The training loop's epochs, early stopping, shuffling seed and callbacks."""
        return {
            "epochs": kwargs.get("epochs", self.epochs),
            "initial_epoch": kwargs.get("initial_epoch", 0),
            "patience": self.patience,
            # Drawn from the generator seeded per trial, so each trial shuffles repeatably.
            "seed": int(np.random.randint(0, 2**31 - 1)),
            "callbacks": kwargs.get("callbacks", ()),
        }

    def _fit_folds(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any,
                   batch_size: int, **kwargs: Any) -> dict:
        """Train the K fold networks; the objective is the mean of their held-out losses."""
        result = train_folds(
            model,
            self.head,
            x,
            y,
            self.train_mask,
            l2=declare(hp, "l2", self.space.l2),
            l1=declare(hp, "l1", self.space.l1),
            batch_size=batch_size,
            **self._schedule(kwargs),
        )
        if result.diverged:
            losses = [h["loss"][-1] for h in result.histories if h["loss"]]
            _diverged(losses, len(result.histories[0]["loss"]), " in the folds")
        return {"val_loss": result.score, "folds": result}

    def selection_output(
        self, hp: kt.HyperParameters, model: keras.Model, x: Any, validation: tuple[Any, Any]
    ) -> np.ndarray:
        """The trial's outputs on the rows ensembles are chosen on, which it never trained on.

        With cross-validation: every shared row, predicted by the fold that held it out;
        otherwise the validation split.
        """
        x, validation = self._data(hp, x, validation)
        if self.folds > 1:
            return held_out_predictions(call_in_blocks(model, x), self.train_mask)
        return call_in_blocks(model, validation[0])


def _regularizer(l2: float, l1: float) -> keras.regularizers.Regularizer | None:
    """λ·Σw² plus λ₁·Σ|w| on a kernel (standard Keras regularizers: the saved model loads
    with `safe_mode=True`); None when both are 0."""
    if l1 > 0:
        return keras.regularizers.L1L2(l1=l1, l2=l2)
    return keras.regularizers.L2(l2) if l2 > 0 else None


def _diverged(loss: Any, epoch: int, where: str = "") -> None:
    raise kt.errors.FailedTrialError(
        f"training diverged: the loss became {loss} at epoch {epoch}{where} (the learning rate "
        "is probably too high for this optimizer)"
    )
