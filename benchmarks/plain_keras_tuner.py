"""The baseline: a plain Keras Tuner search written the obvious way.

A HyperModel whose `fit` calls `model.fit` on NumPy arrays with
`EarlyStopping(patience=5, restore_best_weights=True)`, `RandomSearch` minimizing val_loss,
the tool's built-in space (layers 1-4, units 16-256 per layer, four activations, L2, dropout,
the five optimizers, log learning rate, batch size 16-256), the same train/validation/test split
and train-only scaling (benchmarks/bench_data.py). The best model is scored on test and saved
as model.keras. Prints one `RESULT {json}` line.

    python benchmarks/plain_keras_tuner.py --dataset digits --trials 10 --epochs 50 --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_data  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--csv", help="the messy50k CSV (for --dataset messy50k)")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench_plain_kt")
    args = ap.parse_args()

    import keras
    import keras_tuner as kt
    keras.utils.set_random_seed(args.seed)
    data = bench_data.load(args.dataset, args.seed, args.csv)
    regression = data.task == "regression"
    if data.task == "binary":
        units, activation, loss = 1, "sigmoid", "binary_crossentropy"
    elif data.task == "multiclass":
        units, activation, loss = data.n_classes, "softmax", "sparse_categorical_crossentropy"
    else:
        units, activation, loss = 1, None, "mse"
    n_features = data.x["train"].shape[1]

    class MLP(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential([keras.Input((n_features,))])
            act = hp.Choice("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
            l2 = hp.Float("l2", 1e-6, 1e-2, sampling="log")
            dropout = hp.Float("dropout", 0.0, 0.5, step=0.1)
            for i in range(hp.Int("layers", 1, 4)):
                model.add(keras.layers.Dense(hp.Choice(f"units_{i}", [16, 32, 64, 128, 256]),
                                             activation=act,
                                             kernel_regularizer=keras.regularizers.L2(l2)))
                if dropout > 0:
                    model.add(keras.layers.Dropout(dropout))
            model.add(keras.layers.Dense(units, activation=activation))
            lr = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
            optimizer = {
                "sgd": lambda: keras.optimizers.SGD(lr),
                "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9),
                "nesterov": lambda: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
                "rmsprop": lambda: keras.optimizers.RMSprop(lr),
                "adam": lambda: keras.optimizers.Adam(lr),
            }[hp.Choice("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])]()
            model.compile(optimizer=optimizer, loss=loss,
                          metrics=[] if regression else ["accuracy"])
            return model

        def fit(self, hp, model, x, y, callbacks=None, **kwargs):
            stop = keras.callbacks.EarlyStopping(patience=args.patience,
                                                 restore_best_weights=True)
            return model.fit(x, y, batch_size=hp.Choice("batch_size", [16, 32, 64, 128, 256]),
                             callbacks=[*(callbacks or []), stop, keras.callbacks.TerminateOnNaN()],
                             **kwargs)

    tuner = kt.RandomSearch(MLP(), objective="val_loss", max_trials=args.trials, seed=args.seed,
                            directory=args.out, project_name="plain_kt", overwrite=True)
    start = time.perf_counter()
    tuner.search(data.x["train"], data.y["train"], epochs=args.epochs,
                 validation_data=(data.x["validation"], data.y["validation"]), verbose=0)
    search_s = time.perf_counter() - start
    best = tuner.get_best_models(1)[0]
    output = best.predict(data.x["test"], verbose=0)
    if data.task == "binary":
        prediction = (output[:, 0] > 0.5).astype(int)
    elif data.task == "multiclass":
        prediction = output.argmax(1)
    else:
        prediction = output
    best.save(Path(args.out) / "model.keras")
    trials = tuner.oracle.trials.values()
    print("RESULT " + json.dumps({
        "score": bench_data.score(data, prediction),
        "search_s": search_s,
        "trials_completed": sum(t.status == "COMPLETED" for t in trials),
        "best_hyperparameters": tuner.get_best_hyperparameters(1)[0].values,
    }), flush=True)


if __name__ == "__main__":
    main()
