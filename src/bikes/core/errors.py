"""User-facing errors, each mapped to a documented exit code.

The CLI turns a `BikesError` into one line on stderr and its exit code; any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations


class BikesError(Exception):
    """Base class of the errors a user can fix (bad config, bad data, failed check)."""

    exit_code: int = 1


class ConfigError(BikesError):
    """A config file, an extra or a field is invalid (exit code 2)."""

    exit_code = 2


class DataError(BikesError):
    """A data file is missing, unreadable, corrupt or violates its schema (exit code 3)."""

    exit_code = 3


class InfraError(BikesError):
    """A resource outside the package failed: tracking server, store, disk or permissions (exit 5).

    The message names the resource (URI, file or folder) and what to do; the data and the config
    may well be right.
    """

    exit_code = 5


class CheckError(BikesError):
    """A job refused to go on: a metric threshold was breached or a promotion was gated (exit 4)."""

    exit_code = 4
