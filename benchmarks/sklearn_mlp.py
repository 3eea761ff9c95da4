"""scikit-learn's answer to the same question: MLP + RandomizedSearchCV, and a boosting reference.

`--model mlp` (default): `MLPClassifier` / `MLPRegressor` (max_iter = --epochs, its default
stopping rule: training loss not improving by tol for 10 epochs) searched by
`RandomizedSearchCV(n_iter=--trials)` over a space like the tool's (1-4 hidden layers of
16-256 units, relu/tanh/logistic, L2 alpha 1e-6-1e-2 log, learning rate 1e-4-1e-1 log, batch
size 16-256, sgd with/without (Nesterov) momentum or adam; no dropout in scikit-learn).

  * `--cv predefined` (default, the matched budget): a `PredefinedSplit` whose one fold trains
    on the tool's training split and scores on its validation split (log loss / MSE), so each
    of the N candidates is trained once, as in the tool; the best candidate is then refitted on
    the training split only (as the tool keeps the trial's network trained on train).
  * `--cv 5fold`: scikit-learn's default 5-fold CV on train+validation and `refit=True`
    (5N + 1 fits): five times the training budget, for reference.

`--model hgb`: `HistGradientBoostingClassifier` / `Regressor` with defaults, fitted on the
training split (a quality reference, not a search).

Same split and train-only scaling as the tool (benchmarks/bench_data.py). Prints one
`RESULT {json}` line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_data  # noqa: E402


def _space() -> dict:
    from scipy.stats import loguniform

    sizes = [(u,) * n for n in (1, 2, 3, 4) for u in (16, 32, 64, 128, 256)]
    return {
        "hidden_layer_sizes": sizes,
        "activation": ["relu", "tanh", "logistic"],
        "alpha": loguniform(1e-6, 1e-2),
        "learning_rate_init": loguniform(1e-4, 1e-1),
        "batch_size": [16, 32, 64, 128, 256],
        "solver": ["sgd", "adam"],
        "momentum": [0.0, 0.9],
        "nesterovs_momentum": [False, True],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--csv", help="the messy50k CSV (for --dataset messy50k)")
    ap.add_argument("--model", choices=("mlp", "hgb"), default="mlp")
    ap.add_argument("--cv", choices=("predefined", "5fold"), default="predefined")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    data = bench_data.load(args.dataset, args.seed, args.csv)
    regression = data.task == "regression"
    x, y = data.x, data.y
    start = time.perf_counter()
    if args.model == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        best, params = cls(random_state=args.seed).fit(x["train"], y["train"]), {}
    else:
        from sklearn.model_selection import PredefinedSplit, RandomizedSearchCV
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPRegressor if regression else MLPClassifier
        estimator = cls(max_iter=args.epochs, random_state=args.seed)
        scoring = "neg_mean_squared_error" if regression else "neg_log_loss"
        xs = np.vstack([x["train"], x["validation"]])
        ys = np.concatenate([y["train"], y["validation"]])
        if args.cv == "predefined":
            fold = np.r_[np.full(len(x["train"]), -1), np.zeros(len(x["validation"]))]
            search = RandomizedSearchCV(estimator, _space(), n_iter=args.trials, scoring=scoring,
                                        cv=PredefinedSplit(fold), refit=False,
                                        random_state=args.seed)
            search.fit(xs, ys)
            params = search.best_params_
            best = cls(max_iter=args.epochs, random_state=args.seed, **params)
            best.fit(x["train"], y["train"])
        else:
            search = RandomizedSearchCV(estimator, _space(), n_iter=args.trials, scoring=scoring,
                                        random_state=args.seed)
            search.fit(xs, ys)
            params, best = search.best_params_, search.best_estimator_
    search_s = time.perf_counter() - start
    print("RESULT " + json.dumps({
        "score": bench_data.score(data, best.predict(x["test"])),
        "search_s": search_s,
        "best_hyperparameters": {k: str(v) for k, v in params.items()},
    }), flush=True)


if __name__ == "__main__":
    main()
