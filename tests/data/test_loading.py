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
        (b",x1,,y\n0,1,2,3\n", r"2 columns with an empty name \(column 1, 3 of the header\)"),
        (b"a,b,c\n1,2,3\n", "Target column 'y' not found. Columns are: a, b, c"),
        (b"justonecolumn\n1\n2\n", "single column"),
    ],
    ids=["empty", "header-only", "binary", "duplicate-columns", "empty-names", "no-target",
         "one-column"],
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


def _decimal_comma_file(tmp_path, sep: str = ";"):
    rows = [(f"{i},{i % 4}5", f"{i % 5},{i % 3}" if i != 7 else "?", "abc"[i % 3], f"{20 + i}")
            for i in range(30)]
    path = tmp_path / "eu.csv"
    quote = '"' if sep == "," else ""
    path.write_text(sep.join(["price", "weight", "kind", "y"]) + "\n" + "".join(
        sep.join(f"{quote}{v}{quote}" for v in row) + "\n" for row in rows))
    return path


def test_decimal_commas_in_a_semicolon_file_are_read_as_numbers(tmp_path):
    from data.cleaning import clean

    ds = load_csv(_decimal_comma_file(tmp_path), "y")
    assert ds.frame["price"].dtype == "float64"
    assert ds.frame["price"].iloc[:3].tolist() == [0.05, 1.15, 2.25]
    # A placeholder stays as it was, for cleaning to read as missing (and export to remember).
    assert ds.frame["weight"].iloc[6:9].tolist() == [1.0, "?", 3.2]
    assert ds.notes == (
        "column 'price': numbers with a decimal comma read as numbers (e.g. '5,2' = 5.2)",
        "column 'weight': numbers with a decimal comma read as numbers (e.g. '5,2' = 5.2)",
    )
    data = clean(ds)
    assert {c.name: c.kind for c in data.columns} == {
        "price": "numeric", "weight": "numeric", "kind": "categorical"}
    assert ds.notes[0] in data.notes and "price" not in data.dropped  # not "ID-like" text
    assert drop_columns(ds, ("kind",)).notes == ds.notes


def test_decimal_commas_stay_text_where_the_comma_may_mean_something_else(tmp_path):
    from data.loading import read_csv

    # Comma-separated: a quoted "1,5" may be a thousands separator; predict's error hints.
    assert read_csv(_decimal_comma_file(tmp_path, ",")).dtypes["price"] != "float64"
    path = tmp_path / "mixed.csv"
    path.write_text("a;y\n" + "".join(f"{'1,5' if i < 3 else f'size {i}'};{i}\n"
                                      for i in range(30)))
    assert read_csv(path)["a"].tolist()[:4] == ["1,5", "1,5", "1,5", "size 3"]
    kept = read_csv(_decimal_comma_file(tmp_path), text_columns=frozenset({"price"}))
    assert kept["price"].iloc[0] == "0,05"  # predict keeps categorical columns as text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be", "utf-8-sig"])
def test_files_with_a_byte_order_mark_are_read(tmp_path, encoding):
    text = "größe;farbe;y\n" + "".join(f"{i};{'rot' if i % 2 else 'grün'};{i % 2}\n"
                                       for i in range(10))
    raw = text.encode(encoding)
    if encoding.endswith("-be"):  # Python writes no byte-order mark for an explicit order
        raw = ("\ufeff" + text).encode(encoding)
    (tmp_path / "d.csv").write_bytes(raw)
    ds = load_csv(tmp_path / "d.csv", "y")
    assert list(ds.frame.columns) == ["größe", "farbe", "y"]
    assert ds.frame["farbe"].tolist()[:2] == ["grün", "rot"]


def test_utf16_without_a_byte_order_mark_is_named_not_called_binary(tmp_path):
    (tmp_path / "d.csv").write_bytes("a,b,y\n1,2,0\n3,4,1\n".encode("utf-16-le"))
    with pytest.raises(DataError, match="looks like UTF-16-LE text without a byte-order mark"):
        load_csv(tmp_path / "d.csv", "y")
    (tmp_path / "e.csv").write_bytes(b"\xff\xfe" + "a,b\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(DataError, match="UTF-16-LE byte-order mark but is not valid UTF-16-LE"):
        load_csv(tmp_path / "e.csv", "y")
