"""Errors of the runtime: `pyhost run` fails the way `docker run` does (125, 126, 127)."""

from __future__ import annotations

from pyhost.errors import ExitStatus, PyhostError, UsageError


class RunError(PyhostError):
    """pyhost could not start or manage the container (``docker run`` exits 125 here)."""

    exit_status = ExitStatus.RUN_FAILED


class RunUsageError(UsageError):
    """A bad flag or value for the runtime; nothing was created."""


class NoSuchContainer(UsageError):
    """No container has that name or id."""


class CommandNotFound(RunError):
    exit_status = ExitStatus.NOT_FOUND


class CommandNotExecutable(RunError):
    exit_status = ExitStatus.NOT_EXECUTABLE
