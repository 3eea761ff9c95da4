"""The benchmark's data for the comparison scripts: same splits and scaling as the tool.

The tool's own split (`data/splits.py`) is reproduced with the same calls (test first, then
validation, `ceil(share × rows)` each, stratified for classification, `random_state=seed`), so
every variant trains, validates and tests on the same rows. Features are preprocessed the way a
plain script would: mean imputation (+ "was missing" indicators), one-hot categories, yes/no as
1/0, the ID column dropped, and a StandardScaler fitted on the training split only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

BUNDLED = ("breast_cancer", "digits", "wine", "iris", "diabetes")
MESSY = "messy50k"  # benchmarks.datasets.messy_table(50_000), target "churn"
MESSY_TARGET = "churn"


@dataclass(frozen=True)
class Data:
    """Train/validation/test arrays (float32 features) and the task."""

    task: str  # "binary", "multiclass" or "regression"
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]  # class indices (int64) or standardized float32 values
    n_classes: int
    y_mean: float = 0.0  # regression: training μ and σ of the target (scores use raw units)
    y_std: float = 1.0


def messy_csv(folder: str | Path) -> Path:
    """Write the generated 50,000-row table once and return its path."""
    from benchmarks.datasets import messy_table, write_csv

    path = Path(folder) / "messy50k.csv"
    if not path.exists():
        write_csv(messy_table(50_000, seed=0), path)
    return path


def _raw(name: str, csv: str | Path | None) -> tuple[pd.DataFrame, np.ndarray, str]:
    if name == MESSY:
        frame = pd.read_csv(csv)
        y = frame.pop(MESSY_TARGET).to_numpy()
        frame = frame.drop(columns=["customer_id"])  # the tool drops it as ID-like
        frame["autopay"] = (frame["autopay"] == "yes").astype(float)
        return frame, y, "binary"
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    task = ("regression" if name == "diabetes"
            else "binary" if name == "breast_cancer" else "multiclass")
    return bunch.data, bunch.target.to_numpy(), task


def load(name: str, seed: int = 0, csv: str | Path | None = None,
         val_size: float = 0.15, test_size: float = 0.15) -> Data:
    """Load, split (as the tool does) and preprocess one benchmark dataset."""
    from sklearn.model_selection import train_test_split

    frame, target, task = _raw(name, csv)
    if task == "regression":
        y = target.astype(np.float64)
        n_classes = 0
    else:
        classes, y = np.unique(target, return_inverse=True)
        n_classes = len(classes)
    n = len(frame)
    n_test, n_val = math.ceil(test_size * n), math.ceil(val_size * n)
    strata = y if task != "regression" else _target_bins(y, min(n_test, n_val))
    index = np.arange(n)
    rest, test = train_test_split(index, test_size=n_test, random_state=seed, stratify=strata)
    train, val = train_test_split(rest, test_size=n_val, random_state=seed,
                                  stratify=None if strata is None else strata[rest])
    parts = {"train": np.sort(train), "validation": np.sort(val), "test": np.sort(test)}
    x = _preprocess({k: frame.iloc[v] for k, v in parts.items()})
    ys = {k: y[v] for k, v in parts.items()}
    mean, std = 0.0, 1.0
    if task == "regression":
        mean, std = float(ys["train"].mean()), float(ys["train"].std()) or 1.0
        ys = {k: ((v - mean) / std).astype(np.float32) for k, v in ys.items()}
    else:
        ys = {k: v.astype(np.int64) for k, v in ys.items()}
    return Data(task, x, ys, n_classes, mean, std)


def _target_bins(y: np.ndarray, smallest_split: int) -> np.ndarray | None:
    """The tool's regression strata (data/splits.py): quantile bins of >= 30 rows, at most 10."""
    n_bins = min(10, len(y) // 30, smallest_split)
    if n_bins < 2:
        return None
    ranks = np.argsort(np.argsort(y, kind="stable"), kind="stable")
    return (ranks * n_bins // len(y)).astype(np.int64)


def _preprocess(frames: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Impute, one-hot and scale, learned on the training split only."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = frames["train"]
    categorical = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c])]
    numeric = [c for c in train.columns if c not in categorical]
    transform = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
         categorical),
    ])
    transform.fit(train)
    return {k: transform.transform(v).astype(np.float32) for k, v in frames.items()}


def score(data: Data, prediction: np.ndarray) -> float:
    """Test accuracy (classification) or R² in the target's units (regression)."""
    from sklearn.metrics import accuracy_score, r2_score

    if data.task == "regression":
        truth = data.y["test"] * data.y_std + data.y_mean
        return float(r2_score(truth, np.ravel(prediction) * data.y_std + data.y_mean))
    return float(accuracy_score(data.y["test"], prediction))
