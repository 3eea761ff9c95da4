from __future__ import annotations

import pytest

from common.errors import DataError
from data.loading import BUNDLED, drop_columns, load_bundled, load_csv


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_separator_is_detected(tmp_path, sep):
    path = tmp_path / "d.csv"
    path.write_text(sep.join(["a", "b", "y"]) + "\n" + "\n".join(
        sep.join([str(i), f"x{i % 3}", str(i % 2)]) for i in range(10)) + "\n")
    ds = load_csv(path, "y")
    assert list(ds.frame.columns) == ["a", "b", "y"]
    assert len(ds.frame) == 10
    assert ds.name == "d"


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_datasets_load_offline(name):
    ds = load_bundled(name)
    assert ds.target in ds.frame.columns
    assert len(ds.frame) > 100


def test_bundled_class_names_are_labels():
    ds = load_bundled("breast_cancer")
    assert set(ds.frame["target"]) == {"malignant", "benign"}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is empty"),
        (b"a,b,y\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a text file"),
        (b"a,a,y\n1,2,3\n", "duplicate column names: a"),
        (b"a,b,c\n1,2,3\n", "Target column 'y' not found. Columns are: a, b, c"),
        (b"justonecolumn\n1\n2\n", "single column"),
    ],
    ids=["empty", "header-only", "binary", "duplicate-columns", "no-target", "one-column"],
)
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        load_csv(path, "y")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_csv(tmp_path / "nope.csv", "y")


def test_drop_columns_checks_names():
    ds = load_bundled("iris")
    kept = drop_columns(ds, ("sepal length (cm)",))
    assert "sepal length (cm)" not in kept.frame.columns
    with pytest.raises(DataError, match="not in the data: nope"):
        drop_columns(ds, ("nope",))
    with pytest.raises(DataError, match="the target"):
        drop_columns(ds, ("target",))
