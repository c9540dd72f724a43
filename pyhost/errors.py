"""The one error tree of pyhost.

Every error a user can cause or meet is a `PyhostError`: it carries the exit code the CLI
returns and a one-line message that says what is wrong and what to do. Library errors
(paramiko, yaml, OSError) are translated at the boundary with ``raise ... from e`` so that
``--debug`` still shows the original traceback.
"""

from __future__ import annotations


class ExitStatus:
    """Exit codes shared by every subcommand (documented in the README).

    Plain ints rather than an IntEnum: importing enum costs ~10 ms of every start, and
    `pyhost run` is held to a start-up budget (bench/run_bench.py).
    """

    OK = 0
    FAILURE = 1  # some host failed, or an audit found problems
    USAGE = 2  # bad flag, bad inventory, bad input file
    UNREACHABLE = 4  # some host could not be reached
    RUN_FAILED = 125  # `pyhost run` itself failed (as `docker run` does)
    NOT_EXECUTABLE = 126  # the container's command cannot be executed
    NOT_FOUND = 127  # the container's command was not found
    INTERRUPTED = 130  # Ctrl-C


class PyhostError(Exception):
    """Root of every error pyhost shows to a user as one line."""

    exit_status: int = ExitStatus.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and, when there is one, what to do about it, on one line."""
        text = " ".join(self.message.split())
        if self.hint:
            text = f"{text} ({' '.join(self.hint.split())})"
        return text


class UsageError(PyhostError):
    """The command line or an input file is wrong; nothing was changed."""

    exit_status = ExitStatus.USAGE


class InventoryError(UsageError):
    """The inventory cannot be read or does not make sense.

    ``path`` and ``line`` (1-based) point at the place, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}", hint=hint)
        self.path = path
        self.line = line


class HostError(PyhostError):
    """Something failed on one host; the other hosts go on."""

    def __init__(self, host: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{host}: {message}", hint=hint)
        self.host = host


class UnreachableError(HostError):
    """A host could not be reached or authenticated (network, SSH, host key)."""

    exit_status = ExitStatus.UNREACHABLE


class HostKeyError(UnreachableError):
    """The host's SSH key is unknown or does not match known_hosts."""


class CommandFailed(HostError):
    """A command ran on a host and exited non-zero."""

    def __init__(self, host: str, command: str, exit_code: int, stderr: str) -> None:
        tail = " | ".join(line for line in stderr.strip().splitlines()[-3:] if line.strip())
        message = f"`{command}` exited {exit_code}"
        if tail:
            message += f": {tail}"
        super().__init__(host, message)
        self.command = command
        self.exit_code = exit_code
        self.stderr = stderr


class NotAvailableError(PyhostError):
    """A capability this version does not offer yet; says which version or issue brings it."""

    exit_status = ExitStatus.USAGE
