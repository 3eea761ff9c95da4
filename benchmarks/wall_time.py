"""Whole-run wall time of the default command in two checkouts, side by side.

Each table is run by both checkouts in turn (the order alternates every repetition, so a
machine whose load drifts treats both alike); printed per table: each checkout's median
seconds, the ratio, and whether cross-validation was on (read from the run's metrics.json).

    python benchmarks/wall_time.py --before ../base --after . --tables breast_cancer,diabetes
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.quality import TABLES, _generated  # noqa: E402


def _run(
    repo: Path, source: tuple[str, ...], seed: int, work: Path, tag: str
) -> tuple[float, dict]:
    command = [sys.executable, str(repo / "run_tuning.py"), *source, "--seed", str(seed),
               "--out", str(work), "--name", tag]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{repo}: {done.stderr.strip().splitlines()[-1]}")
    return wall, json.loads((work / tag / "metrics.json").read_text())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="the checkout before the change")
    p.add_argument("--after", default=str(ROOT), help="the checkout after it")
    p.add_argument("--tables", default="breast_cancer,diabetes,fgl,HMDA,txhousing")
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    repos = {"before": Path(args.before), "after": Path(args.after)}
    print("| table | before s | after s | after / before | cross-validation (after) |")
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for table in [t for t in TABLES if t.name in args.tables.split(",")]:
            source = _generated(table.name, work) if table.source[0].startswith("@") \
                else table.source
            walls: dict[str, list[float]] = {"before": [], "after": []}
            folds = None
            for rep in range(args.reps):
                order = ("before", "after") if rep % 2 == 0 else ("after", "before")
                for name in order:
                    wall, metrics = _run(repos[name], source, rep, work,
                                         f"{table.name}-{name}-{rep}")
                    walls[name].append(wall)
                    if name == "after":
                        folds = (metrics.get("cv") or {}).get("folds")
            before, after = (statistics.median(walls[k]) for k in ("before", "after"))
            print(f"| {table.name} | {before:.1f} | {after:.1f} | {after / before:.2f} | "
                  f"{f'{folds} folds' if folds else 'off'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
