"""A DataFrame enters where a CSV's text has been read, and gets the same checks from there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from data.cleaning import clean
from data.loading import frame_digest, frame_rows, load_csv, load_frame


def _table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "income": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
        "city": rng.choice(["Oslo", "Rome", "Lima"], n),
        "member": rng.choice(["yes", "no"], n),
        "code": [f"C{i}" for i in range(n)],  # ID-like: dropped
        "y": rng.choice(["a", "b"], n),
    })


def test_a_frame_is_cleaned_exactly_as_the_same_rows_read_from_a_csv(tmp_path):
    frame = _table()
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    from_csv, from_frame = clean(load_csv(path, "y")), clean(load_frame(frame, "y"))
    assert from_frame.columns == from_csv.columns
    assert from_frame.dropped == from_csv.dropped and from_frame.notes == from_csv.notes
    pd.testing.assert_frame_equal(from_frame.features, from_csv.features)
    pd.testing.assert_series_equal(from_frame.target, from_csv.target)


def test_pandas_own_types_become_what_a_csv_gives():
    frame = pd.DataFrame({
        "n": pd.array([1, None, 3, 4], dtype="Int64"),
        "f": pd.array([0.5, None, 1.5, 2.0], dtype="Float64"),
        "b": pd.array([True, None, False, True], dtype="boolean"),
        "c": pd.Categorical(["x", "y", None, "x"]),
        "d": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04"]),
        "y": [0, 1, 0, 1],
    }, index=[10, 11, 12, 13])
    rows = frame_rows(frame)
    assert list(rows.index) == [0, 1, 2, 3]
    assert rows["n"].dtype == np.float64 and np.isnan(rows["n"][1]) and rows["n"][2] == 3.0
    assert rows["f"].dtype == np.float64 and np.isnan(rows["f"][1])
    assert rows["b"].tolist()[::2] == [True, False] and pd.isna(rows["b"][1])
    assert rows["c"].tolist()[:2] == ["x", "y"] and pd.isna(rows["c"][2])
    assert rows["d"][0] == "2024-01-01" and pd.isna(rows["d"][1])
    kinds = {c.name: c.kind for c in clean(load_frame(frame, "y")).columns}
    assert kinds == {"n": "numeric", "f": "numeric", "b": "boolean", "c": "categorical",
                     "d": "categorical"}
    assert frame["n"].dtype == "Int64"  # the caller's frame is left as it was


def test_column_names_are_text_as_in_a_header():
    frame = pd.DataFrame({0: [1.0, 2.0, 3.0], " y ": [0, 1, 0]})
    assert list(load_frame(frame, "y").frame.columns) == ["0", "y"]


@pytest.mark.parametrize(
    ("frame", "target", "match"),
    [
        (pd.DataFrame({"a": [], "y": []}), "y", "The DataFrame has no rows"),
        (pd.DataFrame([[1, 2, 3]], columns=["a", "a", "y"]), "y",
         "The DataFrame has duplicate column names: a"),
        (pd.DataFrame([[1, 2, 3]], columns=["a", " a", "y"]), "y", "duplicate column names: a"),
        (pd.DataFrame([[1, 2]], columns=["", "y"]), "y", "a column with an empty name"),
        (pd.DataFrame({"y": [1, 2]}), "y", r"The DataFrame has a single column \('y'\)"),
        (pd.DataFrame({"a": [1], "b": [2]}), "y",
         "Target column 'y' not found. Columns are: a, b"),
        (pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("y", "")])), "y",
         "nested"),
        ([[1, 2]], "y", "Expected a pandas DataFrame"),
    ],
    ids=["no-rows", "duplicates", "duplicates-after-strip", "empty-name", "single-column",
         "no-target", "multiindex", "not-a-frame"],
)
def test_bad_frames_are_refused_as_bad_csvs_are(frame, target, match):
    with pytest.raises(DataError, match=match):
        load_frame(frame, target)


def test_the_digest_reads_values_names_and_types_not_the_index():
    frame = _table()
    digest = frame_digest(frame)
    assert digest == frame_digest(frame.copy().set_axis(range(100, 140)))
    assert len(digest) == 64
    assert frame_digest(frame.rename(columns={"age": "years"})) != digest
    assert frame_digest(frame.astype({"age": np.float64})) != digest
    changed = frame.copy()
    changed.loc[3, "city"] = "Pisa"
    assert frame_digest(changed) != digest
    assert frame_digest(frame.iloc[::-1]) != digest  # row order is part of the data


@pytest.mark.parametrize("dtype", ["float64", "Float64"])
def test_a_frame_drops_infinite_targets_with_the_note_a_csv_gets(tmp_path, dtype):
    frame = _table().drop(columns=["y"])
    frame["y"] = pd.array(np.linspace(0.0, 1.0, len(frame)), dtype=dtype)
    frame.loc[[3, 8], "y"] = np.inf
    frame.loc[5, "y"] = -np.inf
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    from_csv, from_frame = clean(load_csv(path, "y")), clean(load_frame(frame, "y"))
    assert "dropped 3 of 40 rows whose target 'y' is infinite (inf or -inf)" in from_frame.notes
    assert from_frame.notes == from_csv.notes and len(from_frame.target) == 37
    pd.testing.assert_series_equal(from_frame.target, from_csv.target)


def test_decimal_commas_are_read_from_text_files_only(tmp_path):
    frame = _table()
    frame["weight"] = [f"{v:.1f}".replace(".", ",") for v in np.linspace(50, 90, len(frame))]
    frame.to_csv(path := tmp_path / "t.csv", index=False, sep=";")
    from_csv = load_csv(path, "y")
    assert from_csv.frame["weight"].dtype == np.float64
    assert from_csv.notes == ("column 'weight': numbers with a decimal comma read as numbers "
                              "(e.g. '5,2' = 5.2)",)
    # A DataFrame's values are what the caller made them: its texts stay texts.
    from_frame = load_frame(frame, "y")
    assert from_frame.notes == ()
    assert from_frame.frame["weight"].tolist() == frame["weight"].tolist()
