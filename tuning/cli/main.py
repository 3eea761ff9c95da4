"""Command line: tune an MLP on a CSV or a bundled dataset, or predict with an exported model.

    python run_tuning.py [TUNE OPTIONS]          (or the installed `keras-mlp-tuner`)
    python run_tuning.py predict --model DIR --data CSV --out CSV

Argument parsing, exit statuses and the process-wide settings live here; TensorFlow is imported
after the options are checked, so `--help` and bad options answer at once.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.space import SearchSpace
    from reports.console import TerminalLine
    from tuning.config import RunConfig

from tuning.process import set_tensorflow_environment

set_tensorflow_environment()  # before anything imports TensorFlow

# Exit statuses (README, "Failures, interruptions and resume").
EXIT_BAD_INPUT = 2  # bad input or configuration, or every trial failed
EXIT_UNEXPECTED = 1  # a bug or an environment problem: the traceback is printed
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it); --resume continues
EXIT_TERMINATED = 143  # SIGTERM (128 + 15), handled as Ctrl-C is


def _fail(message: str, status: int = EXIT_BAD_INPUT) -> int:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    return status


def _tune(argv: list[str], prog: str) -> int:
    from tuning.cli.args import tune_parser

    args = tune_parser(prog).parse_args(argv)
    from common.errors import SearchInterrupted, TuningError
    from tuning.config import RunConfig

    try:
        config = RunConfig(**vars(args))
        from tuning.interrupts import catch_interrupts
        from tuning.run.pipeline import run

        catch_interrupts(sigterm=not config.worker)  # a worker's chief stops it with SIGTERM

        run(config, report=_report, configure=_configure_process, live=_live_line())
    except TuningError as exc:
        return _fail(str(exc))
    except SearchInterrupted as exc:
        run_dir = Path(exc.run_dir)
        done = "" if exc.trials_done is None else f"{exc.trials_done} trial(s) finished; "
        held = (f"trials.csv and metrics.json in {run_dir} hold the results so far" if exc.written
                else f"stopped before the results so far were written; the search's state in "
                     f"{run_dir} keeps every ended trial")
        sys.stderr.write(f"interrupted: {done}{held}. Continue with the same options plus "
                         f"--resume --out {run_dir.parent} --name {run_dir.name}:\n"
                         f"{resume_command(argv, prog, run_dir)}\n")
        return _interrupted_status()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted before the run folder was opened; nothing was written\n")
        return _interrupted_status()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: say what happened
        traceback.print_exc()
        return _fail(
            f"unexpected {type(exc).__name__}: {exc}. This is a bug or an environment problem "
            "(the traceback is above); the run folder, if any, is unfinished (no metrics.json "
            "saying complete) and --resume continues it.",
            EXIT_UNEXPECTED,
        )
    return 0


def resume_command(argv: list[str], prog: str, run_dir: Path) -> str:
    """The command line that continues the run: the same options, with `--out` and `--name`
    naming its folder and `--resume` added (the console's last line after an interruption)."""
    import shlex

    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--out", "--name"):
            skip = True  # its value follows
        elif arg != "--resume" and not arg.startswith(("--out=", "--name=")):
            kept.append(arg)
    program = ["python", prog] if prog.endswith(".py") else [prog]
    return shlex.join([*program, *kept, "--out", str(run_dir.parent), "--name", run_dir.name,
                       "--resume"])


def _interrupted_status() -> int:
    from tuning.interrupts import terminated

    return EXIT_TERMINATED if terminated() else EXIT_INTERRUPTED


def _report(line: str) -> None:
    print(line, flush=True)


def _live_line() -> TerminalLine | None:
    """The updating line of a long trial's epochs: on a terminal only, never in a log or pipe."""
    if not sys.stdout.isatty():
        return None
    from reports.console import TerminalLine

    return TerminalLine(sys.stdout)


def _configure_process(config: RunConfig, space: SearchSpace) -> None:
    """What a command line sets for its whole process, once TensorFlow is about to work:
    TensorFlow's thread pools sized deliberately, and the garbage collector told to skip what
    exists now (`tuning.process`). A library caller's process is left as it is."""
    from tuning.process import freeze_gc, set_thread_pools

    set_thread_pools(config, space)  # False in tests that run many pipelines: already set
    freeze_gc()


def main(argv: list[str] | None = None, prog: str = "run_tuning.py") -> int:
    """Run the command line.

    Args:
        argv: the arguments after the program's name. Defaults to `sys.argv[1:]`.
        prog: the program's name in `--help`.

    Returns:
        The exit status (see the module's constants).
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "predict":
        from tuning.cli.predict import main as predict_main

        return predict_main(argv[1:])
    return _tune(argv, prog)


def _exit_now(status: int) -> None:
    """End the process once everything is written, without the interpreter's teardown.

    The exit handlers still run (a chief stops its local workers), and the console is flushed;
    what is skipped is deleting TensorFlow's objects one by one (README, Performance).
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
    _exit_now(main(prog="keras-mlp-tuner"))
