"""The fast training loop behaves like `model.fit` with EarlyStopping(restore_best_weights)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models.training import train


def _data(n: int = 96, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, :1] - 0.5 * x[:, 1:2] > 0).astype("float32")
    return x[:64], y[:64], x[64:], y[64:]


def _model(learning_rate: float = 0.05, l2: float = 1e-3) -> keras.Model:
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L2(l2)),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def _data_loss(model: keras.Model, x, y) -> float:
    """The validation loss `train` records: the data's alone, without the kernels' penalties."""
    return float(np.mean(keras.losses.binary_crossentropy(y, model.predict(x, verbose=0))))


def _noise(n: int = 64, seed: int = 0):
    """Random labels: validation loss is lowest within a few epochs and then rises."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (rng.random((n, 1)) < 0.5).astype("float32")
    half = n // 2
    return x[:half], y[:half], x[half:], y[half:]


def _wide_model(learning_rate: float = 0.05) -> keras.Model:
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def test_history_keys_and_best_epoch(seed):
    x, y, xv, yv = _data()
    result = train(_model(), x, y, xv, yv, batch_size=16, epochs=6, patience=3, seed=1)
    history = result.history
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    n = len(history["loss"])
    assert all(len(v) == n for v in history.values())
    assert result.best_epoch == int(np.argmin(history["val_loss"]))


@pytest.mark.parametrize(("patience", "data_seed"), [(1, 0), (2, 0), (3, 0), (2, 1)],
                         ids=["patience-1", "patience-2", "patience-3", "best-is-epoch-0"])
def test_early_stopping_stops_patience_epochs_after_the_best_and_restores_it(seed, patience,
                                                                            data_seed):
    x, y, xv, yv = _noise(seed=data_seed)
    model = _wide_model()
    result = train(model, x, y, xv, yv, batch_size=8, epochs=40, patience=patience, seed=1)
    history = result.history["val_loss"]
    best = int(np.argmin(history))
    assert result.early_stopped and not result.diverged
    assert result.best_epoch == best
    # Keras' EarlyStopping: the run ends exactly `patience` epochs after the best one.
    assert len(history) == best + 1 + patience
    # The kept weights are the best epoch's, not the last one's.
    val_loss = model.evaluate(xv, yv, verbose=0, return_dict=True)["loss"]
    assert val_loss == pytest.approx(history[best], rel=1e-4)
    assert history[-1] > history[best] * 1.01


@pytest.mark.parametrize("l2", [0.0, 1e-2], ids=["no-penalty", "l2"])
def test_matches_model_fit_metrics_on_one_full_batch(seed, l2):
    """With one batch per epoch there is no shuffling effect: both loops see the same steps.
    Keras' validation loss adds the penalty; `train`'s is the data's alone."""
    x, y, xv, yv = _data()
    keras.utils.set_random_seed(3)
    fast = _model(l2=l2)
    result = train(fast, x, y, xv, yv, batch_size=64, epochs=5, patience=0, seed=0)
    keras.utils.set_random_seed(3)
    slow = _model(l2=l2)
    reference = slow.fit(x, y, batch_size=64, epochs=5, validation_data=(xv, yv), verbose=0,
                         shuffle=False)
    for key in ("loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(result.history[key], reference.history[key], rtol=1e-4)
    # The last epoch's: the same weights in both models.
    penalty = float(sum(np.sum(p) for p in slow.losses))
    assert (penalty > 1e-3) == (l2 > 0)
    assert result.history["val_loss"][-1] == pytest.approx(
        reference.history["val_loss"][-1] - penalty, rel=1e-4)
    assert result.history["val_loss"][-1] == pytest.approx(_data_loss(fast, xv, yv), rel=1e-4)


def test_patience_zero_keeps_the_last_epoch(seed):
    x, y, xv, yv = _data()
    model = _model()
    result = train(model, x, y, xv, yv, batch_size=16, epochs=6, patience=0, seed=0)
    assert len(result.history["loss"]) == 6 and not result.early_stopped
    val_loss = _data_loss(model, xv, yv)
    assert val_loss == pytest.approx(result.history["val_loss"][-1], rel=1e-4)


def test_divergence_stops_at_once(seed):
    x, y, xv, yv = _data()
    y_reg = x[:, :1] * 1e3
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(50.0), loss="mean_squared_error")
    result = train(model, x, y_reg, xv, xv[:, :1], batch_size=8, epochs=50, patience=5, seed=0)
    assert result.diverged
    assert len(result.history["loss"]) < 50


def test_callbacks_see_every_epoch(seed):
    x, y, xv, yv = _data()
    seen: list[tuple[int, float]] = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, logs["val_loss"]))

    result = train(_model(), x, y, xv, yv, batch_size=32, epochs=4, patience=0, seed=0,
                   callbacks=[Spy()])
    assert [e for e, _ in seen] == [0, 1, 2, 3]
    assert [v for _, v in seen] == result.history["val_loss"]


def test_patience_zero_keeps_the_last_epoch_even_when_an_earlier_one_was_better(seed):
    x, y, xv, yv = _noise()
    model = _wide_model()
    result = train(model, x, y, xv, yv, batch_size=8, epochs=6, patience=0, seed=1)
    history = result.history["val_loss"]
    assert len(history) == 6 and min(history) < history[-1] * 0.99
    val_loss = model.evaluate(xv, yv, verbose=0, return_dict=True)["loss"]
    assert val_loss == pytest.approx(history[-1], rel=1e-4)


def test_an_initial_epoch_continues_the_count_as_hyperband_does(seed):
    x, y, xv, yv = _noise()
    seen: list[int] = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    result = train(_wide_model(), x, y, xv, yv, batch_size=8, epochs=7, patience=0, seed=1,
                   callbacks=[Spy()], initial_epoch=4)
    assert seen == [4, 5, 6] and len(result.history["val_loss"]) == 3
    # best_epoch counts from this call's first epoch, as the history does.
    assert result.best_epoch == int(np.argmin(result.history["val_loss"]))
