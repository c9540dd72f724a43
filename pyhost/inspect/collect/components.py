"""The chain that runs a container, live: docker CLI -> dockerd -> containerd ->
containerd-shim-runc-v2 -> the container's process (runc made it and exited).

Found by walking the ppid chain of /proc/PID/stat from the container's process, and by
finding dockerd and containerd in the host's pid namespace (the shim daemonizes, so its
parent is PID 1 or a subreaper, not containerd).
"""

from __future__ import annotations

import os
import re
import shutil

from . import proctable
from .proctable import Proc

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

PIDFILE = "/var/run/docker.pid"


def exe(pid: int, proc: str = "/proc") -> str | None:
    try:
        return os.readlink(f"{proc}/{pid}/exe")
    except OSError:
        argv = proctable.cmdline(pid, proc)
        return argv[0] if argv else None


def describe(entry: Proc | None, proc: str, version: str | None = None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "pid": entry.pid,
        "ppid": entry.ppid,
        "comm": entry.comm,
        "exe": exe(entry.pid, proc),
        "version": version,
    }


def in_host(table: dict[int, Proc], comm: str, host_pidns: tuple[int, int] | None) -> list[Proc]:
    """Processes named ``comm`` in the host's pid namespace (not in lab hosts' containers)."""
    return sorted(
        (p for p in table.values() if p.comm == comm and p.ns.get("pid") == host_pidns),
        key=lambda p: p.pid,
    )


def _pidfile(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def dockerd(table: dict[int, Proc], host_pidns: tuple[int, int] | None) -> Proc | None:
    """The dockerd of this host: the one in its pidfile when that is a dockerd, else the first."""
    found = in_host(table, "dockerd", host_pidns)
    wanted = _pidfile(PIDFILE)
    return next((p for p in found if p.pid == wanted), found[0] if found else None)


def containerd(
    table: dict[int, Proc], host_pidns: tuple[int, int] | None, daemon: Proc | None
) -> Proc | None:
    """containerd: dockerd's child when dockerd started it (docker.io), else the service's."""
    found = in_host(table, "containerd", host_pidns)
    child = next((p for p in found if daemon and p.ppid == daemon.pid), None)
    return child or (found[0] if found else None)


class Background:
    """A call run on a thread while the caller reads other things; ``result()`` waits.

    `docker --version` takes ~25 ms and the engine's /info ~12 ms: started first, they
    overlap with the engine's other answers and the /proc reads."""

    def __init__(self, function: Any, *args: Any) -> None:
        import threading

        self._function = function
        self._args = args
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._function(*self._args)
        except BaseException as e:  # handed to the caller of result()
            self._error = e

    def result(self, timeout: float = 30.0) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{getattr(self._function, '__name__', 'call')} took too long")
        if self._error is not None:
            raise self._error
        return self._value


def docker_cli() -> dict[str, Any] | None:
    """The docker CLI on PATH and its version (`docker --version` does not call the engine)."""
    path = shutil.which("docker")
    if path is None:
        return None
    import subprocess  # only for the docker CLI's version: ~5 ms to import

    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    match = re.search(r"version ([^,\s]+)", out)
    return {"path": path, "version": match.group(1) if match else None}


def role(entry: Proc, index: int) -> str:
    if index == 0:
        return "process"
    if entry.comm.startswith("containerd-shim"):
        return "containerd-shim"
    if entry.comm in ("dockerd", "containerd", "docker-init", "tini"):
        return entry.comm
    return "init" if entry.pid == 1 else ""


def engine_component(version: dict[str, Any] | None, name: str) -> str | None:
    """A component's version from the Engine API /version (containerd, runc)."""
    for item in (version or {}).get("Components") or []:
        if item.get("Name") == name:
            return str(item.get("Version"))
    return None


def section(
    pid: int | None,
    table: dict[int, Proc],
    *,
    host_pidns: tuple[int, int] | None,
    version: dict[str, Any] | None,
    container: bool = True,
    proc: str = "/proc",
    cli: Background | None = None,
) -> dict[str, Any]:
    """The components with their pids, and the ppid chain above the process.

    ``container`` is False for a process that is not a Docker container's: no shim expected.
    """
    chain = proctable.ancestors(pid, table, proc) if pid else []
    shim = next((p for p in chain if p.comm.startswith("containerd-shim")), None)
    daemon = dockerd(table, host_pidns)
    result: dict[str, Any] = {
        "docker_cli": cli.result() if cli is not None else docker_cli(),
        "dockerd": describe(daemon, proc, (version or {}).get("Version")),
        "containerd": describe(
            containerd(table, host_pidns, daemon), proc, engine_component(version, "containerd")
        ),
        "shim": describe(shim, proc),
        "runtime": {"name": "runc", "version": engine_component(version, "runc"), "pid": None},
        "process": describe(chain[0], proc) if chain else None,
        "chain": [{"pid": p.pid, "comm": p.comm, "role": role(p, i)} for i, p in enumerate(chain)],
    }
    result["findings"] = findings(result) if container else []
    return result


def findings(result: dict[str, Any]) -> list[str]:
    lines = []
    if result["process"] and result["shim"] is None:
        lines.append("no containerd-shim above this process: not started by containerd")
    return lines
