"""The collector on remote hosts: one SSH round trip per host.

pyhost ships ``pyhost/inspect/collect`` (standard library only, relative imports only) as a
zipapp built in memory once per process. For each host it runs one command, as root
through sudo: a shell line that checks for python3, then ``python3 -I -c BOOTSTRAP REQUEST``.
The zipapp travels base64-encoded on stdin; the bootstrap puts it in an anonymous memory
file and execs ``python3 -I /proc/self/fd/N REQUEST``. The collector prints one framed JSON
answer (see ``collect.protocol``), which is the same document a local run returns.

Everything a user can meet becomes one line: no python3 (or one older than 3.10), sudo
refused, a collector crash (its last stderr line; ``--debug`` shows all of it), a host that
cannot be reached (exit 4). Many hosts run in parallel, up to ``forks``; each host's outcome
is reported, and one bad host never hides the others.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import shlex
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhost.connection import (
    Connection,
    LocalConnection,
    Result,
    SSHConnection,
    SSHTarget,
)
from pyhost.errors import ExitStatus, HostError, PyhostError, UnreachableError, UsageError
from pyhost.inspect.collect import protocol

if TYPE_CHECKING:
    from pyhost.inventory import Host

FLEET_SCHEMA = "pyhost.ps-fleet/1"
ZIP_PACKAGE = "pyhost_collect"  # the collector's package name inside the zipapp
MIN_PYTHON = (3, 10)  # storage uses zip(strict=True)
COLLECT_TIMEOUT = 120.0  # seconds for the collector itself, once connected
NO_PYTHON = "pyhost-remote: no python3"
TOO_OLD = "pyhost-remote: python3 too old:"
TOO_OLD_EXIT = 3
HOST_SYNTAX = "[USER@]HOST[:PORT], an IPv6 address in brackets: [::1]:2222"

ZIP_MAIN = f"""\
import sys

from {ZIP_PACKAGE}.protocol import main

sys.exit(main(sys.argv[1:]))
"""

# Runs with ``python3 -I -c``: no current directory or user site on sys.path, no PYTHON*
# variables. Plain syntax up to the version check, so that any python3 can say it is too old.
# The zipapp goes into an anonymous memory file (memfd; else a temporary file unlinked at
# once), which the collector's interpreter, exec'd in its place, runs as /proc/self/fd/N:
# nothing is left on the host, however the command ends, and its command line stays short.
# The zipapp is the last word on stdin: a sudo password line before it is skipped.
BOOTSTRAP = f"""\
import sys
if sys.version_info<{MIN_PYTHON!r}:
 sys.stderr.write("{TOO_OLD} %s\\n"%sys.version.split()[0]);sys.exit({TOO_OLD_EXIT})
import base64,os,tempfile
try:f=os.memfd_create("pyhost-collect",0)
except(AttributeError,OSError):f,p=tempfile.mkstemp();os.unlink(p);os.set_inheritable(f,True)
with open(f,"wb",closefd=False) as o:o.write(base64.b64decode(sys.stdin.buffer.read().split()[-1]))
os.execv(sys.executable,[sys.executable,"-I","/proc/self/fd/%d"%f]+sys.argv[1:])
"""


# ---------------------------------------------------------------------------- the zipapp


@functools.cache
def zipapp() -> bytes:
    """The collector package as a runnable zip (built once per process, reproducible)."""
    package = Path(protocol.__file__).parent
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        members = [
            (f"{ZIP_PACKAGE}/{p.name}", p.read_bytes()) for p in sorted(package.glob("*.py"))
        ]
        members.append(("__main__.py", ZIP_MAIN.encode()))
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


@functools.cache
def stdin_payload() -> str:
    """What the bootstrap reads: the zipapp in base64, on one line."""
    return base64.b64encode(zipapp()).decode("ascii") + "\n"


def remote_command(request: dict[str, Any]) -> str:
    """The one shell command that runs ``request`` on a host (the zipapp comes on stdin)."""
    text = json.dumps(protocol.check_request(request), separators=(",", ":"))
    return (
        f"command -v python3 >/dev/null 2>&1 || {{ echo '{NO_PYTHON}' >&2; exit 127; }}; "
        f"cd / && exec python3 -I -c {shlex.quote(BOOTSTRAP)} {shlex.quote(text)}"
    )


# --------------------------------------------------------------------- errors and answers


class RemoteError(PyhostError):
    """The collector could not answer on a host (exit 1); the message names the host."""

    def __init__(self, host: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.host = host


class RemoteStderr(Exception):
    """What the collector wrote on stderr; the cause of a crash, shown by --debug."""


_SUDO_NOISE = ("unable to resolve host",)


def _sudo_refusal(lines: list[str]) -> str | None:
    """sudo's own complaint, when sudo (not the collector) is what failed."""
    if any(line.startswith("Traceback") for line in lines):
        return None
    found = [
        line
        for line in lines
        if (line.startswith("sudo:") or "sudoers" in line)
        and not any(noise in line for noise in _SUDO_NOISE)
    ]
    return found[-1] if found else None


def read_answer(host: str, result: Result) -> dict[str, Any]:
    """The collector's envelope from what the command printed, or the error that explains
    why there is none."""
    try:
        envelope = protocol.decode_response(result.stdout)
    except ValueError as e:
        raise RemoteError(
            host, f"the collector failed on {host}: its answer was cut short or garbled ({e})"
        ) from e
    if envelope is not None:
        return envelope
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    if result.exit_code == 127 and NO_PYTHON in result.stderr:
        raise RemoteError(
            host,
            f"python3 is required on {host}",
            hint="install it there (apt-get install python3); pyhost's collector needs 3.10 "
            "or newer",
        )
    too_old = [line for line in lines if line.startswith(TOO_OLD)]
    if result.exit_code == TOO_OLD_EXIT and too_old:
        version = too_old[-1][len(TOO_OLD) :].strip()
        raise RemoteError(
            host,
            f"python3 on {host} is {version}; pyhost's collector needs "
            f"{'.'.join(map(str, MIN_PYTHON))} or newer",
        )
    refusal = _sudo_refusal(lines)
    if refusal is not None:
        raise RemoteError(
            host,
            f"sudo refused on {host}: {refusal}",
            hint="the collector reads /proc as root: set ansible_become_password, give -K, "
            "or connect as root",
        )
    last = lines[-1] if lines else f"it exited {result.exit_code} without an answer"
    raise RemoteError(
        host, f"the collector failed on {host}: {last}", hint="--debug shows its whole stderr"
    ) from RemoteStderr(result.stderr.strip() or "(nothing on stderr)")


def result_of(host: str, envelope: dict[str, Any]) -> dict[str, Any]:
    """The document in an envelope; an error envelope becomes the matching PyhostError."""
    if envelope.get("ok"):
        result: dict[str, Any] = envelope["result"]
        return result
    error = envelope["error"]
    message = str(error.get("message")).replace("on this machine", f"on {host}")
    hint = error.get("hint")
    if error.get("kind") == "target":
        raise UsageError(message, hint=hint)
    if error.get("kind") == "engine":
        raise RemoteError(host, f"no Docker engine answers on {host}: {message}", hint=hint)
    raise RemoteError(host, f"the collector on {host} refused the request: {message}", hint=hint)


def collect_on(
    conn: Connection, request: dict[str, Any], *, timeout: float = COLLECT_TIMEOUT
) -> dict[str, Any]:
    """Run ``request`` on the connection's host in one command; the collector's envelope.

    An SSH connection is opened first (connect and host-key errors come out as they are);
    then exactly one ``conn.run`` carries the zipapp and brings back the answer.
    """
    command = remote_command(request)
    if isinstance(conn, SSHConnection):
        if conn.target.user is None:
            # SSHConnection.open() asks the host `id -u` without one: a second round trip
            conn.target.user = ssh_defaults(conn.target.address)[0]
        conn.open()
    try:
        result = conn.run(command, sudo=True, stdin=stdin_payload(), timeout=timeout, check=False)
    except UnreachableError as e:
        raise UnreachableError(conn.name, "the connection was lost while the collector ran") from e
    except HostError as e:  # the deadline passed
        raise RemoteError(
            conn.name, f"the collector did not finish on {conn.name} within {timeout:g} s"
        ) from e
    return read_answer(conn.name, result)


# ------------------------------------------------------------------ -H [USER@]HOST[:PORT]


@dataclass(frozen=True)
class HostSpec:
    """``-H``'s value: the user and port are None where not given."""

    host: str
    user: str | None = None
    port: int | None = None


def _port(text: str, spec: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or not 1 <= int(text) <= 65535:
        raise UsageError(
            f"-H {spec!r}: the port must be 1 to 65535, not {text!r}", hint=HOST_SYNTAX
        )
    return int(text)


def parse_host_spec(spec: str) -> HostSpec:
    """``[USER@]HOST[:PORT]``; IPv6 in brackets (``[::1]:2222``), or bare without a port."""
    text = spec.strip()
    user: str | None = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not user:
            raise UsageError(f"-H {spec!r}: the user before @ is empty", hint=HOST_SYNTAX)
    port: int | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UsageError(f"-H {spec!r}: no ] after the IPv6 address", hint=HOST_SYNTAX)
        host, tail = text[1:end], text[end + 1 :]
        if tail:
            if not tail.startswith(":"):
                raise UsageError(f"-H {spec!r}: {tail!r} after ]", hint=HOST_SYNTAX)
            port = _port(tail[1:], spec)
    elif text.count(":") > 1:  # a bare IPv6 address: no room for a port
        host = text
    else:
        host, colon, tail = text.partition(":")
        if colon:
            port = _port(tail, spec)
    if not host or any(c.isspace() or c in "/[]@" for c in host):
        raise UsageError(f"-H {spec!r}: {host!r} is not a host name or address", hint=HOST_SYNTAX)
    return HostSpec(host=host, user=user, port=port)


def ssh_defaults(host: str, ssh_config: str | None = None) -> tuple[str, int]:
    """(user, port) for ``host`` from ~/.ssh/config and /etc/ssh/ssh_config, through
    Fabric: its ``User`` and ``Port``, else the local user and 22."""
    from fabric import Config

    config = Config(user_ssh_path=ssh_config) if ssh_config else Config()
    found = config.base_ssh_config.lookup(host)
    return str(found.get("user") or config.user), int(found.get("port") or 22)


def target_from_spec(
    spec: str,
    *,
    key_file: str | None = None,
    become_password: str | None = None,
    known_hosts: str | None = None,
    accept_new_host_key: bool = False,
    ssh_config: str | None = None,
) -> SSHTarget:
    """The SSH target for ``-H SPEC``, named as written."""
    parsed = parse_host_spec(spec)
    user, port = ssh_defaults(parsed.host, ssh_config)
    return SSHTarget(
        name=spec.strip(),
        address=parsed.host,
        port=parsed.port or port,
        user=parsed.user or user,
        key_file=key_file,
        become_password=become_password,
        known_hosts=known_hosts,
        accept_new_host_key=accept_new_host_key,
    )


# ------------------------------------------------------------------------------- fleets


@dataclass
class HostOutcome:
    """One host of a fleet: ``ok`` with its document, or why not."""

    host: str
    status: str  # ok | unreachable | failed
    error: str | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class SSHOptions:
    """Command-line SSH settings: host keys for all hosts; key and password as defaults
    for hosts whose inventory gives none."""

    known_hosts: str | None = None
    accept_new_host_keys: bool = False
    key_file: str | None = None
    become_password: str | None = None


def connection_for(host: Host, options: SSHOptions) -> Connection:
    if host.ansible_connection == "local":
        password = host.ansible_become_password
        return LocalConnection(
            host.name, become_password=options.become_password if password is None else password
        )
    target = SSHTarget.from_host(
        host,
        known_hosts=options.known_hosts,
        accept_new_host_key=options.accept_new_host_keys,
    )
    if target.key_file is None:
        target.key_file = options.key_file
    if target.become_password is None:
        target.become_password = options.become_password
    return SSHConnection(target)


def _one(host: Host, request: dict[str, Any], options: SSHOptions) -> HostOutcome:
    try:
        with connection_for(host, options) as conn:
            result = result_of(host.name, collect_on(conn, request))
    except UnreachableError as e:
        return HostOutcome(host.name, status="unreachable", error=e.one_line())
    except PyhostError as e:
        return HostOutcome(host.name, status="failed", error=e.one_line())
    return HostOutcome(host.name, status="ok", result=result)


def collect_fleet(
    hosts: Sequence[Host],
    request: dict[str, Any],
    *,
    forks: int = 10,
    options: SSHOptions | None = None,
) -> list[HostOutcome]:
    """Every host's outcome, in inventory order; up to ``forks`` hosts at once."""
    protocol.check_request(request)
    options = options or SSHOptions()
    stdin_payload()  # build the zipapp once, before the threads want it
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1))) as pool:
        futures = [pool.submit(_one, host, request, options) for host in hosts]
        return [future.result() for future in futures]


def fleet_exit(outcomes: Sequence[HostOutcome]) -> int:
    """1 when a host failed, else 4 when one was unreachable, else 0 (as provision)."""
    if any(o.status == "failed" for o in outcomes):
        return ExitStatus.FAILURE
    if any(o.status == "unreachable" for o in outcomes):
        return ExitStatus.UNREACHABLE
    return ExitStatus.OK


def fleet_document(outcomes: Sequence[HostOutcome], schema: str = FLEET_SCHEMA) -> dict[str, Any]:
    """``pyhost.ps-fleet/1`` (or ``pyhost.inspect-fleet/1``): each host's status, error and
    document."""
    return {
        "schema": schema,
        "hosts": [asdict(o) for o in outcomes],
        "exit_status": int(fleet_exit(outcomes)),
    }
