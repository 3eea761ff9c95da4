"""Decide each column's kind and drop what cannot help: IDs, constants, rows without a target."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.errors import DataError
from data.loading import MISSING_MARKERS, Dataset

KINDS = ("numeric", "boolean", "categorical")

# A text column with a distinct value in at least this share of its rows is an ID or free text.
_ID_DISTINCT_SHARE = 0.95
# ID detection needs enough rows to mean anything.
_ID_MIN_ROWS = 20
# An ID-like text column whose sampled values read as dates at least this often is dates.
_DATES_SHARE = 0.95
# A text column whose values parse as numbers in at least this share is numeric with junk
# placeholders ("?", "n/a") that are read as missing.
_NUMERIC_SHARE = 0.95
_ID_NAME = re.compile(r"^(id|index|idx|row|row_?id|row_?num(ber)?|unnamed: ?0)$|(_|\b)id$", re.I)
# A number written for people: a currency sign before it, thousands grouped by commas, a
# percent sign after it ("$1,234.50", "-€ 12", "45%", "1,000"). Read as the plain number (45%
# as 45). Groups must be of three digits, so a decimal comma ("1,5") stays text.
_FORMATTED_NUMBER = re.compile(
    r"^([-+]?)\s*[$€£¥]?\s*([-+]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*%?$")
_TRUE = {"true", "t", "yes", "y"}
_FALSE = {"false", "f", "no", "n"}


@dataclass(frozen=True)
class Column:
    """A feature column the model will use.

    Attributes:
        name: the column's name in the data.
        kind: "numeric", "boolean" (read as 1/0) or "categorical" (text).
    """

    name: str
    kind: str


@dataclass(frozen=True)
class CleanData:
    """Features and target ready to split.

    Attributes:
        features: the kept feature columns, converted by `convert_column`.
        target: the target, rows with a missing target removed.
        columns: the kept feature columns with their kinds, in data order.
        dropped: column name -> why it was left out.
        notes: warnings for the console and the report.
    """

    features: pd.DataFrame
    target: pd.Series
    columns: tuple[Column, ...]
    dropped: dict[str, str]
    notes: tuple[str, ...]


def _is_text(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def _text_values(series: pd.Series) -> pd.Series:
    return series.dropna().astype(str).str.strip()


def _is_boolean(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return True
    if not _is_text(series):
        return False
    values = set(_text_values(series).str.lower().unique())
    return len(values) == 2 and values <= (_TRUE | _FALSE) and bool(values & _TRUE)


def read_numbers(text: pd.Series) -> pd.Series:
    """Text read as numbers (NaN where it is none): plain numbers as pandas reads them, and
    numbers with a currency sign, thousands commas or a percent sign (`_FORMATTED_NUMBER`)."""
    numbers = pd.to_numeric(text, errors="coerce")
    unread = numbers.isna() & text.notna()
    if unread.any():
        parts = text[unread].astype(str).str.strip().str.extract(_FORMATTED_NUMBER)
        signs = parts[0].fillna("") + parts[1].fillna("")  # one sign, before or after "$"
        digits = (signs + parts[2].str.replace(",", "", regex=False) + parts[3].fillna(""))
        numbers = numbers.astype(np.float64)
        numbers[unread] = pd.to_numeric(
            digits.where(parts[2].notna() & (signs.str.len() <= 1)), errors="coerce")
    return numbers


def _formatted_example(series: pd.Series) -> str | None:
    """"'$1,234.50' = 1234.5" for a value that only `_FORMATTED_NUMBER` reads (the first with a
    thousands comma, else the longest of the first thousand), or None."""
    text = _text_values(series)
    text = text[pd.to_numeric(text, errors="coerce").isna()].head(1000)
    numbers = read_numbers(text)
    read = text[numbers.notna()]
    if read.empty:
        return None
    grouped = read[read.str.contains(",", regex=False)]
    value = grouped.iloc[0] if not grouped.empty else read.loc[read.str.len().idxmax()]
    return f"'{value}' = {numbers[read.index[read == value][0]]:g}"


def _numeric_share(series: pd.Series) -> float:
    text = _text_values(series)
    text = text[(text != "") & ~text.str.lower().isin(MISSING_MARKERS)]
    if text.empty:
        return 0.0
    return float(read_numbers(text).notna().mean())


def infer_kind(series: pd.Series) -> str:
    """The kind of one feature column: "boolean", "numeric" or "categorical"."""
    if _is_boolean(series):
        return "boolean"
    if not _is_text(series) or _numeric_share(series) >= _NUMERIC_SHARE:
        return "numeric"
    return "categorical"


def convert_column(series: pd.Series, kind: str) -> pd.Series:
    """Convert raw values to the column's kind; used for training and prediction alike.

    Numeric and boolean columns become float64 with NaN for missing (infinite values and
    unparsable text count as missing); categorical columns become stripped strings with NaN
    for missing.
    """
    if kind == "categorical":
        text = series.astype(object).where(series.notna(), None)
        text = pd.Series(
            [None if v is None else str(v).strip() for v in text], index=series.index, dtype=object
        )
        return text.where(text != "", np.nan)
    if kind == "boolean":
        if pd.api.types.is_bool_dtype(series):
            return series.astype(np.float64)
        lowered = series.astype(object).map(lambda v: str(v).strip().lower() if pd.notna(v) else v)
        return lowered.map(
            lambda v: (
                1.0
                if v in _TRUE or v in ("1", "1.0")
                else (0.0 if v in _FALSE or v in ("0", "0.0") else np.nan)
            )
        ).astype(np.float64)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype(np.float64)
    else:
        values = read_numbers(
            series.astype(object).map(lambda v: str(v).strip() if pd.notna(v) else v)
        ).astype(np.float64)
    return values.where(_representable(values.to_numpy()), np.nan)


# The largest magnitude a numeric input may have: the model's inputs are float32 (at most
# 3.4e38) and its standardization holds each column's variance in float32 too, so σ must stay
# below 1.8e19.
_LARGEST = 1e18


def _representable(numbers: np.ndarray) -> np.ndarray:
    """True where a number is finite and within ±1e18 (`_LARGEST`)."""
    return np.isfinite(numbers) & (np.abs(numbers) <= _LARGEST)


def _dates(values: pd.Series) -> bool:
    """True when (a sample of) a text column's values read as dates or times."""
    sample = values.head(200).astype(str)
    if not sample.str.contains(r"\d").all():
        return False
    try:
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    except (ValueError, TypeError, OverflowError):
        return False
    return bool(parsed.notna().mean() >= _DATES_SHARE)


def _id_reason(name: str, series: pd.Series, kind: str) -> str | None:
    values = series.dropna()
    n = len(values)
    if n < _ID_MIN_ROWS:
        return None
    distinct = values.nunique()
    if kind == "categorical" and distinct >= _ID_DISTINCT_SHARE * n:
        if _dates(values):
            return (f"dates or times, {distinct} distinct in {n} rows: the tool does not make "
                    "features of dates; add columns such as year, month or weekday to use them")
        return f"ID-like: {distinct} distinct values in {n} rows"
    if kind == "numeric" and distinct == n:
        numbers = pd.to_numeric(values, errors="coerce")
        integral = bool(np.all(numbers == np.round(numbers)))
        dense = integral and (numbers.max() - numbers.min() + 1) <= 1.1 * n
        if integral and (dense or _ID_NAME.search(name)):
            return f"ID-like: a distinct integer in every one of its {n} rows"
    return None


def _formatted_target_as_numbers(
    frame: pd.DataFrame, target: str, notes: list[str]
) -> pd.DataFrame:
    """A text target whose every value is a number written for people ("$1,234.50") becomes
    those numbers, with a note: the values of a price, not a class for each price."""
    y = frame[target]
    if not _is_text(y) or _is_boolean(y):
        return frame
    text = y.astype(object).map(lambda v: str(v).strip() if pd.notna(v) else v)
    numbers = read_numbers(text)
    if numbers.isna().any() or not pd.to_numeric(text, errors="coerce").isna().any():
        return frame  # some value is no number, or pandas would have read them all itself
    notes.append(f"target '{target}': numbers with a currency sign, thousands commas or a "
                 f"percent sign read as numbers (e.g. {_formatted_example(y)})")
    return frame.assign(**{target: numbers.astype(np.float64)})


def _drop_missing_target(frame: pd.DataFrame, target: str, notes: list[str]) -> pd.DataFrame:
    y = frame[target]
    missing = y.isna()
    infinite = pd.Series(False, index=y.index)
    if _is_text(y):
        missing |= y.astype(str).str.strip().eq("")
    elif not pd.api.types.is_bool_dtype(y):
        # An infinite target cannot be learned (every trial's loss is inf): dropped like a gap.
        infinite = pd.Series(np.isinf(y.to_numpy(dtype=np.float64, na_value=np.nan)), y.index)
    if (missing | infinite).all():
        what = "every row is missing it" if not infinite.any() else (
            f"every row is missing it or holds an infinite value ({int(infinite.sum())} inf "
            "or -inf)"
        )
        raise DataError(
            f"Target column '{target}' has no values: {what}. "
            "Pass --target with a column that holds the values to predict."
        )
    if missing.any():
        notes.append(
            f"dropped {int(missing.sum())} of {len(y)} rows whose target '{target}' is missing"
        )
    if infinite.any():
        notes.append(
            f"dropped {int(infinite.sum())} of {len(y)} rows whose target '{target}' is "
            "infinite (inf or -inf)"
        )
    frame = frame.loc[~(missing | infinite)]
    if _is_text(y):
        frame = frame.assign(**{target: frame[target].astype(str).str.strip()})
    return frame


# A feature whose values each hold a single target value, over at least this many rows per
# value on average, or whose correlation with a numeric target is at least this, is named as a
# possible leak (a copy of the target, or something known only once it is).
_LEAK_ROWS_PER_VALUE = 4
_LEAK_CORRELATION = 0.99999
# Dates kept as a category are named when they have more distinct values than this (a few
# months, "Jan-2018", work as categories).
_DATES_AS_CATEGORY = 24
# Float32 (the model's inputs) holds about 7 significant digits: a column whose spread is
# below this share of its magnitude loses its differences there.
_FLOAT32_RESOLUTION = 2.0**-20


def _kept_column_notes(
    name: str, values: pd.Series, kind: str, target: pd.Series
) -> list[str]:
    """Warnings on a kept feature column: a likely leak, dates kept as a category, numbers
    whose differences float32 cannot hold."""
    notes = []
    leak = _leak(values, target)
    if leak:
        notes.append(f"column '{name}' {leak}: if it is a copy of the target or known only "
                     "once the target is, it leaks the answer; leave it out with --drop")
    present = values.dropna()
    distinct = present.nunique()
    if kind == "categorical" and distinct > _DATES_AS_CATEGORY and _dates(present):
        notes.append(f"column '{name}' reads as dates ({distinct} distinct) and is "
                     "used as a category: dates not seen in training share one slot; add "
                     "columns such as year, month or weekday to use them as numbers")
    if kind == "numeric" and len(present) > 1:
        spread, size = float(present.std()), float(present.abs().max())
        if 0 < spread < _FLOAT32_RESOLUTION * size:
            notes.append(f"column '{name}': its values differ by about {spread:.3g} next to "
                         f"magnitudes of {size:.3g}, below what the model's float32 inputs "
                         "hold (about 7 digits); subtract a constant from the column first")
    return notes


def _leak(values: pd.Series, target: pd.Series) -> str | None:
    """How the column predicts the target on every row, or None."""
    both = values.notna()
    x, y = values[both], target[both]
    n = len(x)
    if n < _ID_MIN_ROWS or n < 0.9 * len(values) or y.nunique() < 2:
        return None
    numeric_target = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if numeric_target and pd.api.types.is_numeric_dtype(x) and x.nunique() > 1:
        r = float(np.corrcoef(x.to_numpy(np.float64), y.to_numpy(np.float64))[0, 1])
        if abs(r) >= _LEAK_CORRELATION:
            return f"is the target up to scale (correlation {r:.5f})"
    distinct = x.nunique()
    if 1 < distinct <= n / _LEAK_ROWS_PER_VALUE and (y.groupby(x).nunique() == 1).all():
        return f"determines the target on every row (each of its {distinct} values has one)"
    return None


def _label_case_notes(target: pd.Series) -> list[str]:
    """A warning for text labels that differ only in case ("Yes", "yes", "YES")."""
    if not _is_text(target):
        return []
    labels = pd.Series(target.dropna().astype(str).unique())
    groups = labels.groupby(labels.str.casefold()).agg(list)
    clashes = [sorted(g) for g in groups if len(g) > 1]
    if not clashes:
        return []
    shown = "; ".join(", ".join(repr(v) for v in g) for g in clashes[:3])
    return [f"target '{target.name}': labels that differ only in case are separate classes "
            f"({shown}); if they mean the same, write them alike in the file"]


def clean(dataset: Dataset) -> CleanData:
    """Choose feature kinds and drop unusable columns and rows, with a note for each.

    Raises:
        DataError: if the target is all missing or no usable feature column is left.
    """
    notes: list[str] = list(dataset.notes)
    frame = _drop_missing_target(dataset.frame, dataset.target, notes)
    frame = _formatted_target_as_numbers(frame, dataset.target, notes)
    notes.extend(_label_case_notes(frame[dataset.target]))
    dropped: dict[str, str] = {}
    columns: list[Column] = []
    converted: dict[str, pd.Series] = {}
    for name in frame.columns:
        if name == dataset.target:
            continue
        raw = frame[name]
        kind = infer_kind(raw)
        values = convert_column(raw, kind)
        if kind == "numeric" and _is_text(raw):
            bad = int((values.isna() & raw.notna()).sum())
            if bad:
                notes.append(f"column '{name}': {bad} non-numeric values read as missing")
            formatted = _formatted_example(raw)
            if formatted:
                notes.append(f"column '{name}': numbers with a currency sign, thousands commas "
                             f"or a percent sign read as numbers (e.g. {formatted})")
        elif kind == "numeric":
            numbers = raw.to_numpy(dtype=np.float64, na_value=np.nan)
            infinite = int(np.isinf(numbers).sum())
            if infinite:
                notes.append(f"column '{name}': {infinite} infinite values read as missing")
            huge = int((np.isfinite(numbers) & ~_representable(numbers)).sum())
            if huge:
                notes.append(f"column '{name}': {huge} values beyond ±1e18 (too large for the "
                             "model's float32 inputs and their scaling) read as missing")
        reason = None
        if values.nunique(dropna=True) <= 1:
            reason = "constant: a single value" if values.notna().any() else "empty: no values"
        else:
            reason = _id_reason(name, values, kind)
        if reason:
            dropped[name] = reason
            notes.append(f"dropped column '{name}' ({reason})")
            continue
        columns.append(Column(name, kind))
        converted[name] = values
        notes.extend(_kept_column_notes(name, values, kind, frame[dataset.target]))
    if not columns:
        detail = (
            "; ".join(f"'{k}': {v}" for k, v in dropped.items()) or "the target is the only column"
        )
        raise DataError(
            f"No usable feature column is left ({detail}). The model needs at least one column "
            "that varies; check --drop and the file's contents."
        )
    features = pd.DataFrame(converted, index=frame.index)
    return CleanData(features, frame[dataset.target], tuple(columns), dropped, tuple(notes))
