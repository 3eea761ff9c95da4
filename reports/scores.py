"""How the search's numbers read for a person: regression scores in the target's own units.

Keras minimizes each trial's validation loss. For regression that is the mean squared error on
the target standardized with the training split's μ and σ (the data's alone, without the L2/L1
penalties), which says little to a reader; its square root times σ is a root-mean-squared
error in the target's units, comparable with the metrics table's RMSE. Classification losses
(log loss) are already on a scale people compare, so they are shown as they are.

No Keras, matplotlib or pandas here: the console's trial lines use it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def format_number(value: float | int | None) -> str:
    """A number as a reader wants it: 4 significant digits, thousands grouped, no exponent
    unless it is tiny (`701,692,104`, `56.88`, `0.006043`, `8.794e-06`)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.3e}"
    return f"{value:.4g}"


def format_share(value: float, signed: bool = False) -> str:
    """A share as a percentage to one decimal, or to one significant digit below 0.1 %, so that
    a change that is not zero never reads "0.0%" (`12.5%`, `-0.04%`; `+12.5%` when signed)."""
    sign = "+" if signed else ""
    if value == 0 or abs(value) >= 0.0005 or not math.isfinite(value):
        return f"{value:{sign}.1%}"
    return f"{value * 100:{sign}.1g}%"


@dataclass(frozen=True)
class ScoreScale:
    """Turns a trial's objective and learning curves into the numbers a reader compares.

    Attributes:
        target_std: regression: the training split's σ of the target (on its learned scale),
            by which the network's standardized outputs are scaled back; None for
            classification (nothing changes).
        transform: regression: the scale the target is learned on ("none", "log",
            "quantile", `data.target`); RMSEs are then on that scale, and say so.
    """

    target_std: float | None = None
    transform: str = "none"

    @classmethod
    def for_task(cls, task_kind: str, target_std: float, transform: str = "none") -> ScoreScale:
        """The scale of `task_kind`'s scores (`target_std` and `transform`, the scale the
        target is learned on, are only read for regression)."""
        if task_kind != "regression":
            return cls()
        return cls(float(target_std), transform)

    @property
    def _learned(self) -> str:
        """" of log1p(target)" when the RMSE is on a learned scale, not the target's units."""
        return {"log": " of log1p(target)", "quantile": " of the target's normal scores"}.get(
            self.transform, "")

    @property
    def units(self) -> str:
        """Where a regression RMSE lives, in words: "in the target's units", or on the learned
        scale ("on the log1p(target) scale")."""
        return {"log": "on the log1p(target) scale",
                "quantile": "on the scale of the target's normal scores"}.get(
            self.transform, "in the target's units")

    @property
    def regression(self) -> bool:
        return self.target_std is not None

    @property
    def name(self) -> str:
        """What a readable score is, for axis labels and table headers."""
        return f"validation RMSE{self._learned}" if self.regression else "validation loss"

    @property
    def short(self) -> str:
        """The console's name for a readable score."""
        if not self.regression:
            return "val_loss"
        return {"log": "val RMSE(log1p)", "quantile": "val RMSE(scores)"}.get(
            self.transform, "val RMSE")

    def readable(self, score: float | None) -> float | None:
        """The objective as a reader compares it: RMSE in the target's units for regression."""
        if score is None or not math.isfinite(score):
            return score
        if not self.regression:
            return float(score)
        return math.sqrt(max(float(score), 0.0)) * self.target_std

    def readable_array(self, scores: np.ndarray) -> np.ndarray:
        """`readable` on an array (NaN stays NaN)."""
        scores = np.asarray(scores, dtype=np.float64)
        if not self.regression:
            return scores
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.maximum(scores, 0.0)) * self.target_std

    def curve(self, key: str, values: np.ndarray) -> tuple[str, np.ndarray]:
        """One learning curve of Keras' history as a reader compares it.

        Args:
            key: the history's key without "val_": "loss", "mae", "accuracy", ...
            values: the curve, in the units Keras trained on.

        Returns:
            The curve's label and values: for regression "RMSE" (√loss × σ) and "MAE" (× σ) in
            the target's units; every curve of a classifier unchanged.
        """
        values = np.asarray(values, dtype=np.float64)
        if not self.regression:
            return key, values
        if key == "loss":
            return f"RMSE{self._learned}", self.readable_array(values)
        if key == "mae":
            return f"MAE{self._learned}", values * self.target_std
        return key, values

    def text(self, score: float) -> str:
        """The console's form of a score: `val_loss 0.1807` or `val RMSE 56.12`."""
        if not self.regression:
            return f"{self.short} {score:.4f}"
        return f"{self.short} {format_number(self.readable(score))}"

    def value_text(self, score: float) -> str:
        """The number alone, as `text` writes it."""
        return self.text(score).removeprefix(self.short + " ")
