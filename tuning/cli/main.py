"""Command line: tune an MLP on a CSV or a bundled dataset, or predict with an exported model.

    python run_tuning.py [TUNE OPTIONS]          (or the installed `keras-mlp-tuner`)
    python run_tuning.py predict --model DIR --data CSV --out CSV

Argument parsing, exit statuses and the process-wide settings live here; TensorFlow is imported
after the options are checked, so `--help` and bad options answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up noise
# oneDNN's custom kernels cost more than they save on small MLPs (digits, 10 trials x 50 epochs,
# whole run: 21.1 s with them, 17.0 s without, same results), and TensorFlow 2.21 announces them
# on stderr whatever TF_CPP_MIN_LOG_LEVEL says. Set TF_ENABLE_ONEDNN_OPTS=1 to keep them.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

_EPILOG = """\
commands:
  python run_tuning.py [options]                       tune (default data: breast_cancer)
  python run_tuning.py predict --model DIR --data CSV --out CSV
                                                       predict with an exported model

exit status: 0 success, 2 bad input or configuration (or every trial failed),
1 unexpected error, 130 interrupted (Ctrl-C; --resume continues).
See README.md for the search space and the run folder's files."""


def _csv_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _tune_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_tuning.py",
        description="Find the best multilayer perceptron for a table of data with Keras Tuner, "
        "and diagnose whether it over- or underfits.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = p.add_argument_group("data")
    data.add_argument("--data", metavar="PATH", help="a CSV file with a header row")
    data.add_argument("--target", metavar="NAME", help="the target column (required with --data)")
    data.add_argument("--drop", metavar="A,B", type=_csv_list, default=(),
                      help="feature columns to leave out (leaks, IDs)")
    data.add_argument("--dataset", metavar="NAME",
                      help="a bundled scikit-learn dataset: breast_cancer, digits, wine, iris, "
                      "diabetes (default: breast_cancer when no --data)")
    data.add_argument("--task", default="auto",
                      help="auto, binary, multiclass or regression (default: auto)")
    data.add_argument("--val-size", type=float, default=0.15, metavar="F",
                      help="share of rows for validation (default: 0.15)")
    data.add_argument("--test-size", type=float, default=0.15, metavar="F",
                      help="share of rows for test (default: 0.15)")
    search = p.add_argument_group("search")
    search.add_argument("--tuner", default="bayesian",
                        help="random, grid, bayesian or hyperband (default: bayesian)")
    search.add_argument("--max-trials", type=int, default=20, metavar="N",
                        help="trials to run; hyperband stops after at most N (default: 20)")
    search.add_argument("--epochs", type=int, default=100, metavar="N",
                        help="most epochs per trial (default: 100)")
    search.add_argument("--patience", type=int, default=10, metavar="N",
                        help="early-stopping patience on validation loss; 0 turns it off "
                        "(default: 10)")
    search.add_argument("--space", metavar="FILE", help="search-space TOML file (see README)")
    search.add_argument("--seed", type=int, default=0, metavar="N",
                        help="makes splits, initial weights and the search repeatable (default: 0)")
    search.add_argument("--workers", type=int, default=1, metavar="N",
                        help="trials run at once on this machine (default: 1)")
    search.add_argument("--refit", action="store_true",
                        help="retrain the best configuration on train+validation before export")
    dist = p.add_argument_group(
        "parallel and distributed tuning (Keras Tuner's chief/worker mode; see README)")
    dist.add_argument("--chief", action="store_true",
                      help="serve the search on --bind:--port for --worker processes on other "
                      "machines, run --workers N local workers (0: serve only), then write the "
                      "results; needs --name and a run folder shared with the workers")
    dist.add_argument("--port", type=int, metavar="P", help="the chief's port (with --chief)")
    dist.add_argument("--bind", default="0.0.0.0", metavar="ADDR",
                      help="the address the chief listens on (default: 0.0.0.0, every interface)")
    dist.add_argument("--worker", action="store_true",
                      help="run trials for the chief at --oracle; repeat the chief's options, "
                      "--out and --name included")
    dist.add_argument("--oracle", metavar="HOST:PORT",
                      help="where the chief listens (with --worker)")
    dist.add_argument("--worker-id", metavar="NAME",
                      help="this worker's name (default: worker-<host>-<pid>)")
    dist.add_argument("--threads", type=int, metavar="N",
                      help="TensorFlow threads per process (default: 1, or cores // --workers when "
                      "the space's widest layer times its largest batch is 512 x 1024 or more)")
    dist.add_argument("--connect-timeout", type=float, default=600.0, metavar="S",
                      help="seconds a worker keeps retrying to reach the chief (default: 600)")
    dist.add_argument("--worker-timeout", type=float, default=60.0, metavar="S",
                      help="seconds without a call from a worker after which the chief records "
                      "its trial as failed and goes on without it (default: 60)")
    out = p.add_argument_group("output")
    out.add_argument("--out", default="runs", metavar="DIR",
                     help="where run folders go (default: runs)")
    out.add_argument("--name", metavar="NAME",
                     help="the run folder's name (default: from the data and the time)")
    out.add_argument("--resume", action="store_true",
                     help="continue the run --out/--name after an interruption")
    return p


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad options as one `error:` line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message}. Run with --help for the options.\n")
        sys.exit(2)


# Exit statuses (README, "Failures, interruptions and resume").
EXIT_BAD_INPUT = 2  # bad input or configuration, or every trial failed
EXIT_UNEXPECTED = 1  # a bug or an environment problem: the traceback is printed
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it); --resume continues


def _fail(message: str, status: int = EXIT_BAD_INPUT) -> int:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    return status


def _tune(argv: list[str]) -> int:
    parser = _tune_parser()
    parser.__class__ = _Parser
    args = parser.parse_args(argv)
    from common.errors import SearchInterrupted, TuningError
    from tuning.config import RunConfig

    try:
        config = RunConfig(**vars(args))
        from tuning.interrupts import catch_interrupts
        from tuning.run.pipeline import run

        catch_interrupts()

        run(config, report=_report)
    except TuningError as exc:
        return _fail(str(exc))
    except SearchInterrupted as exc:
        run_dir = Path(exc.run_dir)
        sys.stderr.write(
            f"interrupted: {exc.trials_done} trial(s) finished; trials.csv and metrics.json in "
            f"{run_dir} hold the results so far. Continue with the same options plus "
            f"--resume --out {run_dir.parent} --name {run_dir.name}\n"
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        sys.stderr.write("interrupted before the search started or after it ended; nothing "
                         "finished was lost (with --name, --resume continues)\n")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: say what happened
        traceback.print_exc()
        return _fail(
            f"unexpected {type(exc).__name__}: {exc}. This is a bug or an environment problem "
            "(the traceback is above); the run folder, if any, is unfinished (no metrics.json "
            "saying complete) and --resume continues it.",
            EXIT_UNEXPECTED,
        )
    return 0


def _report(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "predict":
        from tuning.cli.predict import main as predict_main

        return predict_main(argv[1:])
    return _tune(argv)


def _exit_now(status: int) -> None:
    """End the process once everything is written, without the interpreter's teardown.

    The exit handlers still run (a chief stops its local workers), and the console is flushed;
    what is skipped is deleting TensorFlow's objects one by one, which took 0.2 s of every run.
    """
    import atexit

    atexit._run_exitfuncs()  # noqa: SLF001 - what a normal exit would run first
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more to say anyway
            pass
    os._exit(status)


def entry() -> None:
    """The `keras-mlp-tuner` console command: `main`, then the fast exit."""
    _exit_now(main())
