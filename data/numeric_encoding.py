"""Numeric encodings the search can choose between: standardized, quantile scores, piecewise-linear.

* `standard`: (x − μ) / σ with the training split's μ and σ.
* `quantile`: the training split's quantile function mapped to normal scores (a rank-Gauss
  transform): a heavy-tailed column's rows spread evenly instead of a few far out.
* `ple`: piecewise-linear encoding (Gorishniy et al. 2022, "On Embeddings for Numerical Features
  in Tabular Deep Learning"): one feature per bin between training quantiles, 0 below the bin,
  1 above it, linear inside, so the network can bend its response where the data is dense.

All three are computed from the filled numeric vector with Keras ops (ReLU sums, clipping), so
they live inside the exported model as standard layers and load with `safe_mode=True`. Boolean
columns and columns with fewer than two distinct training quantiles are standardized in every
encoding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from common.space import NUMERIC_ENCODINGS as ENCODINGS  # noqa: F401 - the names, re-exported

# Quantile knots learned per numeric column (levels 0, 1/32, ..., 1).
QUANTILE_LEVELS = 33
# Piecewise-linear bins per column: 8, or fewer (4, 2) so that a wide table's encoding stays
# within about PLE_FEATURES features (64 pixel columns would otherwise make 512 inputs).
PLE_BINS = 8
PLE_FEATURES = 256


def ple_bins(columns: int) -> int:
    """Bins per column for `columns` encoded numeric columns: 8, 4 or 2."""
    bins = PLE_BINS
    while bins > 2 and bins * columns > PLE_FEATURES:
        bins //= 2
    return bins


def fit_knots(filled: np.ndarray) -> tuple[float, ...]:
    """A numeric column's distinct training quantiles at `QUANTILE_LEVELS` levels."""
    knots = np.unique(np.quantile(filled, np.linspace(0.0, 1.0, QUANTILE_LEVELS)))
    return tuple(float(k) for k in knots)


def _levels(knots: np.ndarray, n_levels: int = QUANTILE_LEVELS) -> np.ndarray:
    """Normal scores of the knots' quantile levels (ties dropped, so the levels are estimated
    as the knots' mean positions among the original levels)."""
    from scipy.stats import norm

    levels = np.linspace(0.0, 1.0, len(knots))
    eps = 0.5 / n_levels
    return norm.ppf(np.clip(levels, eps, 1 - eps))


def _pad(rows: list[np.ndarray], value: float | None = None) -> np.ndarray:
    """Stack ragged rows into (d, M), padding each with `value` (None: its last value)."""
    width = max(len(r) for r in rows)
    return np.array(
        [np.concatenate([r, np.full(width - len(r), r[-1] if value is None else value)])
         for r in rows], dtype=np.float32)


def encode_block(filled: Any, specs: list[Any], standardized: Any, encoding: str) -> Any:
    """The numeric block of the feature matrix in `encoding`.

    Args:
        filled: (n, d) float32 tensor of the numeric and boolean columns, missing values filled.
        specs: their `FeatureSpec`s (`knots` holds the training quantiles).
        standardized: the same columns standardized, (n, d): the `standard` encoding.
        encoding: one of `ENCODINGS`.

    Returns:
        A tensor (n, d) for standard and quantile, (n, d + Σ bins − encoded columns) for ple.
    """
    from keras import ops

    if encoding == "standard":
        return standardized
    chosen = [i for i, s in enumerate(specs) if s.kind == "numeric" and len(s.knots) >= 2]
    if not chosen:
        return standardized
    kept = [i for i in range(len(specs)) if i not in chosen]
    x = ops.take(filled, chosen, axis=1)[:, :, None]  # (n, c, 1)
    knots = [np.asarray(specs[i].knots, dtype=np.float64) for i in chosen]
    if encoding == "quantile":
        scores = [_levels(k) for k in knots]
        low, high = _pad([k[:-1] for k in knots]), _pad([k[1:] for k in knots])
        slopes = _pad([np.diff(s) / np.diff(k) for s, k in zip(scores, knots, strict=True)], 0.0)
        start = np.array([s[0] for s in scores], np.float32)
        ramps = ops.relu(x - low) - ops.relu(x - high)  # (n, c, M): how far into each segment
        encoded = ops.sum(ramps * slopes, axis=2) + start
    else:
        every = (QUANTILE_LEVELS - 1) // ple_bins(len(chosen))
        edges = [np.unique(np.concatenate([k[::every], k[-1:]])) for k in knots]
        low = _pad([e[:-1] for e in edges])
        width = _pad([np.diff(e) for e in edges], 1.0)
        real = _pad([np.ones(len(e) - 1) for e in edges], 0.0)  # padded bins stay 0
        encoded = ops.clip((x - low) / width, 0.0, 1.0) * real
        encoded = ops.reshape(encoded, (-1, len(chosen) * low.shape[1]))
    if not kept:
        return encoded
    return ops.concatenate([encoded, ops.take(standardized, kept, axis=1)], axis=1)
