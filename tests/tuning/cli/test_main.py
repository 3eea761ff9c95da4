"""The command line from outside: --help, exit statuses, one-line errors, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, str(ROOT / "run_tuning.py"), *args],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=120)


def test_help_does_not_import_tensorflow():
    code = ("import sys, runpy; sys.argv = ['run_tuning.py', '--help']\n"
            "try:\n    runpy.run_path('run_tuning.py', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, "
            "'TF imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "--max-trials" in proc.stdout and "predict" in proc.stdout


def test_bad_input_is_refused_without_tensorflow(tmp_path):
    """A wrong target (found once the data is read) is refused before TensorFlow loads: the
    error paths stay instant (an import of Keras Tuner at the top of the search's collector once
    made every error take seconds)."""
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    code = ("import sys\nfrom tuning.cli.main import main\n"
            f"status = main(['--data', {str(data)!r}, '--target', 'y',"
            f" '--out', {str(tmp_path / 'runs')!r}])\n"
            "assert status == 2, status\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "Target column 'y' not found" in proc.stderr


def _rows(n: int, target) -> str:
    return "".join(f"{i},{i % 7},{target(i)}\n" for i in range(n))


GOOD = "a,b,y\n" + _rows(40, lambda i: i % 2)
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N")

# name -> contents of the input files the cases below refer to as {name}.
FILES: dict[str, str | bytes] = {
    "good": GOOD,
    "empty": "",
    "header": "a,b,y\n",
    "png": PNG,
    "json": '[{"a": 1, "b": 2, "y": 0}, {"a": 3, "b": 4, "y": 1}]\n',
    "ragged": "a,b,y\n1,2,0\n3,4,1,5,6\n7,8,0\n",
    "shifted": "a,y\n1,2,3\n4,5,6\n",  # pandas would read the first column as an index
    "no_target_values": "a,b,y\n" + _rows(40, lambda i: ""),
    "one_class": "a,b,y\n" + _rows(40, lambda i: "yes"),
    "tiny_class": "a,b,y\n" + _rows(40, lambda i: "rare" if i == 0 else i % 2),
    "three_rows": "a,b,y\n" + _rows(3, lambda i: i * 1.5),
    "constant": "a,b,y\n" + "".join(f"1,x,{i % 2}\n" for i in range(40)),
    "duplicate": "a,a,y\n" + _rows(40, lambda i: i % 2),
    "duplicate_spaced": "a, a,y\n" + _rows(40, lambda i: i % 2),
    "text_target": "a,b,y\n" + _rows(40, lambda i: "abc"[i % 3]),
    "not_toml": "layers = [\n",
    "unknown_key": "neurons = 3\n",
    "min_over_max": "layers = { min = 4, max = 2 }\n",
    "unknown_optimizer": 'optimizer = ["adam", "lbfgs"]\n',
    "unknown_activation": 'activation = "softplusx"\n',
    "negative_lr": "learning_rate = -0.1\n",
    "a_file": "not a folder\n",
    # Run folders to --resume whose settings.json is valid JSON but not an object.
    "list_settings/r/settings.json": "[1, 2]\n",
    "null_settings/r/settings.json": "null\n",
}

SPACE_FILES = {"not_toml", "unknown_key", "min_over_max", "unknown_optimizer",
               "unknown_activation", "negative_lr"}

# (id, arguments, what the one error line must say). Every case must exit with status 2.
CASES = [
    ("missing-file", ["--data", "{tmp}/missing.csv", "--target", "y"],
     "Data file '{tmp}/missing.csv' does not exist"),
    ("folder-as-data", ["--data", "{tmp}", "--target", "y"], "is a folder; pass a CSV file"),
    ("png", ["--data", "{png}", "--target", "y"], "is not a text file"),
    ("json", ["--data", "{json}", "--target", "y"], "holds JSON, not CSV"),
    ("ragged", ["--data", "{ragged}", "--target", "y"],
     "is ragged: line 3 has 5 fields but the header has 3"),
    ("extra-field-every-row", ["--data", "{shifted}", "--target", "y"], "is ragged: line 2"),
    ("empty-file", ["--data", "{empty}", "--target", "y"], "is empty"),
    ("header-only", ["--data", "{header}", "--target", "y"], "has a header but no data rows"),
    ("no-target", ["--data", "{good}"], "--data needs --target"),
    ("unknown-target", ["--data", "{good}", "--target", "price"],
     "Target column 'price' not found. Columns are: a, b, y. Pass --target"),
    ("target-all-missing", ["--data", "{no_target_values}", "--target", "y"],
     "Target column 'y' has no values"),
    ("single-class", ["--data", "{one_class}", "--target", "y"],
     "Target column 'y' has a single value ('yes') in every row"),
    ("class-too-small", ["--data", "{tiny_class}", "--target", "y"],
     "Class 'rare' of the target has only 1 row(s)"),
    ("too-few-rows", ["--data", "{three_rows}", "--target", "y"], "Only 3 usable rows"),
    ("all-constant", ["--data", "{constant}", "--target", "y"],
     "No usable feature column is left ('a': constant"),
    ("all-dropped", ["--data", "{good}", "--target", "y", "--task", "regression", "--drop", "a,b"],
     "No usable feature column"),
    ("drop-unknown", ["--data", "{good}", "--target", "y", "--drop", "zz"],
     "--drop names columns that are not in the data: zz"),
    ("duplicate-columns", ["--data", "{duplicate}", "--target", "y"],
     "duplicate column names: a"),
    ("duplicate-after-spaces", ["--data", "{duplicate_spaced}", "--target", "y"],
     "duplicate column names: a"),
    ("regression-on-text", ["--data", "{text_target}", "--target", "y", "--task", "regression"],
     "--task regression needs a numeric target"),
    ("negative-trials", ["--data", "{good}", "--target", "y", "--max-trials", "-3"],
     "--max-trials (max_trials) must be a whole number ≥ 1, got -3"),
    ("non-integer-epochs", ["--epochs", "many"], "invalid int value"),
    ("unknown-tuner", ["--data", "{good}", "--target", "y", "--tuner", "magic"],
     "--tuner 'magic' is not one of"),
    ("splits-too-big", ["--data", "{good}", "--target", "y", "--val-size", "0.6",
                        "--test-size", "0.4"], "leaves too little"),
    ("unknown-dataset", ["--dataset", "mnist"], "Unknown --dataset"),
    ("space-missing", ["--data", "{good}", "--target", "y", "--space", "{tmp}/none.toml"],
     "file not found"),
    ("space-not-toml", ["--data", "{good}", "--target", "y", "--space", "{not_toml}"],
     "not valid TOML"),
    ("space-unknown-key", ["--data", "{good}", "--target", "y", "--space", "{unknown_key}"],
     "unknown key(s) neurons"),
    ("space-min-over-max", ["--data", "{good}", "--target", "y", "--space", "{min_over_max}"],
     "layers has min 4 > max 2"),
    ("space-unknown-optimizer", ["--data", "{good}", "--target", "y", "--space",
                                 "{unknown_optimizer}"], "optimizer = 'lbfgs' is not allowed"),
    ("space-unknown-activation", ["--data", "{good}", "--target", "y", "--space",
                                  "{unknown_activation}"],
     "activation = 'softplusx' is not allowed"),
    ("space-negative-lr", ["--data", "{good}", "--target", "y", "--space", "{negative_lr}"],
     "learning_rate = -0.1 is out of range"),
    ("out-below-a-file", ["--data", "{good}", "--target", "y", "--out", "{a_file}/runs"],
     "'{a_file}' is a file, not a folder"),
    ("out-is-a-file", ["--data", "{good}", "--target", "y", "--out", "{a_file}"],
     "is a file, not a folder"),
    ("name-with-dots", ["--data", "{good}", "--target", "y", "--name", "../x"],
     "not a plain folder name"),
    ("name-with-slash", ["--data", "{good}", "--target", "y", "--name", "a/b"],
     "not a plain folder name"),
    ("resume-nothing", ["--data", "{good}", "--target", "y", "--resume", "--name", "none"],
     "Nothing to resume"),
    ("resume-settings-a-list", ["--data", "{good}", "--target", "y", "--resume", "--name", "r",
                                "--out", "{tmp}/list_settings"],
     "its settings.json holds [1, 2], not the object of settings"),
    ("resume-settings-null", ["--data", "{good}", "--target", "y", "--resume", "--name", "r",
                              "--out", "{tmp}/null_settings"],
     "its settings.json holds null, not the object of settings"),
]


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` with its bytes (None for a folder)."""
    return {str(p): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path, dict]]:
    """Every case's CLI run, a few at a time: most of each run is Python starting up."""
    folder = tmp_path_factory.mktemp("inputs")
    paths = {"tmp": str(folder)}
    for name, content in FILES.items():
        path = folder / (name if "/" in name else
                         f"{name}.{'toml' if name in SPACE_FILES else 'csv'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths[name] = str(path)
    before = _tree(folder)

    def one(case):
        case_id, args, _ = case
        argv = [a.format(**paths) for a in args]
        if "--out" in args:  # the case's own --out: it must be left exactly as it was
            out = Path(argv[argv.index("--out") + 1])
        else:
            out = folder / f"out-{case_id}"
            argv += ["--out", str(out)]
        return case_id, (argv, out)

    prepared = [one(case) for case in CASES]
    # One interpreter runs every case through run_tuning.main, as `python run_tuning.py ...`
    # would, one after the other: ~0.35 s of start-up each (39 cases) became one.
    jobs = folder.parent / "bad_jobs.json"
    jobs.write_text(json.dumps([argv for _, (argv, _) in prepared]))
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", _EACH_CASE, str(jobs)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    runs = {case_id: (subprocess.CompletedProcess(argv, result["status"], result["stdout"],
                                                  result["stderr"]), out, paths)
            for (case_id, (argv, out)), result in zip(prepared, results, strict=True)}
    return runs, before, _tree(folder)


_EACH_CASE = """
import contextlib, io, json, sys
from tuning.cli.main import main
results = []
for argv in json.load(open(sys.argv[1])):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit:  # argparse's own refusals
            status = exit.code
    results.append({"status": status, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


@pytest.mark.parametrize(("case_id", "message"), [(c[0], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line(bad_runs, case_id, message):
    runs, before, after = bad_runs
    proc, out, paths = runs[case_id]
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert message.format(**paths) in lines[0]
    assert "Traceback" not in proc.stderr
    # Nothing half-written: the --out given is as it was (absent, or the input put there).
    under = [p for p in after if p == str(out) or p.startswith(f"{out}/")]
    assert {p: after[p] for p in under} == {
        p: before[p] for p in before if p == str(out) or p.startswith(f"{out}/")}


def test_bad_input_writes_nothing_anywhere_among_its_inputs(bad_runs):
    _, before, after = bad_runs
    assert after == before


def test_an_unexpected_error_exits_1_and_leaves_no_finished_looking_folder(tmp_path):
    data = tmp_path / "good.csv"
    data.write_text(GOOD)
    code = ("import sys, run_tuning, tuning.search.tuners\n"
            "def boom(*args, **kwargs):\n    raise RuntimeError('disk on fire')\n"
            "tuning.search.tuners.make_tuner = boom\n"
            "sys.exit(run_tuning.main(sys.argv[1:]))\n")
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code, "--data", str(data), "--target", "y",
                           "--out", str(tmp_path / "runs"), "--name", "run"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: unexpected RuntimeError: disk on fire.")
    assert "Traceback" in proc.stderr  # a bug report needs it
    run_dir = tmp_path / "runs" / "run"
    assert (run_dir / "settings.json").exists() and not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_a_run_keeps_the_console_to_its_own_lines(cli_run):
    # TensorFlow 2.21 prints oneDNN's notice whatever TF_CPP_MIN_LOG_LEVEL says: run_tuning.py
    # must quiet TensorFlow's C++ start-up logging itself (cli_run sets no TF_ variables).
    proc, run_dir = cli_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr
    assert "search: " in proc.stdout and "run folder: " in proc.stdout
    assert f"run folder: {run_dir}" in proc.stdout


def _repeatable(run_dir: Path) -> tuple[list[dict[str, str]], dict]:
    """What a seed must repeat: trials.csv (less its wall times) and every test score."""
    import csv

    with open(run_dir / "trials.csv", newline="") as handle:
        rows = [{k: v for k, v in row.items() if k != "seconds"}
                for row in csv.DictReader(handle)]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return rows, {"network": metrics["metrics"]["test"],
                  "exported": metrics["exported_model"]["test"]}


# A new interpreter that runs each command line of argv lists (JSON) through run_tuning.main, one
# after the other, as `python run_tuning.py ...` would; it stops at the first that fails.
_EACH_RUN = """
import json, sys
import run_tuning
for argv in json.loads(sys.argv[1]):
    status = run_tuning.main(argv)
    if status != 0:
        sys.exit(f"{argv}: exit {status}")
"""


@pytest.mark.slow
def test_two_processes_with_the_same_seed_write_the_same_trials_and_test_scores(cli_run,
                                                                                  tmp_path):
    """cli_run (seed 0) repeated in a new process with --seed 0, and then, in that same process
    (one TensorFlow start-up less), once with --seed 1."""
    from tests.conftest import CLI_RUN_ARGS, cli_run_env

    proc, run_dir = cli_run
    assert proc.returncode == 0, proc.stderr

    runs = [[*CLI_RUN_ARGS, "--seed", str(seed), "--out", str(tmp_path), "--name", f"seed{seed}"]
            for seed in (0, 1)]  # seed 0 first: the process is as new as cli_run's
    again = subprocess.run([sys.executable, "-c", _EACH_RUN, json.dumps(runs)], cwd=ROOT,
                           env=cli_run_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stdout
    same, other = _repeatable(tmp_path / "seed0"), _repeatable(tmp_path / "seed1")
    assert same == _repeatable(run_dir)
    assert other[0] != same[0] and other[1]["network"] != same[1]["network"]
    assert other[1]["exported"] != same[1]["exported"]


def test_the_resume_command_repeats_the_options_with_the_folder_and_resume_once(tmp_path):
    from tuning.cli.main import resume_command

    run_dir = tmp_path / "my runs" / "r1"
    argv = ["--data", "a b.csv", "--target", "y", "--resume", "--out=old", "--name", "r0",
            "--max-trials", "5"]
    assert resume_command(argv, "run_tuning.py", run_dir) == (
        f"python run_tuning.py --data 'a b.csv' --target y --max-trials 5 "
        f"--out '{tmp_path}/my runs' --name r1 --resume")
    assert resume_command([], "keras-mlp-tuner", run_dir).startswith("keras-mlp-tuner --out ")
