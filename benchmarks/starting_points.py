"""How candidate starting configurations of the search score, without any search.

Each candidate (a full set of hyperparameters) is trained on every table of the quality
benchmark (`benchmarks/quality.py`), for several seeds, with 5-fold cross-validation on
train+validation, as a trial of the tool is. Printed per candidate: its cross-validated loss
relative to the naive baseline's (skill = 1 − loss / naive loss, higher is better; the test
split is not used for the ranking) and, for reference only, the fold-averaged test score.
The search's known-good starting points (`tuning/search/oracles.py`) were chosen from this table.

    python benchmarks/starting_points.py                     # every small table, 3 seeds
    python benchmarks/starting_points.py --tables fgl,OJ --seeds 0
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from benchmarks.quality import TABLES, _generated  # noqa: E402

CANDIDATES: dict[str, dict] = {
    "adam_2x128": dict(layers=2, units=128, activation="relu", optimizer="adam",
                       learning_rate=1e-3, batch_size=32, l2=1e-5, dropout=0.1),
    "adam_3x256": dict(layers=3, units=256, activation="relu", optimizer="adam",
                       learning_rate=1e-3, batch_size=64, l2=1e-5, dropout=0.2),
    "adam_1x256": dict(layers=1, units=256, activation="relu", optimizer="adam",
                       learning_rate=3e-3, batch_size=32, l2=1e-4, dropout=0.2),
    "adam_2x64_tanh": dict(layers=2, units=64, activation="tanh", optimizer="adam",
                           learning_rate=1e-3, batch_size=32, l2=1e-4, dropout=0.0),
    "adam_2x256_elu": dict(layers=2, units=256, activation="elu", optimizer="adam",
                           learning_rate=1e-3, batch_size=32, l2=1e-4, dropout=0.3),
    "adam_2x256_relu": dict(layers=2, units=256, activation="relu", optimizer="adam",
                            learning_rate=1e-3, batch_size=32, l2=1e-4, dropout=0.3),
    "nesterov_2x128": dict(layers=2, units=128, activation="relu", optimizer="nesterov",
                           learning_rate=1e-2, batch_size=32, l2=1e-4, dropout=0.1),
    "rmsprop_2x128": dict(layers=2, units=128, activation="relu", optimizer="rmsprop",
                          learning_rate=1e-3, batch_size=64, l2=1e-5, dropout=0.2),
}


def _hyperparameters(values: dict):
    import keras_tuner as kt

    hp = kt.HyperParameters()
    for name, value in values.items():
        if name == "units":
            for i in range(values["layers"]):
                hp.Fixed(f"units_{i}", value)
        else:
            hp.Fixed(name, value)
    return hp


def evaluate(table, seed: int, names: list[str], work: Path, epochs: int,
             encodings: tuple[str, ...] = ("standard",)) -> list[dict]:
    import keras
    import numpy as np

    from common.space import SearchSpace
    from data.encoding import encode_splits
    from data.splits import fold_masks
    from models.heads import head_for
    from models.hypermodel import MLPHyperModel
    from reports.baselines import fit_baselines
    from tuning.config import RunConfig
    from tuning.run.prepare import prepare

    source = _generated(table.name, work) if table.source[0].startswith("@") else table.source
    options = dict(zip(source[::2], source[1::2], strict=True))
    config = RunConfig(
        data=options.get("--data"), target=options.get("--target"),
        dataset=options.get("--dataset"),
        drop=tuple(d for d in options.get("--drop", "").split(",") if d), seed=seed,
        out=str(work / "runs"), epochs=epochs)
    prepared = prepare(config, report=lambda line: None)
    task, splits = prepared.task, prepared.splits
    encoded = encode_splits(prepared.data.columns, splits, task, "none", encodings)
    y = np.concatenate([encoded.y["train"], encoded.y["validation"]])
    mask = fold_masks(y, task, 5, seed)
    naive = fit_baselines(task, encoded.x["train"], splits.y["train"], encoded.x["test"],
                          splits.y["test"], seed)["naive"]["test"]["loss"]
    naive_scaled = naive / (encoded.target_std ** 2 if task.kind == "regression" else 1.0)
    rows = []
    for name, encoding in [(n, e) for n in names for e in encodings]:
        hp = _hyperparameters(CANDIDATES[name] | {"numeric_encoding": encoding})
        x_of = encoded.x_for(encoding)
        x = np.concatenate([x_of["train"], x_of["validation"]])
        hypermodel = MLPHyperModel(encoded.widths(), head_for(task), SearchSpace(), epochs, 10,
                                   train_mask=mask)
        keras.utils.set_random_seed(seed * 1000 + 7)
        started = time.perf_counter()
        model = hypermodel.build(hp)
        outcome = hypermodel.fit(hp, model, x, y)
        seconds = time.perf_counter() - started
        out = np.asarray(model(x_of["test"], training=False)).mean(axis=1)
        if task.kind == "regression":
            pred = encoded.original_units(out)[:, 0]
            truth = splits.y["test"]
            test = 1 - ((pred - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
        elif task.kind == "binary":
            test = float(((out[:, 0] > 0.5) == splits.y["test"]).mean())
        else:
            test = float((out.argmax(1) == splits.y["test"]).mean())
        label = name if encoding == "standard" else f"{name}+{encoding}"
        rows.append({"table": table.name, "seed": seed, "candidate": label,
                     "skill": 1 - outcome["val_loss"] / naive_scaled, "test": test,
                     "seconds": seconds})
        keras.backend.clear_session()
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tables", default="breast_cancer,wine,iris,diabetes,OJ,biopsy,HMDA,fgl,"
                   "Carseats,College,gen_nonlinear,gen_linear")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--candidates", default=",".join(CANDIDATES))
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--encodings", default="standard",
                   help="numeric encodings to try each candidate with, e.g. standard,quantile,ple")
    args = p.parse_args()
    encodings = tuple(args.encodings.split(","))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    names = args.candidates.split(",")
    tables = [t for t in TABLES if t.name in args.tables.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for table in tables:
            for seed in args.seeds:
                found = evaluate(table, seed, names, Path(tmp), args.epochs, encodings)
                rows += found
                print(table.name, seed, " ".join(
                    f"{r['candidate']}={r['skill']:.3f}/{r['test']:.3f}" for r in found),
                    flush=True)
    names = list(dict.fromkeys(r["candidate"] for r in rows))
    print("\n| candidate | median CV skill | mean CV skill | median test | mean seconds |")
    print("|---|---|---|---|---|")
    for name in names:
        mine = [r for r in rows if r["candidate"] == name]
        print(f"| {name} | {statistics.median(r['skill'] for r in mine):.3f} | "
              f"{statistics.mean(r['skill'] for r in mine):.3f} | "
              f"{statistics.median(r['test'] for r in mine):.3f} | "
              f"{statistics.mean(r['seconds'] for r in mine):.1f} |")
    # Per table, which candidate has the best CV skill (median over seeds).
    print()
    for table in tables:
        scores = {n: statistics.median(r["skill"] for r in rows
                                       if r["candidate"] == n and r["table"] == table.name)
                  for n in names}
        ranked = sorted(scores, key=scores.get, reverse=True)
        print(f"{table.name}: " + ", ".join(f"{n} {scores[n]:.3f}" for n in ranked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
