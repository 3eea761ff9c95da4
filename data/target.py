"""The scale a regression target is learned on: as it is, log1p, or normal scores of its quantiles.

A network trained with squared error on a right-skewed positive target (a price, a salary, a
count) spends its capacity on the few largest values; on a log or quantile scale the rows weigh
alike. The transform is chosen on the training split alone, applied before the target is
standardized, and undone on every prediction, so metrics, `predict` and the exported model stay
in the target's own units. Both transforms are exactly representable by standard Keras layers:
log1p's inverse is exp(z) − 1, the quantile map's a piecewise-linear function (a sum of ReLUs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("auto", "none", "log", "quantile")

# --target-transform auto learns log1p(y) when the training target is non-negative and its
# skewness is at least this, and log1p makes it at least this much less skewed (README).
AUTO_SKEWNESS = 1.0
AUTO_SKEW_REDUCTION = 0.5
# Knots of the quantile map (fewer when the training split has fewer distinct values).
QUANTILE_KNOTS = 64


@dataclass(frozen=True)
class TargetTransform:
    """How the target is turned into the scale the network learns, and back.

    Attributes:
        kind: "none", "log" (log1p) or "quantile" (normal scores of the training quantiles).
        reason: why it was chosen, for the console and the report.
        values: quantile: the target's knots (training quantiles), increasing.
        scores: quantile: the normal scores of those quantiles, increasing.
    """

    kind: str = "none"
    reason: str = ""
    values: tuple[float, ...] = ()
    scores: tuple[float, ...] = ()

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Target values in the learned scale (before standardization)."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "log":
            return np.log1p(np.maximum(y, 0.0))
        if self.kind == "quantile":
            return np.interp(y, self.values, self.scores)
        return y

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Values of the learned scale back in the target's units."""
        z = np.asarray(z, dtype=np.float64)
        if self.kind == "log":
            return np.expm1(z)
        if self.kind == "quantile":
            return np.interp(z, self.scores, self.values)
        return z

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "values": list(self.values),
                "scores": list(self.scores)}


def skewness(y: np.ndarray) -> float:
    """Fisher's sample skewness (0 for a constant)."""
    y = np.asarray(y, dtype=np.float64)
    std = y.std()
    return float(np.mean(((y - y.mean()) / std) ** 3)) if std > 0 else 0.0


def choose_transform(
    y_train: np.ndarray,
    requested: str = "auto",
    x_train: np.ndarray | Mapping[str, np.ndarray] | None = None,
) -> TargetTransform:
    """The transform `requested` names, or for "auto" the one the training target calls for.

    "auto" learns log1p(y) when the training target is non-negative and right-skewed and, given
    `x_train`, when a ridge regression cross-validated on the training split predicts it better
    in the target's own units through log1p than directly (a skewed target whose relation to
    the features is additive is better learned as it is). Given one matrix per numeric
    encoding the search will try, each scale is scored by its best ridge over them:
    standardized inputs show a target proportional to a feature, piecewise-linear ones a
    target whose effects multiply through heavy-tailed features (each encoding's ridges cost
    about 2 s on 38,000 rows x 800 features).

    Args:
        y_train: the training split's target values.
        requested: "auto", "none", "log" or "quantile".
        x_train: the training split's encoded features, for "auto": one matrix, or one per
            numeric encoding by its name. Defaults to None (the skewness alone decides).

    Returns:
        The transform, with the reason in words.

    Raises:
        ValueError: "log" for a target with negative values (the caller words the error).
    """
    y = np.asarray(y_train, dtype=np.float64)
    if requested == "none":
        return TargetTransform("none", "as given (--target-transform none)")
    if requested == "log":
        if y.min() < 0:
            raise ValueError(f"the training target has negative values (smallest {y.min():g})")
        return TargetTransform("log", "log1p (--target-transform log)")
    if requested == "quantile":
        return _quantile(y, "normal scores of its training quantiles (--target-transform quantile)")
    before = skewness(y)
    if y.min() >= 0 and before >= AUTO_SKEWNESS:
        after = skewness(np.log1p(y))
        if abs(after) <= AUTO_SKEW_REDUCTION * abs(before):
            skew = f"right-skewed (skewness {before:.2f}; {after:.2f} after log1p)"
            if x_train is None:
                return TargetTransform("log", f"log1p, because the training target is {skew}")
            views = {"": x_train} if isinstance(x_train, np.ndarray) else dict(x_train)
            errors = {name: _ridge_errors(x, y) for name, x in views.items()}
            direct = min(errors, key=lambda name: errors[name][0])
            logged = min(errors, key=lambda name: errors[name][1])
            rmse, rmse_log = errors[direct][0], errors[logged][1]
            if rmse_log < rmse:
                return TargetTransform(
                    "log", f"log1p, because the training target is {skew} and a ridge "
                    f"regression on the training split predicts it better so (RMSE "
                    f"{_compared(rmse_log, logged, rmse, 'as given', direct)})")
            return TargetTransform(
                "none", f"as given: the training target is {skew}, but a ridge regression on "
                f"the training split predicts it better as it is (RMSE "
                f"{_compared(rmse, direct, rmse_log, 'through log1p', logged)})")
    return TargetTransform("none", f"as given (skewness {before:.2f})")


_INPUT_WORDS = {"standard": "standardized", "quantile": "quantile-normalized",
                "ple": "piecewise-linear"}


def _compared(value: float, encoding: str, other: float, scale: str, other_encoding: str) -> str:
    """The better ridge's RMSE against the other's, in words: "354.6 against 370.4 as given,
    both on piecewise-linear inputs" (an encoding "" when the features were one matrix)."""
    words = {e: f"{_INPUT_WORDS.get(e, e)} inputs" for e in (encoding, other_encoding)}
    if not encoding:
        return f"{value:.4g} against {other:.4g} {scale}"
    if encoding == other_encoding:
        return f"{value:.4g} against {other:.4g} {scale}, both on {words[encoding]}"
    return (f"{value:.4g} on {words[encoding]} against {other:.4g} {scale} on "
            f"{words[other_encoding]}")


def _ridge_errors(x: np.ndarray, y: np.ndarray, folds: int = 5) -> tuple[float, float]:
    """Cross-validated RMSE in the target's units of a ridge regression fitted on y and on
    log1p(y) (its predictions back through expm1)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_predict

    splitter = KFold(min(folds, len(y)), shuffle=True, random_state=0)
    direct = cross_val_predict(Ridge(alpha=1.0), x, y, cv=splitter)
    logged = np.expm1(np.clip(cross_val_predict(Ridge(alpha=1.0), x, np.log1p(y), cv=splitter),
                              None, np.log1p(y.max()) + 1.0))
    rmse = [float(np.sqrt(np.mean((p - y) ** 2))) for p in (direct, logged)]
    return rmse[0], rmse[1]


def _quantile(y: np.ndarray, reason: str) -> TargetTransform:
    from scipy.stats import norm

    levels = np.linspace(0.0, 1.0, min(QUANTILE_KNOTS, len(np.unique(y))))
    values = np.quantile(y, levels)
    values, first = np.unique(values, return_index=True)  # ties would make the map flat
    levels = levels[first]
    n = len(y)
    scores = norm.ppf(np.clip(levels, 0.5 / n, 1 - 0.5 / n))
    if len(values) < 2:
        return TargetTransform("none", "as given (a constant target has no quantiles)")
    return TargetTransform("quantile", reason, tuple(map(float, values)), tuple(map(float, scores)))


def inverse_layers(transform: TargetTransform, dtype: str = "float32") -> list[Any]:
    """Standard Keras layers computing `transform.inverse` on an (n, 1) tensor ([] for none),
    computing in `dtype`."""
    import keras

    if transform.kind == "log":
        return [keras.layers.Activation("exponential", name="target_exp", dtype=dtype),
                keras.layers.Rescaling(1.0, offset=-1.0, name="target_expm1", dtype=dtype)]
    if transform.kind != "quantile":
        return []
    z, v = np.asarray(transform.scores), np.asarray(transform.values)
    slopes = np.diff(v) / np.diff(z)
    # Between the knots: v0 + Σ s_i (relu(x - z_i) - relu(x - z_{i+1})); flat outside them.
    m = len(slopes)
    hinge = keras.layers.Dense(2 * m, activation="relu", name="target_hinges", dtype=dtype)
    out = keras.layers.Dense(1, name="target_quantiles", dtype=dtype)
    hinge.build((None, 1))
    out.build((None, 2 * m))
    hinge.set_weights([np.ones((1, 2 * m)), np.concatenate([-z[:-1], -z[1:]])])
    out.set_weights([np.concatenate([slopes, -slopes]).reshape(-1, 1), np.array([v[0]])])
    return [hinge, out]
