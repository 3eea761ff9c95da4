"""What the pipeline prints about the finished search's outputs."""

from __future__ import annotations

from reports.diagnosis import Diagnosis
from tuning.run.folder import verdict_line


def test_the_verdict_line_joins_the_reasons_without_doubled_punctuation():
    fired = Diagnosis(verdict="underfitting", evidence={}, advice=(), reasons=(
        "U2: the linear baseline fits the training split better (loss 0.154 vs 0.283).",
        "U3: training stopped at epoch 3 while still improving.",
    ))
    assert verdict_line(fired) == (
        "diagnosis: underfitting (U2: the linear baseline fits the training split better "
        "(loss 0.154 vs 0.283); U3: training stopped at epoch 3 while still improving)"
    )
    assert verdict_line(Diagnosis("good fit", {}, ())) == "diagnosis: good fit"


def test_the_held_out_loss_scores_every_row_by_the_fold_that_held_it_out():
    from types import SimpleNamespace

    import numpy as np
    import pytest

    from data.task import Task
    from tuning.run.folder import _held_out_loss

    # Two folds over two training rows and two validation rows: fold 0 trains on the first
    # two, fold 1 on the last two. Fold 0 always says 0.9, fold 1 always 0.1, so each row's
    # held-out prediction is the wrong one: the loss is -log(0.1). Averaging the folds would
    # give -log(0.5), the folds that trained on a row -log(0.9).
    def stacked(x, training=False):
        return np.tile(np.array([[[0.9], [0.1]]], dtype=np.float32), (len(x), 1, 1))

    train_mask = np.array([[True, False], [True, False], [False, True], [False, True]])
    encoded = SimpleNamespace(
        x_for=lambda encoding: {"train": np.zeros((2, 3)), "validation": np.zeros((2, 3))},
        original_units=lambda output: output,
    )
    splits = SimpleNamespace(y={"train": np.array([1, 1]), "validation": np.array([0, 0])})
    best = SimpleNamespace(hyperparameters={"numeric_encoding": "standard"})
    loss, rows = _held_out_loss(stacked, best, encoded, Task("binary", ("no", "yes")), splits,
                                train_mask)
    assert rows == 4
    assert loss == pytest.approx(-np.log(0.1), rel=1e-5)


def test_refit_alone_exports_the_best_configuration_and_an_explicit_ensemble_is_kept():
    """The contract's --refit retrains the best configuration: the automatic ensemble is 1."""
    from tuning.config import RunConfig
    from tuning.run.folder import DEFAULT_ENSEMBLE, ensemble_size

    assert ensemble_size(RunConfig(dataset="iris")) == DEFAULT_ENSEMBLE > 1
    assert ensemble_size(RunConfig(dataset="iris", refit=True)) == 1
    assert ensemble_size(RunConfig(dataset="iris", refit=True, ensemble=3)) == 3
