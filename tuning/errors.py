"""The tool's error hierarchy: user-facing errors that also subclass the built-ins."""

from __future__ import annotations


class TunerError(Exception):
    """Base class for every error the tool reports to the user as `error: ...` (exit status 2)."""


class ConfigError(TunerError, ValueError):
    """A command-line option or search-space file is invalid."""


class DataError(TunerError, ValueError):
    """The input data cannot be used as given."""


class ModelError(TunerError, ValueError):
    """An exported model folder is missing, incomplete or not made by this tool."""


class SearchFailedError(TunerError, RuntimeError):
    """Every trial of the search failed, so there is no model to report."""
