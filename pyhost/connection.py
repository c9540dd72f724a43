"""Run commands on a host: locally or over SSH (Fabric), behind one small interface.

Both connections open lazily and translate every failure into the `PyhostError` tree:
a host that cannot be reached is an `UnreachableError`, an unknown or changed host key a
`HostKeyError`, a command that exits non-zero a `CommandFailed`.

Host keys are always verified: Fabric's default is to trust any key (AutoAddPolicy); here an
unknown key is refused unless the caller explicitly allows first contact, and a changed key is
refused always. Become passwords travel on stdin, never on a command line, and never appear in
an error message.
"""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhost.errors import CommandFailed, HostError, HostKeyError, UnreachableError

if TYPE_CHECKING:
    from types import TracebackType

    from pyhost.inventory import Host

DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Result:
    """What one command did on one host."""

    host: str
    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def _sudo_wrap(command: str, *, user: str = "root") -> str:
    # -S reads the password from stdin, -p '' prints no prompt, -k never trusts a cached
    # credential (so a wrong password fails the same way every time).
    return f"sudo -S -k -p '' -u {shlex.quote(user)} -- /bin/sh -c {shlex.quote(command)}"


class Connection:
    """A host that can run commands. Subclasses implement `_run` and `_close`."""

    name: str
    is_root: bool
    become_password: str | None = None

    def run(
        self,
        command: str,
        *,
        sudo: bool = False,
        stdin: str | None = None,
        timeout: float | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> Result:
        """Run ``command`` with /bin/sh; with ``sudo`` as root (no-op when already root)."""
        shown = command
        password_in = ""
        if sudo and not self.is_root:
            password = self.become_password
            command = _sudo_wrap(command)
            # sudo reads one line for the password; the command's own stdin follows it.
            password_in = f"{password}\n" if password is not None else ""
        full_stdin = password_in + stdin if stdin is not None else password_in or None
        result = self._run(command, shown=shown, stdin=full_stdin, timeout=timeout, env=env)
        if check and not result.ok:
            raise CommandFailed(self.name, shown, result.exit_code, result.stderr)
        return result

    def _run(
        self,
        command: str,
        *,
        shown: str,
        stdin: str | None,
        timeout: float | None,
        env: Mapping[str, str] | None,
    ) -> Result:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection; safe to call twice."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LocalConnection(Connection):
    """This machine, through /bin/sh."""

    def __init__(self, name: str = "localhost", *, become_password: str | None = None) -> None:
        self.name = name
        self.is_root = os.geteuid() == 0
        self.become_password = become_password

    def _run(
        self,
        command: str,
        *,
        shown: str,
        stdin: str | None,
        timeout: float | None,
        env: Mapping[str, str] | None,
    ) -> Result:
        full_env = None if env is None else {**os.environ, **env}
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", command],
                input=stdin if stdin is not None else "",
                capture_output=True,
                text=True,
                timeout=timeout,
                env=full_env,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise HostError(self.name, f"`{shown}` did not finish within {timeout:g} s") from e
        return Result(self.name, shown, proc.returncode, proc.stdout, proc.stderr)


@dataclass
class SSHTarget:
    """Where and how to reach a host over SSH (from the inventory or the command line)."""

    name: str
    address: str
    port: int | None = None  # None: ~/.ssh/config's Port for this host, else 22
    user: str | None = None
    key_file: str | None = None
    become_password: str | None = field(default=None, repr=False)
    known_hosts: str | None = None  # extra known_hosts file; ~/.ssh/known_hosts is always read
    accept_new_host_key: bool = False
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    @classmethod
    def from_host(cls, host: Host, **overrides: Any) -> SSHTarget:
        target = cls(
            name=host.name,
            address=host.ansible_host,
            port=host.ansible_port if host.ansible_port_given else None,
            user=host.ansible_user,
            key_file=host.ansible_ssh_private_key_file,
            become_password=host.ansible_become_password,
        )
        for key, value in overrides.items():
            setattr(target, key, value)
        return target


def _drain(channel: Any, deadline: float | None) -> tuple[bytes | None, bytes]:
    """Read a channel's stdout and stderr until the command exits (None: deadline passed)."""
    out, err = bytearray(), bytearray()
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return None, bytes(err)
        select.select([channel], [], [], 0.2)
        while channel.recv_ready():
            out += channel.recv(65536)
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
        if (
            channel.exit_status_ready()
            and not channel.recv_ready()
            and not (channel.recv_stderr_ready())
        ):
            # the exit status can arrive before the last data: one more look
            while channel.recv_ready():
                out += channel.recv(65536)
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
            return bytes(out), bytes(err)


class SSHConnection(Connection):
    """A remote host over SSH with Fabric; opens on first use."""

    def __init__(self, target: SSHTarget) -> None:
        self.target = target
        self.name = target.name
        self.become_password = target.become_password
        self._conn: Any = None
        self.is_root = False

    @classmethod
    def from_fabric(
        cls, conn: Any, *, become_password: str | None = None, name: str | None = None
    ) -> SSHConnection:
        """Wrap a user's own Fabric ``Connection`` (from a fabfile), opened or not.

        Its host key policy is the user's: pyhost does not change it.
        """
        target = SSHTarget(
            name=name or conn.host,
            address=conn.host,
            port=int(conn.port),
            user=conn.user,
            become_password=become_password,
        )
        wrapped = cls(target)
        if not conn.is_connected:
            conn.open()
        wrapped._conn = conn
        wrapped.is_root = conn.user == "root"
        return wrapped

    def _open(self) -> Any:
        if self._conn is not None:
            return self._conn
        import paramiko  # lazily: importing Fabric costs start-up time
        from fabric import Connection as FabricConnection

        t = self.target
        connect_kwargs: dict[str, Any] = {"allow_agent": True}
        if t.key_file:
            connect_kwargs["key_filename"] = os.path.expanduser(t.key_file)
            connect_kwargs["look_for_keys"] = False
        # Fabric reads ~/.ssh/config (and /etc/ssh/ssh_config) for this host: HostName,
        # User, Port and IdentityFile apply where the inventory does not set them.
        conn = FabricConnection(
            host=t.address,
            user=t.user,
            port=t.port,
            connect_timeout=int(t.connect_timeout),
            connect_kwargs=connect_kwargs,
        )
        client = conn.client
        client.load_system_host_keys()
        user_known = Path("~/.ssh/known_hosts").expanduser()
        if user_known.is_file():
            client.load_host_keys(str(user_known))
        if t.known_hosts:
            client.load_host_keys(t.known_hosts)
        policy = paramiko.AutoAddPolicy() if t.accept_new_host_key else paramiko.RejectPolicy()
        client.set_missing_host_key_policy(policy)
        where = f"{t.address}:{conn.port}"
        try:
            conn.open()
        except paramiko.BadHostKeyException as e:
            raise HostKeyError(
                self.name,
                f"the SSH host key of {where} does not match known_hosts",
                hint="if the host was rebuilt, remove its old key with ssh-keygen -R; "
                "otherwise someone may be intercepting the connection",
            ) from e
        except paramiko.AuthenticationException as e:
            raise UnreachableError(
                self.name,
                f"SSH authentication failed for user {t.user or '(default)'} at {where}",
                hint="check ansible_user and ansible_ssh_private_key_file",
            ) from e
        except paramiko.SSHException as e:
            if "not found in known_hosts" in str(e):
                raise HostKeyError(
                    self.name,
                    f"the SSH host key of {where} is not in known_hosts",
                    hint="verify the key and add it to known_hosts, or allow first contact "
                    "with --accept-new-host-keys",
                ) from e
            raise UnreachableError(self.name, f"SSH to {where} failed: {e}") from e
        except OSError as e:  # includes socket timeouts
            reason = e.strerror or str(e) or type(e).__name__
            raise UnreachableError(self.name, f"cannot connect to {where}: {reason}") from e
        self._conn = conn
        self.is_root = (t.user or conn.user) == "root"
        return conn

    def _run(
        self,
        command: str,
        *,
        shown: str,
        stdin: str | None,
        timeout: float | None,
        env: Mapping[str, str] | None,
    ) -> Result:
        # On the SSH channel of Fabric's connection directly, not through Fabric's runner:
        # the runner feeds stdin one byte per 10 ms (3 KB took 30 s), and pyhost sends
        # files and passwords on stdin.
        conn = self._open()
        if env:
            command = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + command
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            channel = conn.client.get_transport().open_session(timeout=self.target.connect_timeout)
            try:
                channel.exec_command(command)
                if stdin:
                    channel.sendall(stdin.encode())
                channel.shutdown_write()
                out, err = _drain(channel, deadline)
                if out is None:
                    raise HostError(self.name, f"`{shown}` did not finish within {timeout:g} s")
                code = channel.recv_exit_status()
                if code == -1 and not channel.get_transport().is_active():
                    # the channel ended with no exit status: the host went away mid-command
                    raise UnreachableError(self.name, f"connection lost while running `{shown}`")
            finally:
                channel.close()
        except (OSError, EOFError) as e:
            raise UnreachableError(self.name, f"connection lost while running `{shown}`") from e
        except Exception as e:  # paramiko.SSHException, without importing paramiko here
            if type(e).__module__.startswith("paramiko"):
                raise UnreachableError(self.name, f"SSH failed while running `{shown}`: {e}") from e
            raise
        return Result(
            self.name, shown, code, out.decode(errors="replace"), err.decode(errors="replace")
        )

    def open(self) -> SSHConnection:
        """Connect now (rather than on the first command); returns self."""
        self._open()
        if self.target.user is None:
            self.is_root = self.run("id -u").stdout.strip() == "0"
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def connect(host: Host, **ssh_overrides: Any) -> Connection:
    """The connection the inventory asks for: local for ``ansible_connection: local``."""
    if host.ansible_connection == "local":
        return LocalConnection(host.name, become_password=host.ansible_become_password)
    return SSHConnection(SSHTarget.from_host(host, **ssh_overrides))
