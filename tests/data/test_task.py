from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from data.task import infer_task


@pytest.mark.parametrize(
    ("values", "kind", "classes"),
    [
        (["yes", "no", "yes", "no"], "binary", ("no", "yes")),
        ([0, 1, 1, 0], "binary", (0, 1)),
        ([True, False, True, True], "binary", (False, True)),
        (["a", "b", "c", "a"], "multiclass", ("a", "b", "c")),
        ([3, 1, 2, 2, 1], "multiclass", (1, 2, 3)),
        (list(np.linspace(0, 1, 50)), "regression", ()),
        (list(range(40)), "regression", ()),  # many distinct integers: a quantity, not classes
        (list(range(20)) * 2, "multiclass", tuple(range(20))),  # at the limit: still classes
        (list(range(21)) * 2, "regression", ()),
    ],
    ids=["text-2", "int-2", "bool", "text-3", "int-3", "floats", "many-ints", "20-ints",
         "21-ints"],
)
def test_infer_task(values, kind, classes):
    task = infer_task(pd.Series(values, name="y"))
    assert task.kind == kind
    assert task.classes == classes
    assert task.reason


def test_override_regression_on_integer_classes():
    task = infer_task(pd.Series([1, 2, 3, 1, 2], name="y"), "regression")
    assert task.kind == "regression"


@pytest.mark.parametrize(
    ("values", "requested", "match"),
    [
        (["a", "b", "a"], "regression", "needs a numeric target"),
        (["a", "b", "c"], "binary", "exactly 2 classes"),
        ([5, 5, 5], "auto", "single value"),
    ],
    ids=["regression-on-text", "binary-on-3", "one-class"],
)
def test_task_errors(values, requested, match):
    with pytest.raises(DataError, match=match):
        infer_task(pd.Series(values, name="y"), requested)
