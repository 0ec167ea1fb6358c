"""Errors the CLI turns into one line on stderr and a documented exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_UNSUPPORTED = 3
EXIT_INTERRUPTED = 130


class BenchError(Exception):
    """A failure with a message meant for the user, not a traceback."""

    exit_code = EXIT_RUNTIME
    status = "failed"


class UsageError(BenchError):
    """Bad arguments or input files: the user can fix it."""

    exit_code = EXIT_USAGE


class ModelFileError(UsageError):
    """The model file is missing, not in the backend's format, or truncated."""


class UnsupportedError(BenchError):
    """A valid request this backend, model or host cannot run (a '-' cell in the report's tables)."""

    exit_code = EXIT_UNSUPPORTED
    status = "unsupported"


class BackendNotInstalled(UnsupportedError):
    pass


class RuntimeFailure(BenchError):
    """The backend failed while running a model it had loaded."""

    exit_code = EXIT_RUNTIME
