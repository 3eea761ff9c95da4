"""The predictor's checks of new rows and its output table, on hand-made metadata (no model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from models.export import _missing_markers
from models.predictor import check_rows, prediction_table


def _metadata(task: str = "binary", classes=("no", "yes"), markers=("k.A.",)) -> dict:
    return {
        "task": task,
        "classes": list(classes),
        "inputs": [
            {"column": "dose", "kind": "numeric", "input_name": "dose",
             "missing_markers": list(markers)},
            {"column": "smoker", "kind": "boolean", "input_name": "smoker"},
            {"column": "city", "kind": "categorical", "input_name": "city"},
        ],
    }


def test_training_placeholders_are_remembered_most_frequent_first():
    raw = pd.Series(["1.5", "k.A.", "2", "?", "k.A.", " k.A. ", None, "", "inf"])
    markers = _missing_markers(raw)
    assert markers[0] == "k.A." and sorted(markers) == ["?", "inf", "k.A."]
    assert _missing_markers(pd.Series([1.0, 2.0, np.nan])) == []


def test_a_placeholder_seen_in_training_is_missing_in_new_rows_too():
    frame = pd.DataFrame({"dose": ["1.5", "k.A.", " K.A. ", "?"], "smoker": ["yes", "no", "", "1"],
                          "city": ["Lima", "", "x", "y"]})
    check_rows(_metadata(), frame)  # "k.A." was a placeholder in training, any case
    with pytest.raises(DataError, match=r"'dose' should hold numbers but has 2 other value\(s\) "
                                        r"such as 'k.A.'"):
        check_rows(_metadata(markers=()), frame)  # a model that never saw it: a wrong value


def test_other_text_in_a_numeric_column_is_still_an_error():
    frame = pd.DataFrame({"dose": ["1", "lots"], "smoker": ["y", "n"], "city": ["a", "b"]})
    with pytest.raises(DataError, match=r"'dose' should hold numbers .* 'lots' \(first in data "
                                        r"row 2\)"):
        check_rows(_metadata(), frame)


def test_binary_predictions_name_classes_1_above_one_half():
    table = prediction_table(_metadata(), np.array([[0.2], [0.51], [0.5], [0.9]]))
    assert table["prediction"].tolist() == ["no", "yes", "no", "yes"]
    np.testing.assert_allclose(table["probability_yes"], [0.2, 0.51, 0.5, 0.9])
    np.testing.assert_allclose(table["probability_no"], [0.8, 0.49, 0.5, 0.1])
    assert list(table.columns) == ["prediction", "probability_no", "probability_yes"]


def test_multiclass_predictions_follow_the_classes_order():
    metadata = _metadata("multiclass", classes=(3.0, 1.0, 2.0))  # numeric labels read as floats
    table = prediction_table(metadata, np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]]))
    assert table["prediction"].tolist() == ["1", "3"]
    assert list(table.columns) == ["prediction", "probability_3", "probability_1",
                                   "probability_2"]


def test_regression_predictions_are_the_values():
    table = prediction_table(_metadata("regression", classes=()), np.array([[1.5], [-2.0]]))
    assert list(table.columns) == ["prediction"] and table["prediction"].tolist() == [1.5, -2.0]
