"""Cross-validated training of one trial: its K fold networks trained side by side in one graph.

Every fold network has the trial's architecture; they are stacked along a fold axis (Keras'
`EinsumDense`, kernel (K, in, out)), so one traced epoch function trains all K at once: the
tracing and per-step overhead that dominate small tables are paid once per trial, not K times.
Each mini-batch is drawn from all the rows; fold k learns only from the rows it trains on (its
loss is the mean over them), with its own L2 penalty, so its gradients are exactly those of a
network trained alone on its rows (its dropout masks are its own too). After every epoch each
fold is scored on the rows it holds out. Early stopping watches the folds' mean held-out loss,
as cross-validation chooses a number of epochs: every fold keeps its weights of the epoch where
that mean was lowest (a fold's own noisy minimum would flatter the score), and training ends
`patience` epochs after it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from models.heads import Head


@dataclass
class FoldTrainResult:
    """What training the K fold networks of one trial did.

    Attributes:
        histories: one history per fold, keyed as Keras' History ("loss", "val_loss", ...).
        best_epochs: per fold, the 0-based epoch whose weights it kept (-1: none finite); the
            same for every fold: the epoch with the lowest mean held-out loss.
        diverged: a loss became NaN or infinite.
        early_stopped: the mean held-out loss stopped improving for `patience` epochs.
    """

    histories: list[dict[str, list[float]]] = field(default_factory=list)
    best_epochs: list[int] = field(default_factory=list)
    diverged: bool = False
    early_stopped: bool = False

    @property
    def fold_scores(self) -> list[float]:
        """Each fold's held-out loss at its kept epoch."""
        return [h["val_loss"][b] for h, b in zip(self.histories, self.best_epochs, strict=True)]

    @property
    def score(self) -> float:
        """The trial's cross-validated score: the mean of the folds' held-out losses."""
        return float(np.mean(self.fold_scores))

    def mean_history(self) -> dict[str, list[float]]:
        """The folds' histories averaged epoch by epoch (all folds run the same epochs)."""
        keys = self.histories[0].keys()
        return {k: np.mean([h[k] for h in self.histories], axis=0).tolist() for k in keys}


def elementwise_loss(head: Head, y: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """Loss per row and fold, shape (n, K), of stacked outputs (n, K, units) against y."""
    if head.loss == "sparse_categorical_crossentropy":
        labels = tf.repeat(tf.reshape(tf.cast(y, tf.int64), [-1, 1]), tf.shape(output)[1], 1)
        return keras.losses.sparse_categorical_crossentropy(labels, output)
    target = tf.broadcast_to(tf.reshape(tf.cast(y, output.dtype), [-1, 1, 1]), tf.shape(output))
    if head.loss == "binary_crossentropy":
        return keras.losses.binary_crossentropy(target, output)
    return tf.reduce_mean(tf.square(target - output), axis=-1)


def elementwise_metric(head: Head, y: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """The head's per-epoch metric per row and fold, (n, K): accuracy or absolute error."""
    if head.metric == "accuracy" and head.units > 1:
        predicted = tf.argmax(output, axis=-1)
        labels = tf.reshape(tf.cast(y, tf.int64), [-1, 1])
        return tf.cast(tf.equal(predicted, labels), tf.float32)
    target = tf.reshape(tf.cast(y, output.dtype), [-1, 1])
    if head.metric == "accuracy":
        return tf.cast(tf.equal(tf.cast(output[..., 0] > 0.5, output.dtype), target), tf.float32)
    return tf.abs(output[..., 0] - target)


def _masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Per fold: the mean of `values` (n, K) over the rows `mask` (n, K) selects."""
    return tf.reduce_sum(values * mask, axis=0) / tf.maximum(tf.reduce_sum(mask, axis=0), 1.0)


class _FoldEpochRunner:
    """The compiled per-epoch graph for one stacked model and its folds."""

    def __init__(self, model: keras.Model, head: Head, l2: float, x, y, train_mask: np.ndarray,
                 batch_size: int, seed: int, l1: float = 0.0):
        self.model, self.head, self.l2, self.l1 = model, head, float(l2), float(l1)
        self.x = tf.constant(np.asarray(x, dtype=np.float32))
        self.y = tf.constant(y)
        self.train_mask = tf.constant(train_mask.astype(np.float32))
        self.held_out = 1.0 - self.train_mask
        self.n, self.k = train_mask.shape
        # Each fold trains on (K-1)/K of the rows: a batch of B·K/(K-1) rows gives it B of its own.
        share = float(train_mask.mean()) or 1.0
        self.batch = int(min(self.n, max(1, round(batch_size / share))))
        self.n_batches = math.ceil(self.n / self.batch)
        self.seed = int(seed)
        model.build((None, int(self.x.shape[1])))
        self.optimizer = model.optimizer
        self.optimizer.build(model.trainable_variables)
        self.kernels = [w for w in model.trainable_variables if w.path.endswith("kernel")]
        self.weights = list(model.weights)
        self.shadow = [tf.Variable(w.value, trainable=False) for w in self.weights]
        self.best = tf.Variable(np.inf, dtype=tf.float32, trainable=False)
        self.best_epoch = tf.Variable(-1, dtype=tf.int32, trainable=False)
        self.wait = tf.Variable(0, dtype=tf.int32, trainable=False)
        self.run_epoch = tf.function(self._epoch, autograph=False, reduce_retracing=True)

    def _penalty(self) -> tf.Tensor:
        """Each fold's penalty, shape (K,): λ·Σ w² over its own kernels, plus λ₁·Σ|w| over its
        first kernel (the inputs' weights)."""
        penalty = tf.zeros([self.k])
        if self.l2 > 0:
            penalty += self.l2 * tf.add_n(
                [tf.reduce_sum(tf.square(w.value), axis=[1, 2]) for w in self.kernels])
        if self.l1 > 0:
            penalty += self.l1 * tf.reduce_sum(tf.abs(self.kernels[0].value), axis=[1, 2])
        return penalty

    def _epoch(self, epoch: tf.Tensor) -> tf.Tensor:
        model, n, batch = self.model, self.n, self.batch
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n), seed=tf.stack([tf.constant(self.seed, tf.int32), epoch]))
        variables = model.trainable_variables

        def body(i, loss_sum, metric_sum, count, penalty_sum, finite):
            start = i * batch
            rows = tf.slice(order, [start], [tf.minimum(batch, n - start)])
            x, y = tf.gather(self.x, rows), tf.gather(self.y, rows)
            mask = tf.gather(self.train_mask, rows)
            with tf.GradientTape() as tape:
                output = model(x, training=True)
                losses = elementwise_loss(self.head, y, output)
                penalty = self._penalty()
                total = tf.reduce_sum(_masked_mean(losses, mask) + penalty)
            gradients = tape.gradient(total, variables)
            self.optimizer.apply(gradients, variables)
            metric = elementwise_metric(self.head, y, output)
            return (i + 1, loss_sum + tf.reduce_sum(losses * mask, 0),
                    metric_sum + tf.reduce_sum(metric * mask, 0), count + tf.reduce_sum(mask, 0),
                    penalty_sum + penalty, tf.math.is_finite(total))

        zeros = tf.zeros([self.k])
        _, loss_sum, metric_sum, count, penalty_sum, _ = tf.while_loop(
            lambda i, *rest: tf.logical_and(i < self.n_batches, rest[-1]), body,
            [tf.constant(0), zeros, zeros, zeros, zeros, tf.constant(True)])
        steps = tf.cast(self.n_batches, tf.float32)
        count = tf.maximum(count, 1.0)
        train_loss = loss_sum / count + penalty_sum / steps
        train_metric = metric_sum / count
        output = model(self.x, training=False)
        val_loss = _masked_mean(elementwise_loss(self.head, self.y, output), self.held_out)
        val_metric = _masked_mean(elementwise_metric(self.head, self.y, output), self.held_out)
        # EarlyStopping's bookkeeping on the folds' mean (mode min, min_delta 0), best weights.
        mean = tf.reduce_mean(val_loss)
        improved = mean < self.best
        for shadow, weight in zip(self.shadow, self.weights, strict=True):
            shadow.assign(tf.where(improved, weight.value, shadow))
        self.best.assign(tf.where(improved, mean, self.best))
        self.best_epoch.assign(tf.where(improved, epoch, self.best_epoch))
        self.wait.assign(tf.where(improved, 0, self.wait + 1))
        return tf.stack([train_loss, train_metric, val_loss, val_metric])

    def restore_best(self) -> None:
        if int(self.best_epoch.numpy()) >= 0:
            for shadow, weight in zip(self.shadow, self.weights, strict=True):
                weight.assign(shadow.value())


def train_folds(
    model: keras.Model,
    head: Head,
    x: np.ndarray,
    y: np.ndarray,
    train_mask: np.ndarray,
    *,
    l2: float,
    batch_size: int,
    epochs: int,
    patience: int,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    initial_epoch: int = 0,
    l1: float = 0.0,
) -> FoldTrainResult:
    """Train a stacked model's K fold networks with early stopping on held-out rows.

    Args:
        model: a compiled stacked model (`MLPHyperModel` with folds): output (n, K, units).
        head: the task's output head (loss and metric).
        x, y: features and training targets of every row the folds share.
        train_mask: (n, K) bool, True where fold k trains on the row; it is scored on the rest.
        l2: the L2 penalty λ of every kernel (the model itself carries no regularizer).
        l1: the L1 penalty λ₁ of the first kernel, the inputs' weights. Defaults to 0.
        batch_size: each fold's rows per gradient step.
        epochs: the epoch number to stop at (with `initial_epoch`, as in `fit`).
        patience: epochs without improvement of the folds' mean held-out loss before training
            stops; 0 turns early stopping off and keeps the last epoch's weights.
        seed: seeds the per-epoch shuffling.
        callbacks: Keras callbacks, called once per epoch with the folds' mean logs.
        initial_epoch: the first epoch's number (Hyperband continues earlier trials).

    Returns:
        Every fold's history and kept epoch.
    """
    runner = _FoldEpochRunner(model, head, l2, x, y, train_mask, batch_size, seed, l1)
    metric = head.metric
    keys = ("loss", metric, "val_loss", f"val_{metric}")
    result = FoldTrainResult(histories=[{k: [] for k in keys} for _ in range(runner.k)])
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin({})
    model.stop_training = False
    for epoch in range(initial_epoch, epochs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch, {})
        values = runner.run_epoch(tf.constant(epoch)).numpy()  # (4, K)
        for fold, history in enumerate(result.histories):
            for row, key in enumerate(keys):
                history[key].append(float(values[row, fold]))
        logs = {key: float(np.mean(values[row])) for row, key in enumerate(keys)}
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if not np.isfinite(values).all():
            result.diverged = True
            break
        if patience > 0 and int(runner.wait.numpy()) >= patience:
            result.early_stopped = True
            break
        if model.stop_training:
            break
    if patience > 0:
        runner.restore_best()
        best = int(runner.best_epoch.numpy())
    else:
        best = len(result.histories[0]["loss"]) - 1 + initial_epoch
    result.best_epochs = [best - initial_epoch if best >= 0 else -1] * runner.k
    for callback in callbacks:
        callback.on_train_end({})
    return result


def held_out_predictions(output: np.ndarray, train_mask: np.ndarray) -> np.ndarray:
    """Out-of-fold predictions: each row's output from the fold that did not train on it.

    Args:
        output: stacked outputs (n, K, units).
        train_mask: (n, K) bool, as in `train_folds`.

    Returns:
        (n, units): rows held out by several folds get their mean.
    """
    held = (~train_mask).astype(output.dtype)[..., None]
    return (output * held).sum(axis=1) / np.maximum(held.sum(axis=1), 1)


def in_fold_predictions(output: np.ndarray, train_mask: np.ndarray) -> np.ndarray:
    """Each row's mean output over the folds that trained on it (n, units)."""
    trained = train_mask.astype(output.dtype)[..., None]
    return (output * trained).sum(axis=1) / np.maximum(trained.sum(axis=1), 1)
