"""Trials per minute with 1 vs N workers on the same search: a measured table, not a test.

    .venv/bin/python benchmarks/parallel.py                       # 8 random-search trials, 1 vs 2
    .venv/bin/python benchmarks/parallel.py --workers 1,2 --repeats 2 --epochs 30

Each run is the real command line (`run_tuning.py ... --workers N`) timed from process start to
exit, so TensorFlow's start-up in every worker, the chief's final evaluation and the export are
all counted. Runs are interleaved (1, 2, 1, 2, ...) so that other load on a shared machine falls
on both sides alike. Random search with a fixed seed draws the same hyperparameters whatever the
number of workers, so both sides train the same models. Every run is checked: each trial id
appears exactly once in trials.csv.

`--probe` first measures what the machine allows: the same plain Keras training (no code of this
tool) in one process alone and in two processes at once, one TensorFlow thread each. On a
machine whose cores do not share anything the two take as long as one; on a shared VM each can
be 20-40 % slower, and then no number of workers makes N trials run N times as fast.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PROBE = """
import os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
import keras, numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
x = np.random.default_rng(0).normal(size=(1800, 64)).astype("float32")
y = (x[:, :8].sum(1) > 0).astype("float32")
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # traced and warm before the clock starts
while not os.path.exists(sys.argv[1]):
    time.sleep(0.005)
start = time.perf_counter()
model.fit(x, y, epochs=8, batch_size=16, verbose=0)
print(time.perf_counter() - start)
"""


def probe(repeats: int) -> None:
    """One Keras training alone, then two at once: how much two processes slow each other."""
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    alone, together = [], []
    with tempfile.TemporaryDirectory(prefix="parallel-probe-") as tmp:
        for repeat in range(repeats):
            for n in (1, 2):
                go = Path(tmp) / f"go-{repeat}-{n}"
                procs = [subprocess.Popen([sys.executable, "-c", _PROBE, str(go)], env=env,
                                          stdout=subprocess.PIPE, text=True) for _ in range(n)]
                time.sleep(8.0)  # every process imported TensorFlow and is waiting
                go.touch()
                times = [float(p.communicate(timeout=300)[0]) for p in procs]
                (alone if n == 1 else together).extend(times)
    ratio = statistics.median(together) / statistics.median(alone)
    print(f"probe: one Keras training alone {' '.join(f'{t:.2f}' for t in alone)} s; two at "
          f"once {' '.join(f'{t:.2f}' for t in together)} s: each {ratio:.2f}x as long "
          f"(so 2 workers can run trials at most {2 / ratio:.2f}x as fast)")


def _run(workers: int, args: argparse.Namespace, out: Path, name: str) -> dict[str, float]:
    cmd = [sys.executable, str(ROOT / "run_tuning.py"), "--dataset", args.dataset,
           "--tuner", args.tuner, "--max-trials", str(args.max_trials), "--epochs",
           str(args.epochs), "--patience", str(args.patience), "--seed", str(args.seed),
           "--workers", str(workers), "--out", str(out), "--name", name]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=args.timeout)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"--workers {workers} failed ({proc.returncode}):\n"
                         f"{proc.stdout}{proc.stderr}")
    run = out / name
    with open(run / "trials.csv", newline="") as handle:
        ids = [row["trial_id"] for row in csv.DictReader(handle)]
    if sorted(ids) != sorted(set(ids)) or len(ids) != args.max_trials:
        raise SystemExit(f"--workers {workers}: trials.csv has ids {ids}, expected "
                         f"{args.max_trials} distinct ones")
    metrics = json.loads((run / "metrics.json").read_text())
    return {"workers": workers, "wall": wall, "search": metrics["seconds"]["search"],
            "trials": len(ids), "completed": metrics["trials"]["completed"], "load": load}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="breast_cancer")
    p.add_argument("--tuner", default="random",
                   help="random (default: the same trials on both sides) or bayesian, grid, "
                   "hyperband (bayesian and hyperband learn from ended trials, so parallel "
                   "workers see different trials)")
    p.add_argument("--max-trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--probe", action="store_true",
                   help="first measure how much two processes training at once slow each other")
    args = p.parse_args()
    if args.probe:
        probe(max(args.repeats, 3))
    counts = [int(n) for n in args.workers.split(",")]

    print(f"{args.max_trials} {args.tuner}-search trials on {args.dataset}, up to {args.epochs} "
          f"epochs (patience {args.patience}), {os.cpu_count()} cores, seed {args.seed}")
    print(f"{'workers':>7} {'wall s':>8} {'search s':>9} {'trials/min':>11} {'speed-up':>9} "
          f"{'trials ok':>10} {'load':>5}")
    results: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="parallel-bench-") as tmp:
        for repeat in range(args.repeats):
            for n in counts:
                r = _run(n, args, Path(tmp), f"w{n}-r{repeat}")
                results[n].append(r)
                base = results[counts[0]][repeat]["wall"] if results[counts[0]] else r["wall"]
                print(f"{n:>7} {r['wall']:>8.1f} {r['search']:>9.1f} "
                      f"{60 * r['trials'] / r['wall']:>11.2f} {base / r['wall']:>8.2f}x "
                      f"{r['completed']:>4}/{r['trials']:<5} {r['load']:>5.1f}", flush=True)
    if args.repeats > 1:
        print("median wall time:")
        base = sorted(r["wall"] for r in results[counts[0]])[args.repeats // 2]
        for n in counts:
            wall = sorted(r["wall"] for r in results[n])[args.repeats // 2]
            print(f"{n:>7} {wall:>8.1f} s  {60 * args.max_trials / wall:>6.2f} trials/min  "
                  f"{base / wall:.2f}x")


if __name__ == "__main__":
    main()
