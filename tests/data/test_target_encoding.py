"""Target encoding of many-valued categorical columns: learned on training rows only, out of
fold on the training matrix, chosen by the column's number of distinct training values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import data.preprocessing as preprocessing
from data.cleaning import Column
from data.encoding import encode_splits
from data.preprocessing import (
    TARGET_ENCODING_MIN_VALUES,
    Preprocessing,
    encode,
    fold_of_rows,
    target_encoding_table,
)
from data.splits import Splits
from data.task import Task

COLUMNS = (Column("shop", "categorical"), Column("x", "numeric"))


def _splits(values: int = 12, rows: int = 120, seed: int = 0) -> Splits:
    """A `shop` column of `values` texts whose effects set a regression target, and a number."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 3.0, values)

    def part(n: int) -> tuple[pd.DataFrame, np.ndarray]:
        shop = rng.integers(0, values, n)
        x = rng.normal(size=n)
        frame = pd.DataFrame({"shop": [f"s{s:03d}" for s in shop], "x": x})
        return frame, effect[shop] + x + rng.normal(0.0, 0.3, n)

    parts = {name: part(n) for name, n in (("train", rows), ("validation", 30), ("test", 30))}
    return Splits({k: v[0] for k, v in parts.items()}, {k: v[1] for k, v in parts.items()})


def test_the_table_is_the_m_estimate_with_the_prior_first():
    values = pd.Series(["a", "a", "a", "b", "b", "c"])
    y = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    vocabulary, table = target_encoding_table(values, y)
    assert vocabulary == ("a", "b", "c")  # most frequent first
    prior = y.mean()
    assert table[0, 0] == pytest.approx(prior)
    m = (2 - 3 * table[1, 0]) / (table[1, 0] - prior)  # solve a's row for m
    assert m >= 1.0
    assert table[1:, 0] == pytest.approx(
        [(2 + m * prior) / (3 + m), (0 + m * prior) / (2 + m), (1 + m * prior) / (1 + m)])


def test_values_that_barely_differ_are_shrunk_to_the_prior_and_strong_ones_are_not():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 50, 2000)
    texts = pd.Series([f"v{c}" for c in codes])
    noise = rng.normal(size=2000)
    _, weak = target_encoding_table(texts, noise)  # the values carry nothing
    _, strong = target_encoding_table(texts, 5.0 * (codes % 2) + noise)
    raw = pd.Series(noise).groupby(codes).mean()  # unshrunk: a spread of about 0.7
    assert np.ptp(weak[1:]) < 0.25 * np.ptp(raw)
    assert np.ptp(strong[1:]) > 4.0


def test_only_columns_with_more_values_than_the_threshold_get_a_target_encoding(monkeypatch):
    monkeypatch.setattr(preprocessing, "TARGET_ENCODING_MIN_VALUES", 12)
    splits = _splits(values=12, rows=400)
    assert splits.x["train"]["shop"].nunique() == 12
    plain = encode_splits(COLUMNS, splits, Task("regression"))
    assert not plain.preprocessing.features[0].target_encoding
    monkeypatch.setattr(preprocessing, "TARGET_ENCODING_MIN_VALUES", 11)
    encoded = encode_splits(COLUMNS, splits, Task("regression"))
    spec = encoded.preprocessing.features[0]
    assert spec.target_width == 1 and len(spec.target_vocabulary) == 12
    assert encoded.n_features == plain.n_features + 1
    assert TARGET_ENCODING_MIN_VALUES == 100  # the documented default


def _table_lookup(spec, texts: pd.Series, vocabulary=None, table=None) -> np.ndarray:
    vocabulary = spec.target_vocabulary if vocabulary is None else vocabulary
    table = np.asarray(spec.target_encoding) if table is None else table
    return table[pd.Index(vocabulary).get_indexer(texts.to_numpy(dtype=object)) + 1]


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_training_rows_are_out_of_fold_and_the_other_splits_use_the_training_table(
        monkeypatch, task):
    monkeypatch.setattr(preprocessing, "TARGET_ENCODING_MIN_VALUES", 5)
    splits = _splits()
    if task == "multiclass":  # three classes by the target's tertiles
        cuts = np.quantile(splits.y["train"], [1 / 3, 2 / 3])
        splits = Splits(splits.x, {k: np.digitize(v, cuts).astype(np.int64)
                                   for k, v in splits.y.items()})
    kind = Task(task, (0, 1, 2) if task == "multiclass" else ())
    encoded = encode_splits(COLUMNS, splits, kind, encodings=("standard", "ple"))
    spec = encoded.preprocessing.features[0]
    columns = encoded.preprocessing.target_encoded_columns(encoded.n_features)[0][1]
    targets = (np.eye(3)[encoded.y["train"]] if task == "multiclass"
               else encoded.y["train"].astype(np.float64))
    assert spec.target_width == targets.shape[1]
    train = splits.x["train"]["shop"]
    # The whole training table, from training rows only.
    vocabulary, table = target_encoding_table(train, targets)
    assert spec.target_vocabulary == vocabulary
    assert np.asarray(spec.target_encoding) == pytest.approx(table)
    for name in ("validation", "test"):
        assert encoded.x[name][:, columns] == pytest.approx(
            _table_lookup(spec, splits.x[name]["shop"]), abs=1e-6)
    # Training rows: each from the table of the other folds' rows, never its own target.
    folds = fold_of_rows(len(train))
    expected = np.empty_like(targets)
    for fold in range(5):
        held = folds == fold
        fold_vocabulary, fold_table = target_encoding_table(train[~held], targets[~held])
        expected[held] = _table_lookup(spec, train[held], fold_vocabulary, fold_table)
    x_train = encoded.x["train"][:, columns]
    assert x_train == pytest.approx(expected, abs=1e-6)
    assert not np.allclose(x_train, _table_lookup(spec, train), atol=1e-3)
    # Every numeric encoding's training matrix carries the same out-of-fold features.
    ple = encoded.variants["ple"][1]
    ple_columns = encoded.preprocessing.target_encoded_columns(ple["train"].shape[1], "ple")
    assert ple["train"][:, ple_columns[0][1]] == pytest.approx(x_train)
    assert ple["test"][:, ple_columns[0][1]] == pytest.approx(
        encoded.x["test"][:, columns], abs=1e-6)


def test_the_test_and_validation_targets_change_nothing(monkeypatch):
    monkeypatch.setattr(preprocessing, "TARGET_ENCODING_MIN_VALUES", 5)
    splits = _splits()
    shuffled = Splits(splits.x, {**splits.y, "validation": splits.y["validation"][::-1] + 10,
                                 "test": splits.y["test"][::-1] - 10})
    a = encode_splits(COLUMNS, splits, Task("regression"))
    b = encode_splits(COLUMNS, shuffled, Task("regression"))
    assert a.preprocessing == b.preprocessing
    for name in ("train", "validation", "test"):
        assert np.array_equal(a.x[name], b.x[name])


def test_the_model_gives_unseen_values_the_prior_and_round_trips_through_metadata(monkeypatch):
    monkeypatch.setattr(preprocessing, "TARGET_ENCODING_MIN_VALUES", 5)
    encoded = encode_splits(COLUMNS, _splits(), Task("regression"))
    pre = encoded.preprocessing
    spec = pre.features[0]
    rows = pd.DataFrame({"shop": ["never-seen", spec.target_vocabulary[-1], np.nan],
                         "x": [0.0, 1.0, 2.0]})
    columns = pre.target_encoded_columns(pre.width)[0][1]
    x = encode(pre, pre.build(), rows)
    assert x[0, columns] == pytest.approx(spec.target_encoding[0])  # the prior
    assert x[1, columns] == pytest.approx(spec.target_encoding[-1])
    again = Preprocessing.from_dict(pre.to_dict())
    assert again == pre
    assert set(pre.unseen_categories(rows)[0][2]) == {"never-seen", ""}
    # Metadata written before the target encoding existed loads as one-hot only.
    old = [{k: v for k, v in item.items() if k not in {"target_vocabulary", "target_encoding"}}
           for item in pre.to_dict()]
    assert Preprocessing.from_dict(old).features[0].target_encoding == ()
    assert Preprocessing.from_dict(old).width == pre.width - 1


def test_a_many_valued_column_that_says_nothing_about_the_target_gets_no_encoding(monkeypatch):
    monkeypatch.setattr(preprocessing, "TARGET_ENCODING_MIN_VALUES", 5)
    splits = _splits()
    rng = np.random.default_rng(1)
    noise = Splits(splits.x, {k: rng.normal(size=len(v)) for k, v in splits.y.items()})
    encoded = encode_splits(COLUMNS, noise, Task("regression"))
    assert not encoded.preprocessing.features[0].target_encoding
    (check,) = encoded.target_encoding_checks
    assert check.column == "shop" and not check.kept and check.gain < 0.01
    kept = encode_splits(COLUMNS, splits, Task("regression")).target_encoding_checks[0]
    assert kept.kept and kept.gain > 0.5


def test_the_console_says_which_many_valued_columns_got_a_target_encoding(monkeypatch):
    from tuning.run.pipeline import encoding_lines

    monkeypatch.setattr(preprocessing, "TARGET_ENCODING_MIN_VALUES", 5)
    splits = _splits()
    kept = encode_splits(COLUMNS, splits, Task("regression"))
    (line,) = encoding_lines(kept.target_encoding_checks, kept.preprocessing.features)
    gain = kept.target_encoding_checks[0].gain
    assert line == ("encoding: 'shop' has 12 distinct training values: one-hot over the 12 most "
                    f"frequent, plus a target encoding (out of fold it explains {gain:.1%} of the "
                    "training target's variance)")
    rng = np.random.default_rng(1)
    noise = Splits(splits.x, {k: rng.normal(size=len(v)) for k, v in splits.y.items()})
    left = encode_splits(COLUMNS, noise, Task("regression"))
    (line,) = encoding_lines(left.target_encoding_checks, left.preprocessing.features)
    assert line.startswith("encoding: 'shop' has 12 distinct training values: one-hot over the "
                           "12 most frequent only: its target encoding explains ")
    assert line.endswith("of the training target's variance out of fold, under 1%")
