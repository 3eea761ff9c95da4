from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from data.splits import split
from data.task import Task


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype=float)})


def test_sizes_and_disjoint():
    y = np.array([0] * 70 + [1] * 30)
    s = split(_frame(100), y, Task("binary", ("a", "b")), 0.15, 0.15, seed=0)
    assert s.sizes() == {"train": 70, "validation": 15, "test": 15}
    seen = [set(s.x[k]["x"]) for k in ("train", "validation", "test")]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    assert len(seen[0] | seen[1] | seen[2]) == 100


def test_stratified():
    y = np.array([0] * 160 + [1] * 40)
    s = split(_frame(200), y, Task("binary", ("a", "b")), 0.2, 0.2, seed=1)
    for name in ("train", "validation", "test"):
        assert s.y[name].mean() == pytest.approx(0.2, abs=0.02)


def test_repeatable_by_seed():
    y = np.random.default_rng(0).normal(size=50)
    task = Task("regression")
    a, b = split(_frame(50), y, task, seed=3), split(_frame(50), y, task, seed=3)
    c = split(_frame(50), y, task, seed=4)
    assert np.array_equal(a.y["test"], b.y["test"])
    assert not np.array_equal(a.y["test"], c.y["test"])


def test_too_few_rows():
    with pytest.raises(DataError, match="too few for train"):
        split(_frame(3), np.array([0.0, 1.0, 2.0]), Task("regression"))


def test_class_too_small_to_stratify():
    y = np.array([0] * 30 + [1] * 2)
    with pytest.raises(DataError, match="Class 'b' of the target has only 2 row") as caught:
        split(_frame(32), y, Task("binary", ("a", "b")))
    assert "--task regression" not in str(caught.value)


def test_a_rare_integer_class_names_regression_as_the_way_out():
    """Integer targets with few values are read as classes: a rating of 1-5 with one 0."""
    y = np.array([0] + [1, 2, 3, 4, 5] * 10)
    with pytest.raises(DataError, match=r"Class 0 .* only 1 row\(s\).* pass --task regression"):
        split(_frame(51), y, Task("multiclass", (0, 1, 2, 3, 4, 5)))


def test_regression_split_covers_the_target_range():
    y = np.arange(300, dtype=float)  # sorted targets: a stratified split spreads every decile
    s = split(_frame(300), y, Task("regression"), 0.15, 0.15, seed=0)
    for name in ("validation", "test"):
        counts = np.bincount((s.y[name] // 30).astype(int), minlength=10)
        assert counts.min() >= 4 and counts.max() <= 5, (name, counts)  # 45 rows: 4 or 5 each


def test_cv_folds_hold_every_row_out_once_stratified_and_repeatably():
    from data.splits import fold_masks

    y = np.array([0] * 40 + [1] * 20 + [2] * 10)
    task = Task("multiclass", ("a", "b", "c"))
    masks = fold_masks(y, task, 5, seed=3)
    assert masks.shape == (70, 5)
    assert ((~masks).sum(axis=1) == 1).all()  # each row is held out by exactly one fold
    for fold in range(5):
        held = y[~masks[:, fold]]
        assert np.bincount(held, minlength=3).tolist() == [8, 4, 2]
    np.testing.assert_array_equal(masks, fold_masks(y, task, 5, seed=3))
    assert not np.array_equal(masks, fold_masks(y, task, 5, seed=4))


def test_regression_cv_folds_cover_the_target_range():
    from data.splits import fold_masks

    y = np.arange(300, dtype=float)
    masks = fold_masks(y, Task("regression"), 3, seed=0)
    for fold in range(3):
        held = y[~masks[:, fold]]
        assert held.min() < 30 and held.max() > 270  # every fold holds low and high targets


def test_split_sizes_round_up_for_validation_and_test():
    s = split(_frame(101), np.arange(101, dtype=float), Task("regression"), 0.15, 0.15, seed=0)
    assert s.sizes() == {"train": 69, "validation": 16, "test": 16}  # ceil(15.15) = 16


def test_regression_bins_hold_at_least_30_rows():
    from data.splits import _target_bins

    assert _target_bins(np.arange(59.0), 20) is None  # 59 rows: one bin, no stratification
    bins = _target_bins(np.arange(60.0), 20)
    assert bins is not None and np.bincount(bins).tolist() == [30, 30]
    assert np.bincount(_target_bins(np.arange(1000.0), 150)).tolist() == [100] * 10
