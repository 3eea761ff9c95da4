"""Command line: `python run_tuning.py --help`; the code is in `tuning.cli.main`."""

from tuning.cli.main import _exit_now, main

if __name__ == "__main__":
    _exit_now(main())
