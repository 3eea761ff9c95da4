"""argparse for both commands: the tune options come from `tuning.options.OPTIONS`."""

from __future__ import annotations

import argparse
import sys

from tuning.options import GROUPS, OPTIONS, Option, split_names

_EPILOG = """\
commands:
  python run_tuning.py [options]                       tune (default data: breast_cancer)
  python run_tuning.py predict --model DIR --data CSV --out CSV
                                                       predict with an exported model

exit status: 0 success, 2 bad input or configuration (or every trial failed),
1 unexpected error, 130 interrupted by Ctrl-C or 143 by SIGTERM (the last line on stderr
is the --resume command that continues).
See README.md for the search space and the run folder's files."""


class Parser(argparse.ArgumentParser):
    """argparse that reports bad options as one `error:` line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message}. Run with --help for the options.\n")
        sys.exit(2)


def tune_parser(prog: str = "run_tuning.py") -> Parser:
    """The tune command's parser: one flag per option, in `--help` sections by group."""
    p = Parser(
        prog=prog,
        description="Find the best multilayer perceptron for a table of data with Keras Tuner, "
        "and diagnose whether it over- or underfits.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name in GROUPS:  # added section by section: the usage line lists them so
        _add_group(p.add_argument_group(name), [o for o in OPTIONS if o.group == name])
    return p


def _add_group(group: argparse._ArgumentGroup, options: list[Option]) -> None:
    for option in options:
        if option.kind is bool:
            group.add_argument(option.flag, action="store_true", help=option.help)
            continue
        more = {} if option.metavar is None else {"metavar": option.metavar}
        convert = option.parse or (split_names if option.kind is tuple else option.kind)
        if convert is not str:
            more["type"] = convert
        if option.default is not None:
            more["default"] = option.default
        group.add_argument(option.flag, help=option.help, **more)
