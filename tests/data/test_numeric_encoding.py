"""Quantile and piecewise-linear encodings of numeric columns, inside the preprocessing model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.cleaning import Column
from data.preprocessing import encode, fit_preprocessing

COLUMNS = (Column("income", "numeric"), Column("member", "boolean"),
           Column("city", "categorical"))


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"income": rng.lognormal(10, 1.2, n),
                         "member": rng.integers(0, 2, n).astype(float),
                         "city": rng.choice(["a", "b", "c"], n)})


def test_quantile_scores_spread_a_heavy_tailed_column_evenly():
    train = _frame()
    preprocessing = fit_preprocessing(train, COLUMNS)
    standard = encode(preprocessing, preprocessing.build("standard"), train)[:, 0]
    quantile = encode(preprocessing, preprocessing.build("quantile"), train)[:, 0]
    order = np.argsort(train["income"].to_numpy())
    assert (np.diff(quantile[order]) >= -1e-6).all()  # monotone in the raw value
    assert abs(np.median(quantile)) < 0.1 and quantile.std() == pytest.approx(0.95, abs=0.1)
    assert standard.max() > 4 and quantile.max() < 2.5  # the tail is pulled in


def test_piecewise_linear_bins_are_0_below_1_above_and_linear_inside():
    train = _frame()
    preprocessing = fit_preprocessing(train, COLUMNS)
    model = preprocessing.build("ple")
    spec = preprocessing.features[0]
    edges = np.unique(np.concatenate([np.asarray(spec.knots)[::4], spec.knots[-1:]]))
    rows = pd.DataFrame({"income": [edges[0] - 1, (edges[1] + edges[2]) / 2, edges[-1] + 1],
                         "member": [0.0, 1.0, 0.0], "city": ["a", "b", "z"]})
    bins = encode(preprocessing, model, rows)[:, : len(edges) - 1]
    np.testing.assert_allclose(bins[0], 0.0)
    np.testing.assert_allclose(bins[2], 1.0)
    np.testing.assert_allclose(bins[1][:3], [1.0, 0.5, 0.0], atol=1e-6)
    # The boolean is standardized and the category one-hot, as in the standard encoding.
    width = encode(preprocessing, model, rows).shape[1]
    assert width == (len(edges) - 1) + 1 + 4


@pytest.mark.parametrize("encoding", ["quantile", "ple"])
def test_encodings_load_in_safe_mode_and_give_the_same_features(tmp_path, encoding):
    import keras

    train = _frame()
    preprocessing = fit_preprocessing(train, COLUMNS)
    model = preprocessing.build(encoding)
    model.save(tmp_path / "p.keras")
    loaded = keras.models.load_model(tmp_path / "p.keras", safe_mode=True)
    np.testing.assert_allclose(encode(preprocessing, loaded, train),
                               encode(preprocessing, model, train), rtol=1e-6)


def test_knots_come_from_the_training_rows_only():
    train = _frame(seed=0)
    other = _frame(seed=1).assign(income=lambda f: f["income"] * 100)
    a = fit_preprocessing(train, COLUMNS).features[0].knots
    b = fit_preprocessing(pd.concat([train, other]), COLUMNS).features[0].knots
    assert max(a) == pytest.approx(train["income"].max()) and max(b) > max(a)


def test_wide_tables_get_fewer_bins_per_column():
    from data.numeric_encoding import ple_bins

    assert [ple_bins(n) for n in (1, 30, 32, 33, 64, 200)] == [8, 8, 8, 4, 4, 2]
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(200, 64)), columns=[f"p{i}" for i in range(64)])
    columns = tuple(Column(c, "numeric") for c in wide)
    preprocessing = fit_preprocessing(wide, columns)
    assert encode(preprocessing, preprocessing.build("ple"), wide).shape == (200, 64 * 4)
