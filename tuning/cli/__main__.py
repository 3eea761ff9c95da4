"""`python -m tuning.cli`: the command line, as local worker processes start it."""

from tuning.cli.main import entry

entry()
