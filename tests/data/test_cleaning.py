from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from data.cleaning import clean, convert_column, infer_kind
from data.loading import Dataset


def _dataset(frame: pd.DataFrame, target: str = "y") -> Dataset:
    return Dataset(frame, target, "test.csv", "test")


def test_real_world_columns():
    n = 60
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "row": np.arange(1, n + 1),  # row numbers: ID-like
        "name": [f"person {i}" for i in range(n)],  # a distinct text in every row: ID-like
        "const": 7,  # constant
        "age": rng.normal(40, 10, n).round(1),  # continuous: all distinct, but not an ID
        "city": rng.choice(["Lima", "Cusco", None], n),
        "member": rng.choice([True, False], n),
        "y": rng.choice(["churn", "stay"], n),
    })
    frame.loc[[3, 5], "y"] = None
    data = clean(_dataset(frame))
    assert [c.name for c in data.columns] == ["age", "city", "member"]
    assert {c.name: c.kind for c in data.columns} == {
        "age": "numeric", "city": "categorical", "member": "boolean"}
    assert set(data.dropped) == {"row", "name", "const"}
    assert "ID-like" in data.dropped["row"] and "ID-like" in data.dropped["name"]
    assert len(data.target) == n - 2
    assert any("dropped 2 of 60 rows whose target 'y' is missing" in note for note in data.notes)


def test_a_column_of_distinct_dates_is_dropped_with_what_to_do_about_it():
    """Dates are not IDs: the note says so and how to use them; text with digits in it (names,
    addresses, codes) is still ID-like."""
    n = 60
    frame = pd.DataFrame({
        "signup": pd.date_range("2020-01-01", periods=n, freq="37h").astype(str),
        "day": [f"{d:%d/%m/%Y}" for d in pd.date_range("2021-03-01", periods=n)],
        "address": [f"{i} Main St" for i in range(n)],
        "code": [f"A-{i:04d}" for i in range(n)],
        "x": np.arange(n) % 7 * 1.5,
        "y": ["a", "b"] * (n // 2),
    })
    data = clean(_dataset(frame))
    for column in ("signup", "day"):
        assert data.dropped[column].startswith("dates or times, 60 distinct in 60 rows")
        assert "add columns such as year, month or weekday" in data.dropped[column]
    for column in ("address", "code"):
        assert data.dropped[column].startswith("ID-like"), data.dropped[column]


def test_numeric_text_with_placeholders_and_infinities():
    frame = pd.DataFrame({
        "x": ["1.5", "2", "?", "4", "5"] * 5,  # "?" marks a missing value (UCI style)
        "z": [1.0, np.inf, 3.0, 4.0, 5.0] * 5,
        "y": [0, 1] * 12 + [0],
    })
    data = clean(_dataset(frame))
    assert {c.name: c.kind for c in data.columns} == {"x": "numeric", "z": "numeric"}
    assert data.features["x"].isna().sum() == 5
    assert data.features["z"].isna().sum() == 5
    assert any("non-numeric values read as missing" in n for n in data.notes)
    assert any("infinite values read as missing" in n for n in data.notes)


def test_numbers_beyond_1e18_are_read_as_missing_in_training_and_prediction():
    """The model's inputs are float32 (1e39 would become inf there) and so is the variance its
    standardization holds (σ of 2e38 has no float32 square)."""
    from data.cleaning import convert_column

    frame = pd.DataFrame({"x": [1e39, -2e38, 3.0, 4.0, 5.0] * 5, "y": [0, 1] * 12 + [0]})
    data = clean(_dataset(frame))
    assert data.features["x"].isna().sum() == 10
    assert "column 'x': 10 values beyond ±1e18 (too large for the model's float32 inputs and " \
           "their scaling) read as missing" in data.notes
    converted = convert_column(pd.Series(["1e39", "3e18", "-1e18", "7"]), "numeric")
    assert converted.isna().tolist() == [True, True, False, False]


def test_all_missing_target():
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [None, None, None]})
    with pytest.raises(DataError, match="every row is missing it"):
        clean(_dataset(frame))


def test_every_feature_dropped():
    frame = pd.DataFrame({"c": [1] * 30, "y": [0, 1] * 15})
    with pytest.raises(DataError, match="No usable feature column"):
        clean(_dataset(frame))


@pytest.mark.parametrize(
    ("values", "kind"),
    [([1.0, 2.5, None], "numeric"), (["yes", "no", "yes"], "boolean"),
     (["red", "blue", None], "categorical"), ([True, False, True], "boolean")],
    ids=["numeric", "yes-no", "text", "bool"],
)
def test_infer_kind(values, kind):
    assert infer_kind(pd.Series(values)) == kind


def test_convert_boolean_text():
    out = convert_column(pd.Series(["Yes", "no", None, " YES "]), "boolean")
    assert out.tolist()[:2] == [1.0, 0.0] and np.isnan(out[2]) and out[3] == 1.0


def test_empty_columns_and_named_ids_are_dropped_other_distinct_integers_kept():
    n = 60
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "customer_id": rng.choice(np.arange(10_000, 99_999), n, replace=False),  # sparse ids
        "amount": rng.choice(np.arange(10_000, 99_999), n, replace=False),  # same, not named id
        "notes": [None] * n,  # nothing at all
        "x": rng.normal(size=n),
        "y": rng.choice(["a", "b"], n),
    })
    data = clean(_dataset(frame))
    assert [c.name for c in data.columns] == ["amount", "x"]
    assert data.dropped["notes"] == "empty: no values"
    assert data.dropped["customer_id"].startswith("ID-like")


@pytest.mark.parametrize(("text_rows", "kind"), [(4, "numeric"), (10, "categorical")],
                         ids=["4%-text", "10%-text"])
def test_a_numeric_column_tolerates_up_to_5_percent_of_text(text_rows, kind):
    values = [str(v) for v in np.arange(100 - text_rows) / 7] + ["abc"] * text_rows
    assert infer_kind(pd.Series(values, dtype=object)) == kind


def test_na_placeholders_in_a_csv_are_missing(tmp_path):
    from data.loading import load_csv

    rows = [f"{i / 3:.3f},{'n/a' if i % 10 == 0 else i % 4},{i % 2}" for i in range(40)]
    (tmp_path / "d.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    data = clean(load_csv(tmp_path / "d.csv", "y"))
    assert {c.name: c.kind for c in data.columns} == {"a": "numeric", "b": "numeric"}
    assert int(data.features["b"].isna().sum()) == 4


def test_rows_with_an_infinite_target_are_dropped_with_a_note():
    frame = pd.DataFrame({"x": np.arange(30.0) % 7, "y": np.linspace(0.0, 1.0, 30)})
    frame.loc[[2, 9], "y"] = np.inf
    frame.loc[4, "y"] = -np.inf
    frame.loc[5, "y"] = np.nan
    data = clean(_dataset(frame))
    assert len(data.target) == 26 and np.isfinite(data.target).all()
    assert len(data.features) == 26 and 2 not in data.features.index
    assert "dropped 3 of 30 rows whose target 'y' is infinite (inf or -inf)" in data.notes
    assert "dropped 1 of 30 rows whose target 'y' is missing" in data.notes


def test_a_target_with_no_finite_value_is_an_error():
    frame = pd.DataFrame({"x": np.arange(30.0), "y": [np.inf, -np.inf, np.nan] * 10})
    with pytest.raises(DataError, match=r"has no values: every row is missing it or holds an "
                                        r"infinite value \(20 inf or -inf\)"):
        clean(_dataset(frame))


def _ids_frame(column: list, n: int) -> pd.DataFrame:
    return pd.DataFrame({"c": column, "x": np.arange(n) % 5 * 1.5, "y": ["a", "b"] * (n // 2)})


@pytest.mark.parametrize(("distinct", "dropped"), [(92, False), (96, True)],
                         ids=["92%-distinct", "96%-distinct"])
def test_text_is_id_like_from_95_percent_distinct_values(distinct, dropped):
    names = [f"name {i}" for i in range(distinct)] + ["name 0"] * (100 - distinct)
    data = clean(_dataset(_ids_frame(names, 100)))
    assert ("c" in data.dropped) is dropped


@pytest.mark.parametrize(("rows", "dropped"), [(18, False), (20, True)], ids=["18-rows", "20-rows"])
def test_id_detection_needs_20_rows(rows, dropped):
    data = clean(_dataset(_ids_frame([f"name {i}" for i in range(rows)], rows)))
    assert ("c" in data.dropped) is dropped


@pytest.mark.parametrize(("spread", "dropped"), [(1.1, True), (1.3, False)],
                         ids=["range-1.1n", "range-1.3n"])
def test_distinct_integers_are_row_numbers_when_their_range_is_at_most_1_1_rows(spread, dropped):
    n = 100
    values = np.round(np.linspace(0, spread * n - 1, n)).astype(int)
    assert len(set(values)) == n
    data = clean(_dataset(_ids_frame(list(values), n)))
    assert ("c" in data.dropped) is dropped


def test_numbers_written_with_currency_thousands_commas_or_percent_are_numeric():
    from data.cleaning import read_numbers

    text = pd.Series(["$1,234.50", "-$12", "$-4.5", "€ 1,000,000", "45%", "1,000", "3e2",
                      "1,5", "12,34", "1,0000", "--3", "abc", None], dtype=object)
    assert read_numbers(text).tolist()[:7] == [1234.5, -12.0, -4.5, 1e6, 45.0, 1000.0, 300.0]
    # A decimal comma or a broken grouping is not a thousands separator; two signs are junk.
    assert read_numbers(text).iloc[7:].isna().all()

    rows = 40
    frame = pd.DataFrame({
        "price": [f"${v * 1037.25:,.2f}" for v in range(rows)],
        "share": [f"{v % 17}%" for v in range(rows)],
        "y": [v % 2 for v in range(rows)],
    })
    data = clean(Dataset(frame, "y", "test.csv", "test"))
    assert {c.name: c.kind for c in data.columns} == {"price": "numeric", "share": "numeric"}
    assert data.features["price"].iloc[3] == 3111.75 and data.features["share"].iloc[20] == 3.0
    assert "price" not in data.dropped  # distinct in every row, but numbers, not an ID
    assert ("column 'price': numbers with a currency sign, thousands commas or a percent sign "
            "read as numbers (e.g. '$1,037.25' = 1037.25)") in data.notes
    # Predicting reads them the same way.
    assert convert_column(pd.Series(["$2,000.50", "7%"]), "numeric").tolist() == [2000.5, 7.0]


def test_a_target_of_formatted_numbers_is_numbers_not_a_class_per_price():
    rows = 30
    frame = pd.DataFrame({"x": [v % 7 for v in range(rows)],
                          "price": [f"${v * 1250.5:,.2f}" for v in range(rows)]})
    data = clean(Dataset(frame, "price", "test.csv", "test"))
    assert data.target.dtype == np.float64 and data.target.iloc[2] == 2501.0
    assert any(n.startswith("target 'price': numbers with a currency sign") for n in data.notes)
    # Text labels, even with one number-like value among them, stay labels.
    frame["price"] = ["$1,000"] + ["cheap", "dear"] * 14 + ["dear"]
    labels = clean(Dataset(frame, "price", "test.csv", "test")).target
    assert labels.tolist()[:2] == ["$1,000", "cheap"]


def _warned(frame: pd.DataFrame, start: str) -> list[str]:
    return [n for n in clean(_dataset(frame)).notes if n.startswith(start)]


def test_a_copy_of_the_target_is_named_as_a_possible_leak():
    rng = np.random.default_rng(0)
    n = 200
    y = rng.choice(["no", "yes"], n)
    regression = rng.normal(size=n)
    honest = rng.normal(size=n)
    frame = pd.DataFrame({"Y": y == "yes", "code": np.where(y == "yes", "A7", "B2"),
                          "x": honest, "y": y})
    assert len(_warned(frame, "column 'Y' determines the target on every row")) == 1
    assert len(_warned(frame, "column 'code' determines the target on every row (each of its "
                              "2 values has one)")) == 1
    assert not _warned(frame, "column 'x'")
    frame = pd.DataFrame({"cents": regression * 100 + 5, "x": honest, "y": regression})
    assert _warned(frame, "column 'cents' is the target up to scale (correlation 1.00000)")
    assert not _warned(frame, "column 'x'")
    # One wrong row is no longer a copy: the rule is for what predicts every row.
    y2 = y.copy()
    y2[0] = "no" if y[0] == "yes" else "yes"
    assert not _warned(pd.DataFrame({"Y": y == "yes", "x": honest, "y": y2}), "column 'Y'")


def test_repeated_dates_kept_as_a_category_are_named():
    rng = np.random.default_rng(1)
    days = pd.date_range("2024-01-01", periods=60).strftime("%Y-%m-%d")
    frame = pd.DataFrame({"day": rng.choice(days, 300), "x": rng.normal(size=300),
                          "y": rng.choice([0, 1], 300)})
    data = clean(_dataset(frame))
    assert [c.kind for c in data.columns] == ["categorical", "numeric"]
    assert any(n.startswith("column 'day' reads as dates (60 distinct) and is used as a "
                            "category") for n in data.notes)
    frame["day"] = rng.choice(["north", "south 2", "east"], 300)
    assert not _warned(frame, "column 'day'")


def test_labels_that_differ_only_in_case_are_named():
    frame = pd.DataFrame({"x": np.arange(40.0) % 7, "y": ["Yes", "yes ", "YES", "no"] * 10})
    assert _warned(frame, "target 'y': labels that differ only in case are separate classes "
                          "('YES', 'Yes', 'yes')")
    frame["y"] = ["yes", "no"] * 20
    assert not _warned(frame, "target 'y'")


def test_numbers_whose_differences_float32_cannot_hold_are_named():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"t": 1e9 + rng.normal(size=100), "stamp": 1.7e9 + rng.normal(
        0, 1e7, 100), "y": rng.choice([0, 1], 100)})
    notes = clean(_dataset(frame)).notes
    assert any(n.startswith("column 't': its values differ by about 0.956 next to magnitudes of "
                            "1e+09") for n in notes), notes
    assert not any(n.startswith("column 'stamp'") for n in notes)
