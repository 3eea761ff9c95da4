"""Load a CSV file, a pandas DataFrame or one of scikit-learn's bundled datasets into one
validated frame.

A CSV's text is read and parsed here (its encoding, separator, decimal commas); from then on
a CSV and a DataFrame take the same path (`_dataset`): the same header, row, feature and
target checks, then the same cleaning (rows with a missing or infinite target dropped, ...).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import DataError
from data.names import BUNDLED

DEFAULT_DATASET = "breast_cancer"

# Bytes read to sniff the separator and to tell text from binary.
_SNIFF_BYTES = 64 * 1024
_SEPARATORS = ",;\t|"
# Byte-order marks and their encodings; UTF-32's come first (UTF-32-LE's starts like UTF-16-LE's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xef\xbb\xbf", "utf-8"),
)
# "5,2" or "-12,75": a number with a decimal comma (or a whole number) in a file whose fields
# are not separated by commas, where the comma cannot be a thousands separator of a CSV.
_DECIMAL_COMMA = re.compile(r"[-+]?\d+(,\d+)?")
# A text column is read as decimal-comma numbers when this share of its values are such numbers.
_DECIMAL_COMMA_SHARE = 0.95
# Where read_csv names the columns it read with decimal commas.
DECIMAL_COMMA_COLUMNS = "decimal_comma_columns"
# Placeholders for a missing value that pandas does not already read as missing (here, for
# decimal commas; cleaning reads them as missing).
MISSING_MARKERS = {"?", "-", "--", ".", "missing", "unknown", "n.a.", "#n/a", "#value!"}


@dataclass(frozen=True)
class Dataset:
    """Raw rows with a named target, before any cleaning.

    Attributes:
        frame: every column, the target included, as read.
        target: the target column's name.
        source: where the rows came from: a file name or "sklearn:<name>".
        name: a short name for run folders ("breast_cancer", "churn").
        notes: what reading decided that a user should know, for the console and the report.
    """

    frame: pd.DataFrame
    target: str
    source: str
    name: str
    notes: tuple[str, ...] = ()


def load_bundled(name: str) -> Dataset:
    """Load one of scikit-learn's bundled datasets (no network needed).

    Class targets get their names from the dataset where it has them (e.g. "malignant").

    Raises:
        DataError: if `name` is not one of `BUNDLED`.
    """
    from sklearn import datasets

    if name not in BUNDLED:
        raise DataError(
            f"Unknown --dataset '{name}'. Choose one of: {', '.join(BUNDLED)}; "
            "or pass --data FILE --target COLUMN."
        )
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    if name in ("breast_cancer", "iris", "wine"):
        names = np.asarray(bunch.target_names)
        frame["target"] = names[bunch.target.to_numpy()]
    return Dataset(frame, "target", f"sklearn:{name}", name)


def _sniff_separator(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=_SEPARATORS).delimiter
    except csv.Error:
        return ","


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"Data file '{path}' does not exist. Check the path given to --data.")
    if path.is_dir():
        raise DataError(f"--data '{path}' is a folder; pass a CSV file.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read data file '{path}': {exc.strerror}.") from None
    if not raw.strip():
        raise DataError(f"Data file '{path}' is empty. Pass a CSV with a header row and data rows.")
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"Data file '{path}' starts with a {encoding.upper()} byte-order mark but is "
                    f"not valid {encoding.upper()} text (byte {exc.start + len(bom)}). Save it "
                    "again as UTF-8 CSV."
                ) from None
            if not text.strip():
                raise DataError(
                    f"Data file '{path}' is empty. Pass a CSV with a header row and data rows."
                )
            return text
    if b"\x00" in raw[:_SNIFF_BYTES]:
        wide = _utf16_without_bom(raw[:_SNIFF_BYTES])
        if wide:
            raise DataError(
                f"Data file '{path}' looks like {wide} text without a byte-order mark. Save it "
                "as UTF-8 CSV (or as UTF-16 with its byte-order mark)."
            )
        raise DataError(
            f"Data file '{path}' is not a text file (it holds binary data). Pass a CSV file; "
            "export spreadsheets as CSV first."
        )
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"Data file '{path}' is not readable text. Save it as UTF-8 CSV.")


def _utf16_without_bom(head: bytes) -> str:
    """"UTF-16-LE"/"UTF-16-BE" when every other byte is zero, as in ASCII text in UTF-16."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return ""
    zeros = (even.count(0) / len(even), odd.count(0) / len(odd))
    if zeros[1] > 0.9 and zeros[0] < 0.1:
        return "UTF-16-LE"
    if zeros[0] > 0.9 and zeros[1] < 0.1:
        return "UTF-16-BE"
    return ""


def _check_not_other_format(text: str, path: Path) -> None:
    """JSON, HTML and XML read as a CSV give a header of junk; name the format instead."""
    start = text.lstrip()[:64].lower()
    if start.startswith(("{", "[")):
        first_line = text.lstrip().split("\n", 1)[0]
        for candidate in (text, first_line):  # a JSON document, or JSON Lines
            try:
                json.loads(candidate)
            except ValueError:
                continue
            raise DataError(
                f"Data file '{path}' holds JSON, not CSV. Convert it to a CSV with a header row, "
                "e.g. pandas.read_json(path).to_csv('data.csv', index=False)."
            )
    if start.startswith(("<?xml", "<!doctype", "<html")):
        raise DataError(
            f"Data file '{path}' holds HTML or XML, not CSV. Pass a CSV file with a header row."
        )


def _check_rows(text: str, sep: str, n_header: int, path: Path) -> None:
    """Every non-blank row has as many fields as the header.

    pandas silently reads a row with extra fields by turning the first columns into an index,
    which shifts every value into the wrong column, and pads short rows with missing values.
    """
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    next(reader, None)
    for row in reader:
        if row and len(row) != n_header and any(field.strip() for field in row):
            raise DataError(
                f"Data file '{path}' is ragged: line {reader.line_num} has {len(row)} fields but "
                f"the header has {n_header}. Check the separator and quoting, or fix that line."
            )


def _check_header(header: list[str], where: str) -> None:
    """No duplicate or empty column names; `where` names the data in messages."""
    header = [h.strip() for h in header]  # pandas strips them too (skipinitialspace)
    empty = [i + 1 for i, h in enumerate(header) if not h]
    if empty:  # before duplicates: two empty names are not "duplicate column names: ,"
        raise DataError(
            f"{where} has {'a column' if len(empty) == 1 else f'{len(empty)} columns'} with an "
            f"empty name (column {', '.join(map(str, empty))} of the header). Give every "
            "column a header.")
    seen: set[str] = set()
    dupes = sorted({h for h in header if h in seen or seen.add(h)})
    if dupes:
        raise DataError(
            f"{where} has duplicate column names: {', '.join(dupes)}. "
            "Rename them so every column name is unique."
        )


def read_csv(path: str | Path, text_columns: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Read a CSV file with a header row and at least one data row; the separator is detected.

    Training data and rows to predict are both read here, so both get the same checks.

    Args:
        path: the CSV file.
        text_columns: columns to keep as text even where they look like numbers ("007").

    Raises:
        DataError: if the file is missing, not text, JSON/HTML rather than CSV, empty, ragged
            (a row with more or fewer fields than the header), has no data rows, or has
            duplicate or empty column names.
    """
    path = Path(path)
    text = _read_text(path)
    _check_not_other_format(text, path)
    sep = _sniff_separator(text[:_SNIFF_BYTES])
    header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
    _check_header(header, f"Data file '{path}'")
    _check_rows(text, sep, len(header), path)
    dtypes = {name: str for name in header if name.strip() in text_columns}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True, dtype=dtypes)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"Data file '{path}' is not a readable CSV ({reason}). Check that every row has "
            "the same number of separated fields as the header."
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"Data file '{path}' has a header but no data rows. Add rows to it.")
    converted = _read_decimal_commas(frame, sep, text_columns)
    frame.attrs[DECIMAL_COMMA_COLUMNS] = converted
    return frame


def _read_decimal_commas(frame: pd.DataFrame, sep: str, text_columns: frozenset[str]) -> list[str]:
    """Turn text columns of decimal-comma numbers ("5,2") into numbers, in place.

    Only where the separator is not a comma, and only columns that have a comma in some value
    and hold such numbers in at least `_DECIMAL_COMMA_SHARE` of their values; other texts in
    them (placeholders such as "?", which do not count against the share) are left as they
    are, for cleaning to read as missing.

    Returns:
        The names of the columns converted.
    """
    if sep == ",":
        return []
    converted = []
    for name in frame.columns:
        column = frame[name]
        if name in text_columns or pd.api.types.is_numeric_dtype(column) or (
            pd.api.types.is_bool_dtype(column)
        ):
            continue
        text = column.astype(object).map(lambda v: v.strip() if isinstance(v, str) else None)
        present = text.notna() & text.ne("") & ~text.str.lower().isin(MISSING_MARKERS)
        numbers = text.str.fullmatch(_DECIMAL_COMMA).fillna(False).astype(bool) & present
        if not present.any() or not text[numbers].str.contains(",", regex=False).any():
            continue
        if numbers.sum() < _DECIMAL_COMMA_SHARE * present.sum():
            continue
        values = text[numbers].str.replace(",", ".", regex=False).astype(np.float64)
        if not (text.notna() & ~numbers & text.ne("")).any():
            frame[name] = values.reindex(frame.index)
        else:
            frame[name] = column.astype(object).where(~numbers, values)
        converted.append(name)
    return converted


def load_csv(path: str | Path, target: str) -> Dataset:
    """Read a training CSV (see `read_csv`) and check that it has features and the target.

    Raises:
        DataError: on anything `read_csv` rejects, a single column, or a missing target.
    """
    path = Path(path)
    frame = read_csv(path)
    notes = tuple(
        f"column '{name}': numbers with a decimal comma read as numbers (e.g. '5,2' = 5.2)"
        for name in frame.attrs.get(DECIMAL_COMMA_COLUMNS, [])
    )
    return _dataset(
        frame, target, f"Data file '{path}'", path.name, path.stem,
        hint=" Check the separator (comma, semicolon, tab or |).", notes=notes,
    )


def load_frame(frame: pd.DataFrame, target: str, name: str = "dataframe") -> Dataset:
    """Take a pandas DataFrame as training data, checked as a CSV is once its text is read.

    The frame is not changed: a copy gets string column names (as a CSV header has), a fresh
    0..n-1 index, and NumPy types in place of pandas' nullable ones (see `frame_rows`). Its
    texts stay texts: decimal commas ("5,2") are a text file's matter, read by `read_csv`.

    Raises:
        DataError: if it is not a DataFrame, has no rows, duplicate, empty or nested column
            names, a single column, or lacks the target.
    """
    return _dataset(frame_rows(frame), str(target), "The DataFrame", "DataFrame", name)


def frame_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` in the form `read_csv` returns: what the rest of the tool expects.

    Nullable integers and floats become float64 with NaN, nullable booleans and categories
    plain objects, dates and other types text; NumPy numbers, booleans and text stay.

    Raises:
        DataError: if `frame` is not a DataFrame, has nested (MultiIndex) columns, duplicate
            or empty column names, or no rows.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"Expected a pandas DataFrame or a CSV path as the data, got {type(frame).__name__}."
        )
    if isinstance(frame.columns, pd.MultiIndex):
        raise DataError(
            "The DataFrame has nested (MultiIndex) column names. Flatten them to one name per "
            "column first, e.g. frame.columns = ['_'.join(map(str, c)) for c in frame.columns]."
        )
    names = [str(c).strip() for c in frame.columns]
    _check_header(names, "The DataFrame")
    if len(frame) == 0:
        raise DataError("The DataFrame has no rows. Pass a frame with data rows.")
    columns = {}
    for name, (_, series) in zip(names, frame.items(), strict=True):
        columns[name] = _plain(series.reset_index(drop=True))
    return pd.DataFrame(columns)


def _plain(series: pd.Series) -> pd.Series:
    """One column as `read_csv` would give it: NumPy numbers and booleans, or text/objects."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
        return series.copy()
    if pd.api.types.is_bool_dtype(dtype) and not pd.api.types.is_extension_array_dtype(dtype):
        return series.copy()
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        if not pd.api.types.is_extension_array_dtype(dtype):
            return series.copy()
        return pd.Series(series.to_numpy(dtype=np.float64, na_value=np.nan), name=series.name)
    # Nullable booleans, categories, dates, periods, intervals: values as objects, missing NaN.
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        values = series.astype(object)
    else:  # as pandas writes them to a CSV: dates without a midnight time, and so on
        values = series.astype(str).astype(object)
    return values.where(series.notna(), np.nan)


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's contents: column names and types, then every row's values.

    It identifies a DataFrame in settings.json as a CSV's file digest identifies the file, so a
    resume with other rows is refused. Computed on `frame_rows(frame)` (the index does not
    count) with pandas' row hashes, which are fixed for the pinned pandas.
    """
    rows = frame_rows(frame)
    digest = hashlib.sha256()
    digest.update(json.dumps([[c, str(t)] for c, t in rows.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _dataset(
    frame: pd.DataFrame,
    target: str,
    where: str,
    source: str,
    name: str,
    hint: str = "",
    notes: tuple[str, ...] = (),
) -> Dataset:
    """The checks every table gets once it is a frame: features besides the target, and the
    target present. `where` names the data in messages; `hint` ends the single-column one;
    `notes` are what reading the text decided (decimal commas: a CSV's only)."""
    if len(frame.columns) < 2:
        raise DataError(
            f"{where} has a single column ('{frame.columns[0]}'): there are no "
            f"features besides a target.{hint}"
        )
    columns = list(frame.columns)
    if target not in frame.columns:
        raise DataError(
            f"Target column '{target}' not found. Columns are: {_listing(columns)}. "
            "Pass --target with one of them."
        )
    return Dataset(frame, target, source, name, notes)


def drop_columns(dataset: Dataset, drop: tuple[str, ...]) -> Dataset:
    """Leave out the columns named by --drop.

    Raises:
        DataError: if a name is not a column, or is the target.
    """
    columns = list(dataset.frame.columns)
    unknown = [c for c in drop if c not in columns]
    if unknown:
        raise DataError(
            f"--drop names columns that are not in the data: {', '.join(unknown)}. "
            f"Columns are: {_listing(columns)}."
        )
    if dataset.target in drop:
        raise DataError(
            f"--drop names the target '{dataset.target}' itself. Leave it out of --drop."
        )
    frame = dataset.frame.drop(columns=list(drop))
    return Dataset(frame, dataset.target, dataset.source, dataset.name, dataset.notes)


def _listing(columns: list[str], limit: int = 30) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (f" … ({len(columns) - limit} more)" if len(columns) > limit else "")
