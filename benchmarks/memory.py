"""Does a long search grow the process? Peak and per-trial resident memory for short and long runs.

    .venv/bin/python benchmarks/memory.py                  # 5 and 30 trials, random search
    .venv/bin/python benchmarks/memory.py --trials 5 60 --tuner bayesian

Each run is the real command line in a child process on a small synthetic table (400 rows,
8 features, binary), a fixed small search space and 2 epochs per trial, so the model-building
and bookkeeping overhead per trial dominates, which is what would leak. For every run the table
shows the child's peak resident memory (`wait4`'s ru_maxrss: the whole run, evaluation and model
export included) and its resident memory (VmRSS, sampled every 0.1 s) right after the first
trial, after trial 5 and after the last one. Growth per trial is the slope of the resident
memory between trial 5 and the last trial (later trials run in an already warmed-up process).
Not a test: it takes minutes and its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SPACE = """
layers = [1, 2]
units = [16, 32]
learning_rate = { min = 1e-3, max = 1e-2, sampling = "log" }
batch_size = 64
"""


def _table(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
    frame["label"] = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    path = folder / "table.csv"
    frame.to_csv(path, index=False)
    return path


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure(trials: int, tuner: str, folder: Path) -> dict[str, float]:
    """Run one search of `trials` trials; its peak and per-trial resident memory in MiB."""
    data = _table(folder)
    space = folder / "space.toml"
    space.write_text(SPACE)
    name = f"mem{trials}"
    cmd = [sys.executable, str(ROOT / "run_tuning.py"), "--data", str(data), "--target", "label",
           "--space", str(space), "--tuner", tuner, "--max-trials", str(trials), "--epochs", "2",
           "--patience", "0", "--out", str(folder / "runs"), "--name", name]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    histories = folder / "runs" / name / "histories"
    after: dict[int, float] = {}  # trials ended -> resident MiB just after
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        ended = len(list(histories.glob("trial_*.json"))) if histories.exists() else 0
        if ended and ended not in after:
            rss = _rss_mib(proc.pid)
            if rss is not None:
                after[ended] = rss
        time.sleep(0.1)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"run of {trials} trials failed:\n{proc.stderr.read().decode()}")
    last = max(after)
    first_late = 5 if 5 in after and last > 5 else min(after)
    slope = (after[last] - after[first_late]) / max(1, last - first_late)
    return {
        "trials": trials,
        "peak": usage.ru_maxrss / 1024,  # KiB on Linux
        "after_1": after.get(1, float("nan")),
        "after_5": after.get(5, float("nan")),
        "after_last": after[last],
        "per_trial": slope,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[5, 30])
    parser.add_argument("--tuner", default="random")
    args = parser.parse_args()
    rows = []
    for n in args.trials:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(measure(n, args.tuner, Path(tmp)))
            print(f"... {n} trials done in {rows[-1]['seconds']:.0f} s", file=sys.stderr)
    print(f"tuner {args.tuner}, 400 rows, 2 epochs per trial; resident memory in MiB")
    print(f"{'trials':>6} {'peak':>8} {'after 1':>8} {'after 5':>8} {'after last':>10} "
          f"{'MiB/trial':>9} {'seconds':>8}")
    for r in rows:
        print(f"{r['trials']:>6} {r['peak']:>8.0f} {r['after_1']:>8.0f} {r['after_5']:>8.0f} "
              f"{r['after_last']:>10.0f} {r['per_trial']:>9.2f} {r['seconds']:>8.0f}")
    if len(rows) > 1:
        print(f"peak difference, {rows[-1]['trials']} vs {rows[0]['trials']} trials: "
              f"{rows[-1]['peak'] - rows[0]['peak']:+.0f} MiB")


if __name__ == "__main__":
    main()
