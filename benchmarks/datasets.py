"""Datasets for benchmarks: scikit-learn's bundled sets as CSV, and a generated messy table.

`messy_table` imitates a real export: numeric columns with gaps, text categories, a yes/no
column, a customer ID, string class labels — so the whole pipeline (cleaning, encoding) is
exercised, not just the network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def messy_table(n_rows: int = 50_000, seed: int = 0) -> pd.DataFrame:
    """A binary-classification table with `n_rows` rows and a known, learnable signal.

    Columns: customer_id (ID-like, dropped by the tool), age, income (with missing values),
    tenure_months, plan (text), region (text, with missing values), autopay (yes/no),
    support_calls, and the target `churn` ("churned" / "stayed").
    """
    rng = np.random.default_rng(seed)
    age = rng.normal(42, 12, n_rows).clip(18, 90).round()
    income = rng.lognormal(10.5, 0.5, n_rows).round(2)
    tenure = rng.integers(1, 120, n_rows)
    plan = rng.choice(["basic", "plus", "premium", "family"], n_rows, p=[0.4, 0.3, 0.2, 0.1])
    region = rng.choice(["north", "south", "east", "west", "central"], n_rows)
    autopay = rng.choice(["yes", "no"], n_rows, p=[0.6, 0.4])
    calls = rng.poisson(1.5, n_rows)
    logit = (
        -1.0
        + 0.8 * (plan == "basic")
        - 0.6 * (plan == "premium")
        - 0.03 * (tenure - 60) / 10
        + 0.45 * calls
        - 0.7 * (autopay == "yes")
        + 0.5 * np.sin((age - 40) / 8)  # a non-linear effect a linear model cannot fit
        + 0.3 * (region == "south") * (calls > 2)  # an interaction
    )
    churn = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({
        "customer_id": [f"C{100000 + i}" for i in range(n_rows)],
        "age": age,
        "income": income,
        "tenure_months": tenure,
        "plan": plan,
        "region": region,
        "autopay": autopay,
        "support_calls": calls,
        "churn": np.where(churn, "churned", "stayed"),
    })
    frame.loc[rng.random(n_rows) < 0.05, "income"] = np.nan
    frame.loc[rng.random(n_rows) < 0.03, "region"] = np.nan
    return frame


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
