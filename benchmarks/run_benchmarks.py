"""Wall time and test score of this tool against the obvious alternatives, in one run.

Every variant runs as its own subprocess (whole process: interpreter start, imports, data, the
search, the final model and its files), on the same data, split and search budget; the variants
are interleaved over repetitions (the order reverses every other repetition) so a machine whose
load changes treats them alike. Reported: the median wall seconds, its ratio to this tool's
median (> 1: slower than the tool), and the median test score (accuracy; R² for diabetes).

Variants:
  tool      python run_tuning.py --tuner random --max-trials T --epochs E --patience 5 (the
            test score is read from the run folder's metrics.json; model.keras, SavedModel,
            trials.csv and metrics.json are written, as in any run)
  tool_w2   the same with --workers 2 (two trials at a time: the chief and one worker process)
  plain_kt  benchmarks/plain_keras_tuner.py: RandomSearch, model.fit on NumPy,
            EarlyStopping(patience=5, restore_best_weights=True)
  sk_mlp    benchmarks/sklearn_mlp.py: MLP + RandomizedSearchCV(n_iter=T), one PredefinedSplit
            fold = the same train/validation split (T fits, the same budget), max_iter=E
  sk_mlp_cv5  (optional) the same with scikit-learn's default 5-fold CV (5T + 1 fits)
  hgb       HistGradientBoosting with defaults (a quality reference, not a search)

On messy50k (benchmarks.datasets.messy_table, 50,000 rows) plain_kt runs only
--plain-large-trials trials (default 2): its wall time is reported as measured and also
extrapolated to T trials (start-up + per-trial search time × T), marked "est.".

    python benchmarks/run_benchmarks.py                       # everything (an hour or more)
    python benchmarks/run_benchmarks.py --datasets digits --reps 3
    python benchmarks/run_benchmarks.py --quick               # smoke run, about a minute
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import bench_data  # noqa: E402

DATASETS = ("breast_cancer", "digits", "diabetes", bench_data.MESSY)
VARIANTS = ("tool", "tool_w2", "plain_kt", "sk_mlp", "hgb")
ALL_VARIANTS = (*VARIANTS, "sk_mlp_cv5")


def _command(variant: str, dataset: str, args: argparse.Namespace, seed: int, work: Path,
             csv: Path | None, tag: str) -> list[str]:
    py = sys.executable
    trials = args.trials
    if variant == "plain_kt" and dataset == bench_data.MESSY:
        trials = min(trials, args.plain_large_trials)
    data = ["--dataset", dataset] + (["--csv", str(csv)] if csv else [])
    if variant in ("tool", "tool_w2"):
        source = ["--data", str(csv), "--target", bench_data.MESSY_TARGET] if csv else \
            ["--dataset", dataset]
        return [py, str(ROOT / "run_tuning.py"), *source, "--tuner", "random",
                "--max-trials", str(trials), "--epochs", str(args.epochs),
                "--patience", str(args.patience), "--seed", str(seed),
                "--out", str(work), "--name", tag] + \
            (["--workers", "2"] if variant == "tool_w2" else [])
    if variant == "plain_kt":
        return [py, str(ROOT / "benchmarks" / "plain_keras_tuner.py"), *data,
                "--trials", str(trials), "--epochs", str(args.epochs),
                "--patience", str(args.patience), "--seed", str(seed), "--out", str(work / tag)]
    script = [py, str(ROOT / "benchmarks" / "sklearn_mlp.py"), *data, "--seed", str(seed),
              "--trials", str(trials), "--epochs", str(args.epochs)]
    if variant == "hgb":
        return script + ["--model", "hgb"]
    return script + ["--cv", "5fold" if variant == "sk_mlp_cv5" else "predefined"]


def _run(variant: str, dataset: str, args: argparse.Namespace, seed: int, work: Path,
         csv: Path | None, tag: str) -> dict:
    command = _command(variant, dataset, args, seed, work, csv, tag)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{variant} on {dataset} failed ({done.returncode}):\n"
                           f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    if variant in ("tool", "tool_w2"):
        metrics = json.loads((work / tag / "metrics.json").read_text())
        test = metrics["metrics"]["test"]
        return {"wall": wall, "score": test["r2"] if "r2" in test else test["accuracy"],
                "search_s": metrics["seconds"]["search"], "trials": args.trials}
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT "):])
    ran = int(command[command.index("--trials") + 1]) if "--trials" in command else args.trials
    return {"wall": wall, "score": result["score"], "search_s": result["search_s"], "trials": ran}


def _estimate(row: dict, trials: int) -> float:
    """Whole-process seconds for `trials` trials from a run of fewer: start-up + search × ratio."""
    startup = row["wall"] - row["search_s"]
    return startup + row["search_s"] * trials / row["trials"]


def _load_note() -> str:
    try:
        return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "load unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--datasets", default=",".join(DATASETS),
                    help=f"comma-separated, from {', '.join(DATASETS)} (default: all)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"comma-separated, from {', '.join(ALL_VARIANTS)} "
                    f"(default: {','.join(VARIANTS)})")
    ap.add_argument("--reps", type=int, default=2, help="repetitions, interleaved (default: 2)")
    ap.add_argument("--trials", type=int, default=10, help="search trials (default: 10)")
    ap.add_argument("--epochs", type=int, default=50, help="most epochs per trial (default: 50)")
    ap.add_argument("--patience", type=int, default=5, help="early-stopping patience (default: 5)")
    ap.add_argument("--plain-large-trials", type=int, default=2,
                    help="plain_kt's trials on messy50k, extrapolated to --trials (default: 2)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: breast_cancer, 1 rep, 2 trials x 3 epochs")
    ap.add_argument("--json", help="also write every measurement to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.datasets, args.reps, args.trials, args.epochs = "breast_cancer", 1, 2, 3
    datasets = [d for d in args.datasets.split(",") if d]
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(datasets) - set(DATASETS) | set(variants) - set(ALL_VARIANTS))
    if unknown:
        ap.error(f"unknown dataset or variant: {', '.join(unknown)}")

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.python_version()}, {_load_note()} at start", flush=True)
    print(f"budget: {args.trials} trials x up to {args.epochs} epochs, patience {args.patience}, "
          f"{args.reps} rep(s)", flush=True)
    results: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        csv = bench_data.messy_csv(work) if bench_data.MESSY in datasets else None
        for dataset in datasets:
            results[dataset] = {v: [] for v in variants}
            for rep in range(args.reps):
                for variant in variants if rep % 2 == 0 else variants[::-1]:
                    tag = f"{dataset}-{variant}-{rep}"
                    row = _run(variant, dataset, args, rep, work,
                               csv if dataset == bench_data.MESSY else None, tag)
                    results[dataset][variant].append(row)
                    print(f"  {dataset:13s} rep {rep} {variant:10s} {row['wall']:7.1f} s  "
                          f"score {row['score']:.4f}  ({_load_note()})", flush=True)
    print(f"\nload at end: {_load_note()}\n")
    print(_table(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    return 0


def _table(results: dict[str, dict[str, list[dict]]], args: argparse.Namespace) -> str:
    lines = ["| dataset | variant | wall s (median) | × tool | test score (median) |",
             "|---|---|---:|---:|---:|"]
    for dataset, by_variant in results.items():
        tool = statistics.median(r["wall"] for r in by_variant["tool"]) if by_variant.get("tool") \
            else None
        metric = "R²" if dataset == "diabetes" else "accuracy"
        for variant, rows in by_variant.items():
            wall = statistics.median(r["wall"] for r in rows)
            shown = f"{wall:.1f}"
            if rows[0]["trials"] < args.trials:
                wall = statistics.median(_estimate(r, args.trials) for r in rows)
                shown = f"{shown} ({rows[0]['trials']} trials); est. {wall:.0f} for {args.trials}"
            ratio = f"{wall / tool:.2f}" if tool else "–"
            score = statistics.median(r["score"] for r in rows)
            lines.append(f"| {dataset} | {variant} | {shown} | {ratio} | {score:.4f} {metric} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
