"""The installed `keras-mlp-tuner` command is the same command line as `run_tuning.py`."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _entry_point():
    module, _, name = PYPROJECT["project"]["scripts"]["keras-mlp-tuner"].partition(":")
    return getattr(importlib.import_module(module), name)


def test_the_console_script_answers_help_without_tensorflow():
    """What pip's generated script does: import the entry point and call it, in a fresh
    process, from another folder."""
    module, _, name = PYPROJECT["project"]["scripts"]["keras-mlp-tuner"].partition(":")
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.argv = ['x', '--help']\n"
            f"from {module} import {name}\n"
            f"try:\n    {name}()\n"
            "finally:\n    assert 'tensorflow' not in sys.modules, 'TF imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT.parent, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: keras-mlp-tuner [-h]")
    shim = subprocess.run([sys.executable, str(ROOT / "run_tuning.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    # The same options and texts after the usage lines (wrapped to the program's name).
    after_usage = "\n\nFind the best"
    assert after_usage in shim.stdout
    assert proc.stdout[proc.stdout.index(after_usage):] == \
        shim.stdout[shim.stdout.index(after_usage):]


def test_the_entry_point_runs_main_then_the_fast_exit(monkeypatch):
    from tuning.cli import main

    entry, ended = _entry_point(), []
    monkeypatch.setattr(main, "main", lambda argv=None, prog="": 7 if prog else 0)
    monkeypatch.setattr(main, "_exit_now", ended.append)
    entry()
    assert ended == [7]


def test_a_bad_option_is_one_error_line_and_status_2(capsys):
    import pytest

    from tuning.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["--max-trials", "x"], prog="keras-mlp-tuner")
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: argument --max-trials: invalid int value")


def test_the_package_pins_the_same_versions_as_requirements_txt():
    required = re.findall(r"^([\w-]+==\S+)", (ROOT / "requirements.txt").read_text(), re.M)
    # The test tools (pytest, and pytest-xdist with its execnet to run it on 2 processes;
    # playwright for the report's browser tests; nbclient, nbformat and ipykernel for the
    # notebook's) are not the tool's.
    tools = ("pytest==", "pytest-xdist==", "execnet==", "playwright==", "nbclient==",
             "nbformat==", "ipykernel==")
    runtime = [pin for pin in required if not pin.startswith(tools)]
    assert PYPROJECT["project"]["dependencies"] == runtime


def test_the_package_ships_every_package_and_the_report_template():
    from setuptools import find_packages

    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(find_packages(str(ROOT), include=include))
    tops = [d for d in ROOT.iterdir() if (d / "__init__.py").exists()
            and d.name not in ("tests", "benchmarks")]
    on_disk = {".".join(i.parent.relative_to(ROOT).parts)
               for top in tops for i in top.rglob("__init__.py")}
    assert found == on_disk and {"common", "tuning.cli", "tuning.run"} <= found
    # Every file the report reads from templates/ (the page, its sort script) ships.
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["reports"]
    shipped = {path for pattern in globs for path in (ROOT / "reports").glob(pattern)}
    on_disk = set((ROOT / "reports" / "templates").iterdir())
    assert shipped == on_disk and any(path.suffix == ".j2" for path in shipped)
