"""EncodedSplits.predict: the network's output on a split, as model.predict gives it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from data import encoding
from data.encoding import EncodedSplits


@pytest.mark.parametrize("rows", [1, 20, 23])
def test_predict_in_blocks_equals_model_predict_in_original_units(monkeypatch, seed, rows):
    monkeypatch.setattr(encoding, "_PREDICT_ROWS", 7)  # several blocks, the last one partial
    x = np.random.default_rng(0).normal(size=(rows, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    encoded = EncodedSplits(preprocessing=None, preprocessing_model=None, x={"test": x}, y={},
                            target_mean=10.0, target_std=2.0)
    output = encoded.predict(model, "test")
    expected = model.predict(x, verbose=0).astype(np.float64) * 2.0 + 10.0
    assert output.shape == (rows, 1) and output.dtype == np.float64
    np.testing.assert_allclose(output, expected, rtol=1e-6)  # dropout is off when predicting
