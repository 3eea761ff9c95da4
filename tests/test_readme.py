"""The README's quick start works as written: its tune commands, run with a tiny budget."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = [".venv/bin/python", "run_tuning.py"]
# Appended, so they win over the README's own (argparse keeps the last): seconds, not minutes.
TINY_BUDGET = ["--max-trials", "2", "--epochs", "2", "--cv", "0", "--ensemble", "1"]


def quick_start_commands() -> list[list[str]]:
    """Every `.venv/bin/python run_tuning.py ...` line of the README's "Quick start" code."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [shlex.split(line) for block in blocks for line in block.splitlines()
            if line.startswith(" ".join(PROGRAM) + " ")]


def test_the_quick_start_commands_are_the_readmes():
    commands = quick_start_commands()
    section = (ROOT / "README.md").read_text().split("\n## Quick start\n", 1)[1]
    assert len(commands) >= 2  # a CSV of one's own, and a bundled dataset
    for command in commands:
        assert command[:2] == PROGRAM and f"\n{shlex.join(command)}\n" in section
    assert any("--data" in c for c in commands) and any("--dataset" in c for c in commands)


def _data_for(command: list[str], folder: Path) -> None:
    """The CSV a `--data FILE --target T --drop A,B` command names: 60 rows, with those
    columns, a target that the features predict."""
    options = dict(zip(command[2::2], command[3::2], strict=False))
    if "--data" not in options:
        return
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    frame = pd.DataFrame({"tenure": x[:, 0], "spend": x[:, 1]})
    for name in options.get("--drop", "").split(","):
        if name:
            frame[name] = [f"c{i:04d}" for i in range(60)]
    frame[options["--target"]] = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    frame.to_csv(folder / options["--data"], index=False)


@pytest.mark.slow
def test_the_quick_start_commands_run(tmp_path):
    """Each command as the README gives it (from a folder holding the CSV it names), plus a tiny
    budget; side by side, as each is mostly TensorFlow's start-up."""
    runs = []
    for i, command in enumerate(quick_start_commands()):
        folder = tmp_path / f"command{i}"
        folder.mkdir()
        _data_for(command, folder)
        argv = [sys.executable, str(ROOT / "run_tuning.py"), *command[2:], *TINY_BUDGET,
                "--out", str(folder / "runs"), "--name", "run"]
        runs.append((folder, subprocess.Popen(argv, cwd=folder, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True)))
    for folder, proc in runs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        assert "result: test " in out
        metrics = json.loads((folder / "runs" / "run" / "metrics.json").read_text())
        assert metrics["status"] == "complete" and metrics["trials"]["completed"] >= 1
