"""Ensembles of the search's good trials: greedy selection, and one plain Keras model of them.

Selection follows Caruana et al. (2004), "Ensemble selection from libraries of models": start
from the best trial and repeatedly add, with replacement, the trial whose addition lowers the
loss of the averaged predictions most, on rows that no network trained on (the validation
split, or with cross-validation every fold's held-out rows); the best prefix wins and a trial's
weight is how often it was picked. The test split never enters. The chosen networks become one
Keras model of standard layers (Dense, Rescaling, Add), so it loads with `safe_mode=True`
without this project's code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

# Rounds of greedy selection; with replacement, so weights are multiples of 1/rounds at most.
SELECTION_ROUNDS = 20


@dataclass(frozen=True)
class Selection:
    """The chosen trials and their weights.

    Attributes:
        weights: trial id -> weight (the weights sum to 1), most weighted first.
        loss: the loss of the weighted average on the selection rows.
        single_loss: the best single trial's loss on the same rows.
    """

    weights: dict[str, float]
    loss: float
    single_loss: float


def selection_loss(kind: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """The training loss of a task as a function of (targets in training form, outputs)."""
    eps = 1e-7

    def binary(y: np.ndarray, p: np.ndarray) -> float:
        p = np.clip(p.reshape(-1), eps, 1 - eps)
        t = y.reshape(-1)
        return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))

    def multiclass(y: np.ndarray, p: np.ndarray) -> float:
        rows = np.arange(len(p))
        return float(-np.mean(np.log(np.clip(p[rows, y.reshape(-1).astype(int)], eps, 1))))

    def regression(y: np.ndarray, p: np.ndarray) -> float:
        return float(np.mean((p.reshape(-1) - y.reshape(-1)) ** 2))

    return {"binary": binary, "multiclass": multiclass, "regression": regression}[kind]


def greedy_selection(
    predictions: Mapping[str, np.ndarray],
    y: np.ndarray,
    loss: Callable[[np.ndarray, np.ndarray], float],
    max_members: int,
    rounds: int = SELECTION_ROUNDS,
) -> Selection:
    """Caruana's forward selection with replacement over the trials' held-out predictions.

    Args:
        predictions: trial id -> its outputs on the selection rows (same rows for all).
        y: the selection rows' targets in training form.
        loss: `selection_loss(task.kind)`.
        max_members: most distinct trials in the ensemble (1: the best single trial).
        rounds: picks, with replacement. Defaults to SELECTION_ROUNDS.

    Returns:
        The weights of the best prefix of picks (ties: the shorter one).
    """
    ids = sorted(predictions, key=lambda t: (loss(y, predictions[t]), int(t) if t.isdigit() else t))
    if not ids:
        raise ValueError("no trial predictions to select from")
    best_single = loss(y, predictions[ids[0]])
    picks, total = [ids[0]], predictions[ids[0]].astype(np.float64)
    best_picks, best_loss = list(picks), best_single
    for _ in range(rounds - 1 if max_members > 1 else 0):
        allowed = ids if len(set(picks)) < max_members else sorted(set(picks), key=ids.index)
        scored = [(loss(y, (total + predictions[t]) / (len(picks) + 1)), t) for t in allowed]
        value, chosen = min(scored, key=lambda s: (s[0], ids.index(s[1])))
        picks.append(chosen)
        total = total + predictions[chosen]
        if value < best_loss - 1e-12:
            best_picks, best_loss = list(picks), value
    counts = {t: best_picks.count(t) for t in dict.fromkeys(best_picks)}
    weights = {t: c / len(best_picks) for t, c in sorted(counts.items(), key=lambda kv: -kv[1])}
    return Selection(weights, best_loss, best_single)


def fold_count(model: keras.Model) -> int:
    """How many networks a trial's model holds: K for a cross-validated trial's stacked folds."""
    import keras

    stacked = [layer for layer in model.layers if isinstance(layer, keras.layers.EinsumDense)]
    return int(stacked[0].kernel.shape[0]) if stacked else 1


def apply_network(
    network: keras.Model, x: keras.KerasTensor, prefix: str = ""
) -> keras.KerasTensor:
    """Apply a trained network's layers to `x` one by one, as fresh layers with its weights.

    Copies rather than nesting the trained model, so a saved file holds no optimizer state or
    training configuration, and layer names stay unique when several networks are combined.
    """
    import keras

    for layer in network.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        config = layer.get_config()
        config["name"] = f"{prefix}{layer.name}"
        copy = type(layer).from_config(config)
        x = copy(x)
        if layer.weights:
            copy.set_weights(layer.get_weights())
    return x


def combine(members: list[tuple[keras.Model, float, keras.KerasTensor]]) -> keras.KerasTensor:
    """The weighted average of several networks' outputs, in standard Keras layers.

    A cross-validated trial's model stays one member: its stacked fold networks (`EinsumDense`
    kernels with a fold axis) are averaged inside it, which SavedModel export traces once
    rather than once per fold.

    Args:
        members: (network, weight, its input features) triples; the weights sum to 1.
    """
    import keras

    outputs = []
    for i, (network, weight, x) in enumerate(members):
        prefix = f"member_{i}_" if len(members) > 1 else ""
        y = apply_network(network, x, prefix=prefix)
        if len(y.shape) == 3:  # a cross-validated trial's stacked folds: their mean
            y = keras.ops.mean(y, axis=1)
        if len(members) == 1:
            return y
        outputs.append(keras.layers.Rescaling(scale=weight, name=f"member_{i}_weight")(y))
    return keras.layers.Add(name="ensemble")(outputs)


def ensemble_model(members: list[tuple[keras.Model, float]], n_features: int) -> keras.Model:
    """One model from encoded features to the weighted average of the members' outputs."""
    import keras

    x = keras.Input(shape=(n_features,), name="features")
    return keras.Model(x, combine([(net, weight, x) for net, weight in members]), name="ensemble")


def split_outputs(
    model: keras.Model, x: Mapping[str, np.ndarray], train_mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """A trial's outputs on each split, (n, units), as its own training treated the rows.

    Without cross-validation the model's output on each split. With it (`train_mask`: the
    folds over the training rows followed by the validation rows), a stacked model's fold
    outputs are combined so that no score is flattered: a training row gets the mean of the
    folds that trained on it, a validation row the fold that held it out, a test row the mean
    of all folds.
    """
    from data.encoding import call_in_blocks
    from models.fold_training import held_out_predictions, in_fold_predictions

    if train_mask is None:
        return {name: call_in_blocks(model, rows) for name, rows in x.items()}
    n_train = len(x["train"])
    shared = call_in_blocks(model, np.concatenate([x["train"], x["validation"]]))
    return {
        "train": in_fold_predictions(shared[:n_train], train_mask[:n_train]),
        "validation": held_out_predictions(shared[n_train:], train_mask[n_train:]),
        "test": call_in_blocks(model, x["test"]).mean(axis=1),
    }
