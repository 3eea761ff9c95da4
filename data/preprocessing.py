"""Preprocessing learned on the training split only, as Keras layers that also serve raw rows.

Numeric and boolean columns: missing values are filled with the training mean (plus a 0/1
"was missing" feature when training had gaps), then normalized as (x - μ) / σ with the
training split's μ and σ. Categorical columns: one-hot over the training split's most frequent
values, with one extra slot for values never seen in training. The statistics are computed once
per run and written into fixed-weight Keras layers (`Normalization`, `StringLookup`), so the
exported model applies exactly the transform the network was trained on.

Many-valued categorical columns (more than `TARGET_ENCODING_MIN_VALUES` distinct training
values, i.e. more than one-hot's `MAX_CATEGORIES` slots hold) also get a target encoding: per
value, the mean of the training target (binary: P(classes[1]); multiclass: one column per
class; regression: the standardized target as the network learns it) shrunk toward the training
mean by the value's count, m-estimate (n·mean + m·prior) / (n + m) with m the empirical-Bayes
ratio of the within-value to the between-value variance (`target_encoding_table`), provided
the training split's out-of-fold encoding predicts the training target at all (it removes at
least `TARGET_ENCODING_MIN_GAIN` of its squared error around the mean). Values the
training split never had (or beyond its `MAX_TARGET_VALUES` most frequent) get the prior. The
table is the weights of a fixed `Embedding` after `StringLookup(output_mode="int")`: standard
layers, so the exported model still loads with `safe_mode=True` and no project code. The
training rows' own encodings come out of fold (`out_of_fold_encoding`, 5 folds of the training
split: no row sees its own target); validation, test and the exported model use the table of
the whole training split. `data.encoding.encode_splits` adds it once the target is known.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from data.cleaning import Column, convert_column
from data.numeric_encoding import encode_block, fit_knots

if TYPE_CHECKING:
    import keras

# Categories kept per column (most frequent first); rarer values share the unseen slot.
MAX_CATEGORIES = 100
# What a missing categorical value is called inside the model.
MISSING_CATEGORY = ""
# A categorical column with more distinct training values than this also gets a target encoding
# (README, "Quality": measured on the benchmark's many-valued tables); at or below it, one-hot
# already gives every training value its own slot.
TARGET_ENCODING_MIN_VALUES = MAX_CATEGORIES
# ... and only when its out-of-fold encoding removes at least this share of the training target's
# squared error around the mean (README, "Quality": loans' job titles, 0.03 %, were left out).
TARGET_ENCODING_MIN_GAIN = 0.01
# Values with a target-encoding row of their own (most frequent first); rarer ones get the prior.
MAX_TARGET_VALUES = 10_000
# Folds of the training split for the training rows' out-of-fold target encodings.
TARGET_ENCODING_FOLDS = 5
# Bounds of the m-estimate's m (pseudo-rows of the prior), empirical-Bayes estimated per column.
_M_BOUNDS = (1.0, 1000.0)


@dataclass(frozen=True)
class FeatureSpec:
    """How one raw column becomes model features; learned on the training split.

    Attributes:
        name: the column's name in the data.
        kind: "numeric", "boolean" or "categorical".
        input_name: the Keras input's name (column names sanitized for SavedModel signatures).
        fill: numeric/boolean: the training mean that replaces missing values.
        mean: numeric/boolean: μ of the filled training values.
        std: numeric/boolean: σ of the filled training values (1 where σ is 0).
        indicator: numeric/boolean: add a 0/1 feature saying the value was missing.
        vocabulary: categorical: the training values that get their own one-hot slot.
        knots: numeric: the distinct training quantiles of the filled values, for the
            quantile and piecewise-linear encodings (`data.numeric_encoding`).
        target_vocabulary: categorical with many values: the training values that get a
            target-encoding row of their own (empty: no target encoding).
        target_encoding: the target-encoding table, one row per value of `target_vocabulary`
            after a first row (the training prior) for any other value; one column per
            target dimension. Its features follow the one-hot slots.
    """

    name: str
    kind: str
    input_name: str
    fill: float = 0.0
    mean: float = 0.0
    std: float = 1.0
    indicator: bool = False
    vocabulary: tuple[str, ...] = ()
    knots: tuple[float, ...] = ()
    target_vocabulary: tuple[str, ...] = ()
    target_encoding: tuple[tuple[float, ...], ...] = ()

    @property
    def target_width(self) -> int:
        """Target-encoding features of this column (0: none)."""
        return len(self.target_encoding[0]) if self.target_encoding else 0

    @property
    def width(self) -> int:
        """How many model features this column becomes."""
        if self.kind == "categorical":
            return len(self.vocabulary) + 1 + self.target_width
        return 2 if self.indicator else 1


@dataclass(frozen=True)
class Preprocessing:
    """Learned preprocessing for every feature column, in data order."""

    features: tuple[FeatureSpec, ...]

    @property
    def width(self) -> int:
        """Number of model features after encoding."""
        return sum(f.width for f in self.features)

    def inputs(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Raw rows to the model's named inputs: float32 (NaN = missing) or strings, shape (n, 1).

        `frame` holds raw or converted columns; columns not used by the model are ignored.
        """
        result: dict[str, np.ndarray] = {}
        for spec in self.features:
            if spec.kind == "categorical":
                array = _category_texts(frame[spec.name]).to_numpy(dtype=object)
            else:
                array = convert_column(frame[spec.name], spec.kind).to_numpy(dtype=np.float32)
            result[spec.input_name] = array.reshape(-1, 1)
        return result

    def unseen_categories(self, frame: pd.DataFrame) -> list[tuple[str, int, list[str]]]:
        """Categorical values in `frame` that training gave no one-hot slot (nor, in a
        target-encoded column, a target-encoding row) of their own.

        The model reads them all as one "other" category, which is right for a rare value and
        worth a warning for a new one (a typo, a renamed category).

        Returns:
            (column, rows holding such values, up to three of them, most frequent first) for
            each categorical column that has any.
        """
        found = []
        for spec in self.features:
            if spec.kind != "categorical":
                continue
            texts = _category_texts(frame[spec.name])
            outside = texts[~texts.isin(spec.vocabulary) & ~texts.isin(spec.target_vocabulary)]
            if len(outside):
                found.append((spec.name, len(outside), list(outside.value_counts().index[:3])))
        return found

    def build(self, numeric_encoding: str = "standard") -> keras.Model:
        """A Keras model from the named raw inputs to the encoded feature matrix.

        `numeric_encoding` (`data.numeric_encoding.ENCODINGS`) sets how numeric columns are
        encoded; with "standard" the features come in column order, otherwise the numeric block
        comes first.

        Numeric and boolean columns are filled and normalized together, as one vector, and the
        result is put back into column order with one gather: one layer per column made the
        graph ~4 nodes per column, which SavedModel export traces several times (digits, 61
        columns: export 4.2 s → 0.8 s, model.keras save 0.7 s → 0.2 s, measured).
        """
        import keras
        from keras import layers, ops

        inputs: dict[str, Any] = {}
        numeric: list[tuple[FeatureSpec, Any, int]] = []  # (spec, input, column in the output)
        blocks, targets = [], []  # encoded blocks, and where each of their columns belongs
        offset = 0
        for spec in self.features:
            dtype = "string" if spec.kind == "categorical" else "float32"
            x = inputs[spec.input_name] = keras.Input(shape=(1,), name=spec.input_name, dtype=dtype)
            if spec.kind != "categorical":
                numeric.append((spec, x, offset))
            else:
                block = layers.StringLookup(
                    vocabulary=list(spec.vocabulary),
                    output_mode="one_hot",
                    name=f"{spec.input_name}_onehot",
                )(x)
                if spec.target_encoding:
                    block = layers.Concatenate(name=f"{spec.input_name}_categorical")(
                        [block, _target_encoding_layers(spec)(x)])
                blocks.append(block)
                targets.extend(range(offset, offset + spec.width))
            offset += spec.width
        if numeric:
            specs = [spec for spec, _, _ in numeric]
            x = (
                numeric[0][1]
                if len(numeric) == 1
                else layers.Concatenate(name="numeric")([x for _, x, _ in numeric])
            )
            missing = ops.isnan(x)
            filled = ops.where(missing, np.array([s.fill for s in specs], np.float32), x)
            standardized = layers.Normalization(
                mean=[s.mean for s in specs],
                variance=[s.std**2 for s in specs],
                name="numeric_norm",
            )(filled)
            blocks.insert(0, encode_block(filled, specs, standardized, numeric_encoding))
            flagged = [i for i, s in enumerate(specs) if s.indicator]
            if flagged:
                flags = (
                    missing if len(flagged) == len(specs) else ops.take(missing, flagged, axis=1)
                )
                blocks.insert(1, ops.cast(flags, "float32"))
            targets[:0] = [at for _, _, at in numeric] + [numeric[i][2] + 1 for i in flagged]
        features = layers.Concatenate(name="features")(blocks) if len(blocks) > 1 else blocks[0]
        order = np.argsort(targets).tolist()
        in_order = order == list(range(len(order)))
        if numeric_encoding == "standard" and not in_order:  # blocks not in column order
            features = ops.take(features, order, axis=1)
        suffix = "" if numeric_encoding == "standard" else f"_{numeric_encoding}"
        name = f"preprocessing{suffix}"
        return keras.Model(inputs, features, name=name)

    def target_encoded_columns(
        self, width: int, numeric_encoding: str = "standard"
    ) -> list[tuple[FeatureSpec, slice]]:
        """Where each target-encoded column's target features sit in an encoded matrix.

        Args:
            width: the matrix's number of features (`build(numeric_encoding)`'s output).
            numeric_encoding: the encoding the matrix was made with: "standard" keeps column
                order; the others put the numeric block first and the categorical blocks, in
                column order, last.
        """
        found = []
        specs = [f for f in self.features if f.kind == "categorical"]
        offset = width - sum(f.width for f in specs)
        if numeric_encoding == "standard":
            specs, offset = list(self.features), 0
        for spec in specs:
            if spec.target_encoding:
                start = offset + len(spec.vocabulary) + 1
                found.append((spec, slice(start, start + spec.target_width)))
            offset += spec.width
        return found

    def to_dict(self) -> list[dict[str, Any]]:
        return [asdict(f) | {"vocabulary": list(f.vocabulary),
                             "target_vocabulary": list(f.target_vocabulary),
                             "target_encoding": [list(row) for row in f.target_encoding]}
                for f in self.features]

    @classmethod
    def from_dict(cls, items: list[dict[str, Any]]) -> Preprocessing:
        """The preprocessing `to_dict` wrote; metadata from before the target encoding (no
        `target_vocabulary`, `target_encoding`) loads as one-hot only, as it was trained."""
        return cls(
            tuple(FeatureSpec(**item | {
                "vocabulary": tuple(item["vocabulary"]),
                "knots": tuple(item.get("knots", ())),
                "target_vocabulary": tuple(item.get("target_vocabulary", ())),
                "target_encoding": tuple(tuple(float(v) for v in row)
                                         for row in item.get("target_encoding", ())),
            }) for item in items)
        )


def _target_encoding_layers(spec: FeatureSpec) -> Any:
    """String input (n, 1) → the column's target-encoding features (n, d), as fixed standard
    layers: `StringLookup` to an index (0 = any value without a row), then `Embedding` whose
    weights are the table, then `Flatten`."""
    from keras import layers

    table = np.asarray(spec.target_encoding, dtype=np.float32)
    lookup = layers.StringLookup(vocabulary=list(spec.target_vocabulary), output_mode="int",
                                 name=f"{spec.input_name}_target_index")
    embedding = layers.Embedding(len(table), table.shape[1], trainable=False,
                                 name=f"{spec.input_name}_target_encoding")
    embedding.build((None, 1))
    embedding.set_weights([table])
    flatten = layers.Flatten(name=f"{spec.input_name}_target_features")
    return lambda x: flatten(embedding(lookup(x)))


def _input_names(names: list[str]) -> list[str]:
    result: list[str] = []
    seen: set[str] = set()
    for name in names:
        # Letters, digits and "_" only: TensorFlow's SavedModel signatures turn "." and "-"
        # into "_" themselves, and two names that meet there ("sq-ft", "sq_ft") fail the export.
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:48].strip("_") or "column"
        if not base[0].isalpha():
            base = f"c_{base}"
        candidate, k = base, 2
        while candidate.lower() in seen:
            candidate, k = f"{base}_{k}", k + 1
        seen.add(candidate.lower())
        result.append(candidate)
    return result


def _category_texts(values: pd.Series) -> pd.Series:
    """A categorical column as the model's string input sees it: missing as its own category."""
    return convert_column(values, "categorical").fillna(MISSING_CATEGORY).astype(str)


def fit_preprocessing(train: pd.DataFrame, columns: tuple[Column, ...]) -> Preprocessing:
    """Learn every column's statistics from the training split.

    Args:
        train: the training split's converted feature columns.
        columns: the feature columns and their kinds.

    Returns:
        The learned preprocessing; nothing from validation or test rows enters it.
    """
    specs = []
    for column, input_name in zip(columns, _input_names([c.name for c in columns]), strict=True):
        values = train[column.name]
        if column.kind == "categorical":
            counts = values.fillna(MISSING_CATEGORY).astype(str).value_counts(sort=True)
            vocab = tuple(sorted(counts.index[:MAX_CATEGORIES], key=lambda v: (-counts[v], v)))
            specs.append(FeatureSpec(column.name, column.kind, input_name, vocabulary=vocab))
            continue
        numbers = values.to_numpy(dtype=np.float64)
        missing = np.isnan(numbers)
        fill = float(np.nanmean(numbers)) if (~missing).any() else 0.0
        filled = np.where(missing, fill, numbers)
        std = float(filled.std())
        specs.append(
            FeatureSpec(
                column.name,
                column.kind,
                input_name,
                fill=fill,
                mean=float(filled.mean()),
                std=std if std > 1e-12 else 1.0,
                indicator=bool(missing.any()),
                knots=fit_knots(filled) if column.kind == "numeric" else (),
            )
        )
    return Preprocessing(tuple(specs))


def target_encoding_table(
    values: pd.Series, targets: np.ndarray, limit: int = MAX_TARGET_VALUES
) -> tuple[tuple[str, ...], np.ndarray]:
    """The m-estimate target encoding of one categorical column from training rows.

    Each value's row is (Σ y + m·prior) / (n + m) over its n rows, the prior being the mean of
    all rows. m is the empirical-Bayes ratio σ²_within / τ²_between (method of moments, summed
    over the target's columns, bounded by `_M_BOUNDS`): a column whose values differ little in
    their targets is shrunk hard toward the prior, one whose values matter keeps their means.

    Args:
        values: the column's texts as the model reads them (`_category_texts`).
        targets: (n, d) float training targets (0/1, one-hot classes or the standardized target).
        limit: most values given a row of their own (most frequent first).

    Returns:
        The values with a row (most frequent first, ties by text) and the table (1 + that many,
        d): row 0, the prior, is for every other value.
    """
    y = np.asarray(targets, dtype=np.float64).reshape(len(values), -1)
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), sort=False)
    counts = np.bincount(codes, minlength=len(uniques)).astype(np.float64)
    sums = np.stack([np.bincount(codes, weights=y[:, j], minlength=len(uniques))
                     for j in range(y.shape[1])], axis=1)
    prior = y.mean(axis=0)
    means = sums / counts[:, None]
    n, c = len(y), len(uniques)
    within = float(((y - means[codes]) ** 2).sum()) / max(n - c, 1)
    spread = float((counts[:, None] * (means - prior) ** 2).sum())
    between = (spread - (c - 1) * within) / max(n - (counts**2).sum() / n, 1e-12)
    m = float(np.clip(within / between, *_M_BOUNDS)) if between > 0 else _M_BOUNDS[1]
    order = sorted(range(c), key=lambda i: (-counts[i], str(uniques[i])))[:limit]
    table = (sums[order] + m * prior) / (counts[order, None] + m)
    return tuple(str(uniques[i]) for i in order), np.vstack([prior, table])


@dataclass(frozen=True)
class TargetEncodingCheck:
    """What a many-valued column's target encoding was found worth on the training split.

    Attributes:
        column: the column's name.
        values: its distinct training values (at most `MAX_TARGET_VALUES` counted).
        gain: the share of the training target's squared error around its mean that the
            out-of-fold encoding removes (1 − MSE(out-of-fold) / MSE(prior); ≤ 0: none).
        kept: the gain reached `TARGET_ENCODING_MIN_GAIN`, so the column has the encoding.
    """

    column: str
    values: int
    gain: float
    kept: bool


def add_target_encoding(
    preprocessing: Preprocessing, train: pd.DataFrame, targets: np.ndarray, folds: np.ndarray
) -> tuple[Preprocessing, dict[str, np.ndarray], list[TargetEncodingCheck]]:
    """`preprocessing` with a target encoding for each categorical column that has more than
    `TARGET_ENCODING_MIN_VALUES` distinct training values and whose out-of-fold encoding
    removes at least `TARGET_ENCODING_MIN_GAIN` of the training target's squared error (a job
    title that says nothing about an interest rate only adds noise); the others unchanged.

    Args:
        preprocessing: fitted on `train` (`fit_preprocessing`).
        train: the training split's converted feature columns.
        targets: (n, d) training targets, as `target_encoding_table` takes them.
        folds: each training row's fold (`fold_of_rows`).

    Returns:
        The preprocessing, the training rows' out-of-fold encodings of each encoded column
        (keyed by input name; `out_of_fold_encoding`) and the check of every many-valued column.
    """
    targets = np.asarray(targets, dtype=np.float64).reshape(len(train), -1)
    prior_error = float(((targets - targets.mean(axis=0)) ** 2).sum())
    specs, out_of_fold, checks = [], {}, []
    for spec in preprocessing.features:
        texts = _category_texts(train[spec.name]) if spec.kind == "categorical" else None
        if texts is not None and texts.nunique() > TARGET_ENCODING_MIN_VALUES:
            vocabulary, table = target_encoding_table(texts, targets)
            candidate = replace(spec, target_vocabulary=vocabulary,
                                target_encoding=tuple(tuple(map(float, row)) for row in table))
            encoded = out_of_fold_encoding(candidate, texts, targets, folds)
            error = float(((targets - encoded) ** 2).sum())
            gain = 1.0 - error / prior_error if prior_error > 0 else 0.0
            kept = gain >= TARGET_ENCODING_MIN_GAIN
            checks.append(TargetEncodingCheck(spec.name, len(vocabulary), gain, kept))
            if kept:
                spec, out_of_fold[spec.input_name] = candidate, encoded
        specs.append(spec)
    return Preprocessing(tuple(specs)), out_of_fold, checks


def fold_of_rows(n: int, folds: int = TARGET_ENCODING_FOLDS) -> np.ndarray:
    """Each training row's fold for the out-of-fold target encodings (a fixed shuffle)."""
    return np.random.default_rng(0).permutation(np.arange(n) % max(1, min(folds, n)))


def out_of_fold_encoding(
    spec: FeatureSpec, texts: pd.Series, targets: np.ndarray, folds: np.ndarray
) -> np.ndarray:
    """The training rows' target encodings of one column (`texts`: its training values as the
    model reads them, `_category_texts`), each row's from the table of the other folds' rows
    (so its own target never enters it): (n, d) float32."""
    result = np.empty((len(texts), spec.target_width), dtype=np.float32)
    for fold in np.unique(folds):
        held = folds == fold
        vocabulary, table = target_encoding_table(texts[~held], np.asarray(targets)[~held])
        rows = pd.Index(vocabulary).get_indexer(texts[held].to_numpy(dtype=object)) + 1
        result[held] = table[rows]  # -1 + 1 = 0: a value the other folds lack gets their prior
    return result


def encode(preprocessing: Preprocessing, model: keras.Model, frame: pd.DataFrame) -> np.ndarray:
    """Run raw rows through the preprocessing model once: the float32 feature matrix."""
    import tensorflow as tf

    inputs = {k: tf.constant(v) for k, v in preprocessing.inputs(frame).items()}
    return np.asarray(model(inputs, training=False), dtype=np.float32)
