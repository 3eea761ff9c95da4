from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.cleaning import Column
from data.preprocessing import encode, fit_preprocessing

COLUMNS = (Column("num", "numeric"), Column("color", "categorical"), Column("flag", "boolean"))


def _train() -> pd.DataFrame:
    return pd.DataFrame({
        "num": [1.0, 2.0, 3.0, np.nan, 4.0],
        "color": ["red", "blue", "red", np.nan, "red"],
        "flag": [1.0, 0.0, 1.0, 1.0, 0.0],
    })


def test_statistics_come_from_training_rows_only():
    train = _train()
    pre = fit_preprocessing(train, COLUMNS)
    num = pre.features[0]
    assert num.fill == pytest.approx(2.5)  # mean of the observed training values
    filled = np.array([1.0, 2.0, 3.0, 2.5, 4.0])
    assert num.mean == pytest.approx(filled.mean())
    assert num.std == pytest.approx(filled.std())  # σ, not σ²
    assert num.indicator
    assert pre.features[1].vocabulary[0] == "red"  # most frequent first
    # Other rows are transformed with the training statistics, never re-fitted.
    other = pd.DataFrame({"num": [100.0], "color": ["green"], "flag": [0.0]})
    x = encode(pre, pre.build(), other)
    assert x[0, 0] == pytest.approx((100.0 - num.mean) / num.std, rel=1e-5)


def test_encoded_layout_and_unseen_values(seed):
    pre = fit_preprocessing(_train(), COLUMNS)
    x = encode(pre, pre.build(), pd.DataFrame({
        "num": [np.nan], "color": ["purple"], "flag": [np.nan], "unused": ["ignored"]}))
    assert x.shape == (1, pre.width)
    num, color, flag = pre.features
    assert x[0, 0] == pytest.approx((num.fill - num.mean) / num.std, abs=1e-6)
    assert x[0, 1] == 1.0  # "was missing" indicator
    onehot = x[0, 2:2 + color.width]
    assert onehot[0] == 1.0 and onehot.sum() == 1.0  # unseen category → the OOV slot


def test_normalized_training_features_have_zero_mean_unit_std(seed):
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"num": rng.normal(50, 7, 200)})
    pre = fit_preprocessing(train, (Column("num", "numeric"),))
    x = encode(pre, pre.build(), train)
    assert x.mean() == pytest.approx(0.0, abs=1e-5)
    assert x.std() == pytest.approx(1.0, abs=1e-4)


def test_the_vocabulary_keeps_the_100_most_frequent_values():
    values = [f"v{i:03d}" for i in range(150) for _ in range(1 + (i < 100))]
    pre = fit_preprocessing(pd.DataFrame({"c": values}), (Column("c", "categorical"),))
    vocabulary = pre.features[0].vocabulary
    assert len(vocabulary) == 100 and set(vocabulary) == {f"v{i:03d}" for i in range(100)}
    assert pre.width == 101  # plus the slot for everything else


def test_a_constant_training_column_is_scaled_by_one_not_zero(seed):
    pre = fit_preprocessing(pd.DataFrame({"num": [3.0] * 5}), (Column("num", "numeric"),))
    assert pre.features[0].std == 1.0
    x = encode(pre, pre.build(), pd.DataFrame({"num": [3.0, 5.0]}))
    np.testing.assert_allclose(x[:, 0], [0.0, 2.0], atol=1e-6)


def test_input_names_are_safe_for_savedmodel_signatures_and_unique():
    from data.preprocessing import _input_names

    names = ["blood type", "1st", "Größe", "__", "a.b-c", "x" * 60, "Blood_Type", "blood type",
             "sq-ft", "sq_ft", "sq.ft"]
    assert _input_names(names) == [
        "blood_type", "c_1st", "Gr__e", "column", "a_b_c", "x" * 48, "Blood_Type_2",
        "blood_type_3", "sq_ft", "sq_ft_2", "sq_ft_3",
    ]


def test_a_column_missing_in_every_training_row_is_filled_with_zero(seed):
    train = pd.DataFrame({"num": [np.nan] * 4, "color": ["a", "b", "a", "b"],
                          "flag": [1.0, 0.0, 1.0, 0.0]})
    pre = fit_preprocessing(train, COLUMNS)
    num = pre.features[0]
    assert (num.fill, num.mean, num.std, num.indicator) == (0.0, 0.0, 1.0, True)
    x = encode(pre, pre.build(), pd.DataFrame({"num": [np.nan, 2.0], "color": ["a", "a"],
                                                "flag": [1.0, 0.0]}))
    np.testing.assert_allclose(x[:, :2], [[0.0, 1.0], [2.0, 0.0]])


def test_inputs_are_named_float32_or_text_columns_of_shape_n_by_1():
    pre = fit_preprocessing(_train(), COLUMNS)
    assert [(f.name, f.kind) for f in pre.features] == [
        ("num", "numeric"), ("color", "categorical"), ("flag", "boolean")]
    inputs = pre.inputs(pd.DataFrame({"num": ["1.5", "?"], "color": [" red ", None],
                                      "flag": ["yes", "0"]}))
    assert {k: (v.dtype, v.shape) for k, v in inputs.items()} == {
        "num": (np.float32, (2, 1)), "color": (np.dtype(object), (2, 1)),
        "flag": (np.float32, (2, 1))}
    assert inputs["color"][:, 0].tolist() == ["red", ""]
    np.testing.assert_array_equal(inputs["flag"][:, 0], [1.0, 0.0])
    assert inputs["num"][0, 0] == 1.5 and np.isnan(inputs["num"][1, 0])
