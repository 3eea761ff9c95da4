"""The command line from outside: --help, exit statuses, one-line errors, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, str(ROOT / "run_tuning.py"), *args],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=120)


def test_help_does_not_import_tensorflow():
    code = ("import sys, runpy; sys.argv = ['run_tuning.py', '--help']\n"
            "try:\n    runpy.run_path('run_tuning.py', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "--max-trials" in proc.stdout and "predict" in proc.stdout


def _write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


GOOD = "a,b,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(40))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{tmp}/missing.csv", "--target", "y"], "does not exist"),
        (["--data", "{empty}", "--target", "y"], "is empty"),
        (["--data", "{header}", "--target", "y"], "no data rows"),
        (["--data", "{good}"], "--data needs --target"),
        (["--data", "{good}", "--target", "price"], "Target column 'price' not found"),
        (["--data", "{good}", "--target", "y", "--max-trials", "-3"], "--max-trials"),
        (["--data", "{good}", "--target", "y", "--tuner", "magic"], "--tuner 'magic'"),
        (["--data", "{good}", "--target", "y", "--val-size", "0.6", "--test-size", "0.4"],
         "leaves too little"),
        (["--data", "{good}", "--target", "y", "--name", "../x"], "not a plain folder name"),
        (["--data", "{good}", "--target", "y", "--space", "{badspace}"], "unknown key"),
        (["--data", "{good}", "--target", "y", "--task", "regression", "--drop", "a,b"],
         "No usable feature column"),
        (["--epochs", "many"], "invalid int value"),
        (["--dataset", "mnist"], "Unknown --dataset"),
    ],
    ids=["missing-file", "empty-file", "header-only", "no-target", "unknown-target",
         "negative-trials", "unknown-tuner", "splits-too-big", "bad-name", "bad-space",
         "all-dropped", "non-integer-epochs", "unknown-dataset"],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    paths = {
        "tmp": str(tmp_path),
        "empty": _write(tmp_path, "empty.csv", ""),
        "header": _write(tmp_path, "header.csv", "a,b,y\n"),
        "good": _write(tmp_path, "good.csv", GOOD),
        "badspace": _write(tmp_path, "space.toml", "neurons = 3\n"),
    }
    out = tmp_path / "runs"
    proc = _cli(*[a.format(**paths) for a in args], "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())  # nothing half-written
