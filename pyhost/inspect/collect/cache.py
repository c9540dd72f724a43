"""Answers kept between runs on this machine, each under a key that changes whenever the
answer can: the identity of the files and processes it comes from.

Two answers cost more to get than a whole `pyhost inspect` may take, and change only when
software is upgraded or restarted:

- the docker CLI's version (`docker --version` starts a 40 MB Go program: ~25 ms), keyed
  by the identity of its binary (device, inode, size, mtime, ctime);
- what the engine's /version and /info say of itself (~10 ms of the engine's CPU each:
  it starts `runc --version` and `docker-init --version` for every call), keyed by what
  those answers are made of: the dockerd process answering the socket (its pid and start
  time in this boot: its version, root directory, storage and cgroup drivers are fixed for
  its lifetime), its daemon.json (reloadable), the containerd socket it talks to (made
  anew by every containerd start) and the runc binary on its PATH.

Where a key cannot be made (not root, a rootless or socket-activated engine that cannot be
told apart, custom runtimes), nothing is kept and the answers are asked for every time.
Only local runs keep anything: the collector run on a remote host is given no cache.
"""

from __future__ import annotations

import os

from . import jsonc
from .fs import flag_values, read_bytes, read_pid, which
from .proctable import cmdline, read_stat

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
DOCKER_PIDFILE = "/var/run/docker.pid"
DAEMON_JSON = "/etc/docker/daemon.json"
CONTAINERD_SOCKETS = (
    "/run/containerd/containerd.sock",
    "/var/run/docker/containerd/containerd.sock",
)
# dockerd flags and daemon.json keys that make the engine run another runtime than the runc
# on its PATH (whose binary the key could not follow)
RUNTIME_SETTINGS = ("runtimes", "default-runtime", "add-runtime")
VERSION_KEYS = ("Version", "ApiVersion")
INFO_KEYS = ("DockerRootDir", "Driver", "CgroupDriver")


def identity(path: str) -> list[object] | None:
    """What changes when the file at ``path`` is replaced or modified; None when absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def load(cache_dir: str | None, name: str) -> dict[str, Any] | None:
    if cache_dir is None:
        return None
    try:
        entry = jsonc.loads(read_bytes(os.path.join(cache_dir, name)))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def store(cache_dir: str | None, name: str, entry: dict[str, Any]) -> None:
    """Write atomically (a reader sees the old entry or the new one); failures are ignored:
    the cache only saves time."""
    if cache_dir is None:
        return
    path = os.path.join(cache_dir, name)
    temporary = f"{path}.{os.getpid()}"
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        with open(temporary, "w") as fh:
            fh.write(jsonc.dumps(entry))
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _last(argv: list[str], name: str) -> str | None:
    """The last value of ``--name VALUE`` or ``--name=VALUE`` in a command line."""
    values = flag_values(argv, name)
    return values[-1] if values else None


def _dockerd(peer: int | None, socket_path: str, proc: str) -> tuple[int, int] | None:
    """The dockerd answering ``socket_path`` (pid, start time): the socket's peer when that is
    a dockerd, else (socket activation: the peer is systemd) the default pidfile's, for the
    default socket."""
    candidates = [peer] if peer else []
    if os.path.realpath(socket_path) in {os.path.realpath(p) for p in DEFAULT_SOCKETS}:
        pid = read_pid(DOCKER_PIDFILE)
        if pid is not None:
            candidates.append(pid)
    for pid in candidates:
        try:
            stat = read_stat(pid, proc)
            if stat[1] == "dockerd":
                return pid, stat[2]
        except (OSError, ValueError, IndexError):
            continue
    return None


def engine_key(socket_path: str, peer: int | None, proc: str = "/proc") -> list[object] | None:
    """The key of the engine's answers about itself (see the module's docstring); None where
    no key can be made that would change whenever they can."""
    found = _dockerd(peer, socket_path, proc)
    if found is None:
        return None
    pid, start = found
    try:
        boot = read_bytes(f"{proc}/sys/kernel/random/boot_id").decode().strip()
        st = os.stat(f"{proc}/{pid}")
        argv = cmdline(pid, proc)
        environ = read_bytes(f"{proc}/{pid}/environ").split(b"\0")
    except (OSError, ValueError, IndexError):
        return None  # gone, or not ours to read
    if st.st_uid != 0 or any(a.lstrip("-").split("=")[0] in RUNTIME_SETTINGS for a in argv):
        return None  # rootless (its own config paths), or runtimes of its own
    config_file = _last(argv, "--config-file") or DAEMON_JSON
    sockets = list(CONTAINERD_SOCKETS)
    configured = _last(argv, "--containerd")
    if configured:
        sockets.append(configured)
    try:
        config = jsonc.loads(read_bytes(config_file))
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or any(k in config for k in RUNTIME_SETTINGS):
        return None
    if isinstance(config.get("containerd"), str):
        sockets.append(config["containerd"])
    path = next((e[5:] for e in environ if e.startswith(b"PATH=")), None)
    runc = which("runc", path.decode(errors="replace")) if path is not None else None
    if runc is None:
        return None
    return [
        socket_path,
        boot,
        pid,
        start,
        identity(config_file),
        [identity(s) for s in sockets],
        identity(runc),
    ]


def engine_subset(version: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """What an inspection reads of /version and /info (and so what is kept of them)."""
    components = [
        {"Name": c.get("Name"), "Version": c.get("Version")}
        for c in version.get("Components") or []
        if isinstance(c, dict)
    ]
    return {
        "version": {**{k: version.get(k) for k in VERSION_KEYS}, "Components": components},
        "info": {k: info.get(k) for k in INFO_KEYS},
    }
