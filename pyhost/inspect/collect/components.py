"""The chain that runs a container, live: docker CLI -> dockerd -> containerd ->
containerd-shim-runc-v2 -> the container's process (runc made it and exited).

Found by walking the ppid chain of /proc/PID/stat from the container's process, and by
finding dockerd and containerd in the host's pid namespace (the shim daemonizes, so its
parent is PID 1 or a subreaper, not containerd).
"""

from __future__ import annotations

import os

from . import cache, proctable
from .fs import read_pid, which
from .proctable import Proc

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any


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
        (p for p in table.values() if p.comm == comm and p.nsid("pid") == host_pidns),
        key=lambda p: p.pid,
    )


def dockerd(table: dict[int, Proc], host_pidns: tuple[int, int] | None) -> Proc | None:
    """The dockerd of this host: the one in its pidfile when that is a dockerd, else the first."""
    found = in_host(table, "dockerd", host_pidns)
    wanted = read_pid(cache.DOCKER_PIDFILE)
    return next((p for p in found if p.pid == wanted), found[0] if found else None)


def containerd(
    table: dict[int, Proc], host_pidns: tuple[int, int] | None, daemon: Proc | None
) -> Proc | None:
    """containerd: dockerd's child when dockerd started it (docker.io), else the service's."""
    found = in_host(table, "containerd", host_pidns)
    child = next((p for p in found if daemon and p.ppid == daemon.pid), None)
    return child or (found[0] if found else None)


def parse_cli_version(out: str) -> str | None:
    """The version in `docker --version`'s line: "Docker version 28.2.2, build e6534b4"."""
    at = out.find("version ")
    while at >= 0:
        begin = end = at + len("version ")
        while end < len(out) and out[end] != "," and not out[end].isspace():
            end += 1
        if end > begin:
            return out[begin:end]
        at = out.find("version ", at + 1)
    return None


CLI_CACHE = "docker-cli.json"
CLI_TIMEOUT = 5.0  # seconds


class DockerCli:
    """The docker CLI on PATH and its version, from `docker --version` (which does not call
    the engine), started at once and read by ``result()``: it overlaps the other reads.

    With ``cache_dir``, the version is kept there keyed by the binary's identity (see
    cache): a CLI that is still the same file needs no new process (the ~25 ms of starting
    a Go program); one that was replaced or upgraded is asked again.
    """

    def __init__(self, cache_dir: str | None = None) -> None:
        self.path = which("docker")
        self.cache_dir = cache_dir
        self.key: list[object] | None = None
        self.version: str | None = None
        self.pid = 0
        self.fd = -1
        if self.path is None:
            return
        self.key = cache.identity(self.path)
        entry = cache.load(cache_dir, CLI_CACHE)
        if self.key is not None and entry is not None and entry.get("key") == self.key:
            self.version = entry.get("version")
            self.key = None  # known already: nothing to keep
            return
        read, write = os.pipe()
        try:
            self.pid = os.posix_spawn(
                self.path,
                [self.path, "--version"],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, write, 1),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
            )
        except OSError:
            os.close(read)
            self.key = None  # nothing known: nothing to keep
        else:
            self.fd = read
        finally:
            os.close(write)

    def result(self) -> dict[str, Any] | None:
        """{"path", "version"}; None when there is no docker on PATH."""
        if self.path is None:
            return None
        if self.fd >= 0:
            self.version = parse_cli_version(self._read())
            if self.key is not None and self.version is not None:
                cache.store(self.cache_dir, CLI_CACHE, {"key": self.key, "version": self.version})
        return {"path": self.path, "version": self.version}

    def _read(self) -> str:
        import select  # a C module: cheap, and only without a cached answer

        chunks: list[bytes] = []
        fd, self.fd = self.fd, -1
        try:
            while select.select([fd], [], [], CLI_TIMEOUT)[0]:
                data = os.read(fd, 4096)
                if not data:
                    break
                chunks.append(data)
            else:
                self.key = None  # it hung: kill it, keep nothing
                os.kill(self.pid, 9)
        except OSError:
            self.key = None
        finally:
            os.close(fd)
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        return b"".join(chunks).decode(errors="replace")


def docker_cli() -> dict[str, Any] | None:
    """The docker CLI on PATH and its version (`docker --version` does not call the engine),
    found without a cache (where none was started ahead)."""
    return DockerCli(None).result()


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
    cli: DockerCli | None = None,
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
