"""Cross-validated trials: K fold networks trained side by side, each only on its own rows."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest

from common.space import SearchSpace
from data.task import Task
from models.ensemble import combine, fold_count
from models.fold_training import held_out_predictions, in_fold_predictions, train_folds
from models.heads import head_for
from models.hypermodel import MLPHyperModel

_TASKS = {
    "binary": Task("binary", ("no", "yes")),
    "multiclass": Task("multiclass", ("a", "b", "c")),
    "regression": Task("regression"),
}


def _data(kind: str, n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    signal = x[:, 0] - 0.5 * x[:, 1]
    if kind == "binary":
        y = (signal > 0).astype("float32").reshape(-1, 1)
    elif kind == "multiclass":
        y = np.digitize(signal, [-0.5, 0.5]).astype("int64")
    else:
        y = signal.astype("float32").reshape(-1, 1)
    mask = np.ones((n, 3), dtype=bool)
    for row in range(n):
        mask[row, row % 3] = False  # row i is held out by fold i mod 3
    return x, y, mask


def _hp(l2: float = 1e-3, dropout: float = 0.2) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for name, value in dict(layers=2, units_0=8, units_1=6, activation="relu",
                            optimizer="adam", learning_rate=0.01, batch_size=8, l2=l2,
                            dropout=dropout).items():
        hp.Fixed(name, value)
    return hp


def _hypermodel(kind: str, mask: np.ndarray, patience: int = 3) -> MLPHyperModel:
    return MLPHyperModel(4, head_for(_TASKS[kind]), SearchSpace(), 10, patience, train_mask=mask)


def _train(kind, x, y, mask, epochs=6, patience=3, seed=5, **hp):
    hypermodel = _hypermodel(kind, mask, patience)
    keras.utils.set_random_seed(1)
    model = hypermodel.build(_hp(**hp))
    result = train_folds(model, hypermodel.head, x, y, mask, l2=hp.get("l2", 1e-3),
                         batch_size=8, epochs=epochs, patience=patience, seed=seed)
    return model, result


@pytest.mark.parametrize("kind", list(_TASKS))
def test_a_fold_never_learns_from_the_rows_it_holds_out(kind, seed):
    # No early stopping: which epoch a fold keeps rightly depends on the rows it holds out.
    x, y, mask = _data(kind)
    model_a, _ = _train(kind, x, y, mask, patience=0)
    changed = y.copy()
    held_by_0 = ~mask[:, 0]
    if kind == "regression":
        changed[held_by_0] = 50.0
    elif kind == "binary":
        changed[held_by_0] = 1.0 - changed[held_by_0]
    else:
        changed[held_by_0] = (changed[held_by_0] + 1) % 3
    model_b, _ = _train(kind, x, changed, mask, patience=0)
    kernels = [(a, b) for a, b in zip(model_a.weights, model_b.weights, strict=True)
               if "kernel" in a.path]
    for a, b in kernels:
        np.testing.assert_array_equal(np.asarray(a)[0], np.asarray(b)[0])  # fold 0: same
    assert any(not np.allclose(np.asarray(a)[1], np.asarray(b)[1]) for a, b in kernels)


@pytest.mark.parametrize("kind", list(_TASKS))
def test_every_fold_keeps_the_epoch_of_the_lowest_mean_held_out_loss(kind, seed):
    x, y, mask = _data(kind)
    model, result = _train(kind, x, y, mask, epochs=12, patience=2)
    assert len(result.histories) == 3
    output = np.asarray(model(x, training=False))
    from models.fold_training import elementwise_loss

    losses = np.asarray(elementwise_loss(model_head(kind), y, output))
    mean = np.mean([h["val_loss"] for h in result.histories], axis=0)
    for fold, history in enumerate(result.histories):
        best = result.best_epochs[fold]
        assert best == int(np.argmin(mean))
        held = losses[~mask[:, fold], fold].mean()
        assert held == pytest.approx(history["val_loss"][best], rel=1e-4)
    assert result.score == pytest.approx(np.mean(result.fold_scores))


def model_head(kind):
    return head_for(_TASKS[kind])


def test_training_stops_patience_epochs_after_the_best_mean(seed):
    x, y, mask = _data("regression")
    # A learning rate this high makes the folds stop improving within a few epochs.
    hypermodel = _hypermodel("regression", mask, patience=2)
    hp = _hp(dropout=0.0)
    hp.values["learning_rate"] = 0.3
    keras.utils.set_random_seed(1)
    model = hypermodel.build(hp)
    result = train_folds(model, hypermodel.head, x, y, mask, l2=0.0, batch_size=8, epochs=200,
                         patience=2, seed=3)
    ran = len(result.histories[0]["val_loss"])
    assert result.early_stopped and ran < 200
    assert ran == result.best_epochs[0] + 1 + 2


def test_the_penalty_is_each_folds_own():
    x, y, mask = _data("regression")
    _, plain = _train("regression", x, y, mask, epochs=1, patience=0, l2=0.0, dropout=0.0)
    _, penalized = _train("regression", x, y, mask, epochs=1, patience=0, l2=0.5, dropout=0.0)
    # Same start and batches: the first epoch's training loss gains roughly each fold's own
    # L2 term (not the sum over folds).
    for a, b in zip(plain.histories, penalized.histories, strict=True):
        assert b["loss"][0] > a["loss"][0]
        assert b["loss"][0] - a["loss"][0] < 3 * b["loss"][0]


def test_the_l1_penalty_is_each_folds_own_on_its_first_kernel():
    from models.fold_training import _FoldEpochRunner

    x, y, mask = _data("regression")
    hypermodel = _hypermodel("regression", mask)
    model = hypermodel.build(_hp(l2=0.0))
    runner = _FoldEpochRunner(model, hypermodel.head, 0.0, x, y, mask, 8, 0, l1=0.1)
    first = model.get_layer("hidden_0").kernel.numpy()  # (K, inputs, units)
    expected = 0.1 * np.abs(first).sum(axis=(1, 2))
    np.testing.assert_allclose(runner._penalty().numpy(), expected, rtol=1e-5)
    both = _FoldEpochRunner(model, hypermodel.head, 1e-2, x, y, mask, 8, 0, l1=0.1)
    squares = sum((w.numpy() ** 2).sum(axis=(1, 2)) for w in both.kernels)
    np.testing.assert_allclose(both._penalty().numpy(), expected + 1e-2 * squares, rtol=1e-5)


def test_an_exported_trial_averages_its_stacked_folds_and_loads_in_safe_mode(seed, tmp_path):
    x, y, mask = _data("multiclass")
    model, _ = _train("multiclass", x, y, mask)
    assert fold_count(model) == 3
    inputs = keras.Input((4,))
    exported = keras.Model(inputs, combine([(model, 1.0, inputs)]))
    exported.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    stacked = np.asarray(model(x, training=False))
    np.testing.assert_allclose(np.asarray(loaded(x)), stacked.mean(axis=1), rtol=1e-5, atol=1e-6)


def test_held_out_and_in_fold_predictions():
    output = np.arange(12, dtype=float).reshape(2, 3, 2)  # 2 rows, 3 folds, 2 units
    mask = np.array([[False, True, True], [True, True, False]])
    np.testing.assert_array_equal(held_out_predictions(output, mask), [[0, 1], [10, 11]])
    np.testing.assert_array_equal(in_fold_predictions(output, mask), [[3, 4], [7, 8]])
