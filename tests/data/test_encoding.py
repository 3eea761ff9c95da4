"""EncodedSplits.predict: the network's output on a split, as model.predict gives it."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from data import encoding
from data.cleaning import Column
from data.encoding import EncodedSplits, encode_splits
from data.splits import Splits
from data.task import Task


@pytest.mark.parametrize("rows", [1, 20, 23])
def test_predict_in_blocks_equals_model_predict_in_original_units(monkeypatch, seed, rows):
    monkeypatch.setattr(encoding, "_PREDICT_ROWS", 7)  # several blocks, the last one partial
    x = np.random.default_rng(0).normal(size=(rows, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    encoded = EncodedSplits(preprocessing=None, preprocessing_model=None, x={"test": x}, y={},
                            target_mean=10.0, target_std=2.0)
    output = encoded.predict(model, "test")
    expected = model.predict(x, verbose=0).astype(np.float64) * 2.0 + 10.0
    assert output.shape == (rows, 1) and output.dtype == np.float64
    np.testing.assert_allclose(output, expected, rtol=1e-6)  # dropout is off when predicting


def _splits_with_shifted_holdouts() -> tuple[tuple, Splits]:
    """Validation and test rows far from the training rows, so any leak moves the statistics."""
    columns = (Column("num", "numeric"), Column("color", "categorical"))
    train = pd.DataFrame({"num": [1.0, 2.0, 3.0, np.nan], "color": ["red", "red", "blue", "red"]})
    holdout = pd.DataFrame({"num": [100.0, 200.0], "color": ["green", "green"]})
    splits = Splits(
        x={"train": train, "validation": holdout, "test": holdout.copy()},
        y={"train": np.array([1.0, 2.0, 3.0, 4.0]), "validation": np.array([50.0, 60.0]),
           "test": np.array([70.0, 80.0])},
    )
    return columns, splits


def test_encode_splits_learns_features_and_target_scaling_from_train_only(seed):
    columns, splits = _splits_with_shifted_holdouts()
    encoded = encode_splits(columns, splits, Task("regression"))
    num, color = encoded.preprocessing.features
    assert num.fill == pytest.approx(2.0) and not np.isnan(encoded.x["train"]).any()
    assert num.mean == pytest.approx(2.0) and num.std == pytest.approx(np.sqrt(0.5))
    assert "green" not in color.vocabulary  # seen only outside training: the unseen slot
    assert encoded.target_mean == pytest.approx(2.5)
    assert encoded.target_std == pytest.approx(np.std([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(encoded.y["test"][:, 0], (np.array([70.0, 80.0]) - 2.5)
                               / np.std([1.0, 2.0, 3.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(encoded.x["validation"][:, 0], (np.array([100.0, 200.0]) - 2.0)
                               / np.sqrt(0.5), rtol=1e-5)


def test_encode_splits_keeps_classification_targets_as_classes(seed):
    columns, splits = _splits_with_shifted_holdouts()
    splits = Splits(splits.x, {"train": np.array([0, 1, 0, 1]), "validation": np.array([1, 0]),
                               "test": np.array([0, 1])})
    binary = encode_splits(columns, splits, Task("binary", ("a", "b")))
    assert binary.y["train"].shape == (4, 1) and binary.y["train"].dtype == np.float32
    assert (binary.target_mean, binary.target_std) == (0.0, 1.0)
    multiclass = encode_splits(columns, splits, Task("multiclass", ("a", "b", "c")))
    assert multiclass.y["test"].tolist() == [0, 1] and multiclass.y["test"].dtype == np.int64


def test_predict_keeps_a_tiny_spread_next_to_a_large_mean(seed):
    """The evaluation's values are μ + σ·z in float64: 1.7e9 ± 100 is not rounded to float32's
    steps of 128 (the exported model does the same, see test_export)."""
    x = np.linspace(-1, 1, 9, dtype=np.float32).reshape(-1, 1)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    encoded = EncodedSplits(preprocessing=None, preprocessing_model=None, x={"test": x}, y={},
                            target_mean=1.7e9, target_std=100.0)
    z = np.asarray(model(x), np.float64)
    np.testing.assert_allclose((encoded.predict(model, "test") - 1.7e9) / 100.0, z, atol=1e-6)


def test_the_target_transform_is_judged_on_every_numeric_encoding_of_the_search():
    # A price whose effects multiply through heavy-tailed areas: log1p only when the search's
    # piecewise-linear encoding is among the encodings prepared.
    rng = np.random.default_rng(1)
    area = rng.lognormal(7, 0.6, size=(600, 3))
    price = np.exp(11 + np.log(area) @ np.array([0.8, 0.5, 0.4]) + rng.normal(0, 0.15, 600))
    frame = pd.DataFrame(area, columns=["a", "b", "c"])
    columns = tuple(Column(name, "numeric") for name in frame)
    splits = Splits(x={"train": frame[:500], "validation": frame[500:550], "test": frame[550:]},
                    y={"train": price[:500], "validation": price[500:550], "test": price[550:]})
    standard = encode_splits(columns, splits, Task("regression"), "auto", ("standard",))
    both = encode_splits(columns, splits, Task("regression"), "auto", ("standard", "ple"))
    assert standard.target_transform.kind == "none"
    assert both.target_transform.kind == "log"
    assert set(both.variants) == {"ple"} and both.variants["ple"][1]["train"].shape[0] == 500
