"""Which scores are outliers that a plot's axis should cut off (no matplotlib here: the
progress page draws its own small plot between trials)."""

from __future__ import annotations

from typing import Any

import numpy as np

# Scores beyond this many interquartile ranges above the upper quartile are outliers ...
OUTLIER_IQRS = 3.0
# ... cut off the axis when showing them would squash the others into this share of it.
OUTLIER_SQUASH = 1 / 3


def clip_limits(values: Any) -> tuple[float, float] | None:
    """A y range for scores where a few outliers far above would flatten the rest.

    Values above the upper quartile by more than `OUTLIER_IQRS` interquartile ranges are
    outliers; the axis stops just above the highest other value, but only when showing the
    outliers would squash the others into less than `OUTLIER_SQUASH` of its height. Lower
    scores are better, so nothing is cut at the bottom.

    Returns:
        (low, high), or None when every value fits (matplotlib's own range is then used).
    """
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size < 4:
        return None
    q1, q3 = np.percentile(finite, [25, 75])
    fence = q3 + OUTLIER_IQRS * (q3 - q1)
    inliers = finite[finite <= fence]
    low, high, top = float(finite.min()), float(finite.max()), float(inliers.max())
    if high <= fence or top - low >= OUTLIER_SQUASH * (high - low):
        return None
    pad = 0.08 * (top - low) if top > low else max(abs(top) * 0.05, 1e-6)
    return (low - pad, top + pad)
