"""cgroup v1 and v2 writers: create a container's cgroup, apply limits, remove it.

The hierarchy is found from /proc/self/mountinfo, not assumed: v2 when /sys/fs/cgroup is a
cgroup2 mount (statfs magic), otherwise one v1 hierarchy per controller wherever it is
mounted. Containers live in ``pyhost/<id>`` under each root.
"""

from __future__ import annotations

import errno
import os
import time

from pyhost.inspect.collect import cgroupmounts
from pyhost.runtime.errors import RunError
from pyhost.runtime.stdlite import signal, suppress

CGROUP2_MAGIC = 0x63677270
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "devices", "freezer", "blkio")
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids", "io")
NO_V1_LIMIT = 9223372036854771712
V2_ROOT = "/sys/fs/cgroup"
PERIOD_US = 100000

# Docker's device allow-list (everything else denied): null zero full random urandom tty,
# console, ptmx, the pts range, and mknod of any node (not its use).
DEVICE_RULES = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
)


# Plain classes rather than dataclasses in the runtime: importing dataclasses (and with it
# inspect) costs ~13 ms, a tenth of `pyhost run`'s whole start.
class Limits:
    """Resource limits; None = not set."""

    def __init__(
        self,
        memory: int | None = None,  # bytes
        memory_swap: int | None = None,  # memory + swap, bytes; -1 = unlimited swap
        cpus: float | None = None,
        cpu_shares: int | None = None,
        cpuset_cpus: str | None = None,
        pids: int | None = None,
    ) -> None:
        self.memory = memory
        self.memory_swap = memory_swap
        self.cpus = cpus
        self.cpu_shares = cpu_shares
        self.cpuset_cpus = cpuset_cpus
        self.pids = pids

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if v is not None}


class Cgroup:
    """A container's cgroup: one path on v2, one per controller on v1."""

    def __init__(self, version: int, paths: dict[str, str] | None = None) -> None:
        self.version = version
        self.paths: dict[str, str] = paths or {}  # controller (or "unified") -> dir

    def to_json(self) -> dict[str, object]:
        return {"version": self.version, "paths": self.paths}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Cgroup:
        paths = data.get("paths")
        return cls(int(str(data.get("version", 1))), dict(paths) if isinstance(paths, dict) else {})


_table: list[list[cgroupmounts.Entry]] = []  # the mount table, read once per process


def _mounts() -> list[cgroupmounts.Entry]:
    if not _table:
        _table.append(cgroupmounts.read())
    return _table[0]


def version() -> int:
    return cgroupmounts.version_of(_mounts())


def v1_roots() -> dict[str, str]:
    """controller -> mount point of its v1 hierarchy."""
    found = cgroupmounts.v1_of(_mounts())
    return {c: found[c][0] for c in V1_CONTROLLERS if c in found}


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def planned(container_id: str) -> Cgroup:
    """Where ``create`` makes the container's cgroup, computed without creating anything: the
    record names it before it exists, so that a killed supervisor's next collector removes it."""
    cg = Cgroup(version())
    if cg.version == 2:
        cg.paths["unified"] = f"{V2_ROOT}/pyhost/{container_id}"
    else:
        cg.paths = _v1_paths(container_id)
    return cg


def _v1_paths(container_id: str) -> dict[str, str]:
    """controller -> the container's directory, in each hierarchy pyhost may write."""
    paths: dict[str, str] = {}
    for controller, root in v1_roots().items():
        path = f"{root}/pyhost/{container_id}"
        if path not in paths.values() and os.access(root, os.W_OK):  # cpu,cpuacct co-mounted
            paths[controller] = path
    return paths


def create(cg: Cgroup, limits: Limits) -> None:
    """Make the cgroup ``planned`` named and write its limits; on failure nothing is left."""
    try:
        if cg.version == 2:
            _create_v2(cg.paths["unified"], limits)
        else:
            _create_v1(cg.paths, limits)
    except OSError as e:
        remove(cg)
        raise RunError(
            f"cannot set up the container's cgroup: {e}",
            hint="pyhost run needs root (or a delegated cgroup) and writable cgroup files",
        ) from e


def _create_v2(path: str, limits: Limits) -> None:
    root = V2_ROOT
    available = set(_read(f"{root}/cgroup.controllers").split())
    wanted = [c for c in V2_CONTROLLERS if c in available]
    parent = f"{root}/pyhost"
    for level in (root, parent):
        if level == parent:
            os.makedirs(parent, exist_ok=True)
        enabled = set(_read(f"{level}/cgroup.subtree_control").split())
        missing = [c for c in wanted if c not in enabled]
        if missing:
            _write(f"{level}/cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
    os.mkdir(path)
    if limits.memory is not None:
        _write(f"{path}/memory.max", str(limits.memory))
        if limits.memory_swap is not None and os.path.exists(f"{path}/memory.swap.max"):
            swap = "max" if limits.memory_swap < 0 else str(limits.memory_swap - limits.memory)
            _write(f"{path}/memory.swap.max", swap)
    if limits.cpus is not None:
        _write(f"{path}/cpu.max", f"{round(limits.cpus * PERIOD_US)} {PERIOD_US}")
    if limits.cpu_shares is not None:
        # the conversion runc and Docker use: shares 2..262144 -> weight 1..10000
        weight = 1 + ((limits.cpu_shares - 2) * 9999) // 262142
        _write(f"{path}/cpu.weight", str(max(1, min(10000, weight))))
    if limits.cpuset_cpus is not None:
        _write(f"{path}/cpuset.cpus", limits.cpuset_cpus)
    if limits.pids is not None:
        _write(f"{path}/pids.max", str(limits.pids) if limits.pids > 0 else "max")


def _create_v1(paths: dict[str, str], limits: Limits) -> None:
    for controller, path in paths.items():
        parent = os.path.dirname(path)
        root = os.path.dirname(parent)
        cloned = False
        if not os.path.isdir(parent):
            os.makedirs(parent, exist_ok=True)
            if controller == "cpuset":
                _copy_cpuset(root, parent)
        if controller == "cpuset":
            cloned = _clone_children(parent)
        os.mkdir(path)
        if controller == "cpuset" and not cloned:
            _copy_cpuset(parent, path)
    if "memory" in paths and limits.memory is not None:
        _write(f"{paths['memory']}/memory.limit_in_bytes", str(limits.memory))
        swap_file = f"{paths['memory']}/memory.memsw.limit_in_bytes"
        if limits.memory_swap is not None and os.path.exists(swap_file):
            _write(swap_file, str(limits.memory_swap))
    if "cpu" in paths:
        if limits.cpus is not None:
            _write(f"{paths['cpu']}/cpu.cfs_period_us", str(PERIOD_US))
            _write(f"{paths['cpu']}/cpu.cfs_quota_us", str(round(limits.cpus * PERIOD_US)))
        if limits.cpu_shares is not None:
            _write(f"{paths['cpu']}/cpu.shares", str(limits.cpu_shares))
    if "cpuset" in paths and limits.cpuset_cpus is not None:
        _write(f"{paths['cpuset']}/cpuset.cpus", limits.cpuset_cpus)
    if "pids" in paths and limits.pids is not None:
        _write(f"{paths['pids']}/pids.max", str(limits.pids) if limits.pids > 0 else "max")
    if "devices" in paths:
        _write(f"{paths['devices']}/devices.deny", "a")
        # one rule per write(2), as the kernel reads them, through one open file
        fd = os.open(f"{paths['devices']}/devices.allow", os.O_WRONLY | os.O_CLOEXEC)
        try:
            for rule in DEVICE_RULES:
                os.write(fd, rule.encode())
        finally:
            os.close(fd)


def _clone_children(parent: str) -> bool:
    """Have the kernel give each new cpuset under ``parent`` the parent's cpus and mems
    (cgroup.clone_children, which only cpuset reads): writing them per container costs ~1 ms
    (each write recomputes the cpuset hierarchy). Whether it is on."""
    flag = f"{parent}/cgroup.clone_children"
    try:
        if _read(flag) != "1":
            _write(flag, "1")
    except OSError:
        return False
    return True


def _copy_cpuset(source: str, dest: str) -> None:
    """A new v1 cpuset is empty and refuses tasks until cpus and mems are set."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not _read(f"{dest}/{name}"):
            _write(f"{dest}/{name}", _read(f"{source}/{name}"))


def join(cg: Cgroup, pid: int) -> None:
    """Move ``pid`` (0: the caller itself) into every directory of the container's cgroup."""
    for path in cg.paths.values():
        _write(f"{path}/cgroup.procs", str(pid))


def oom_killed(cg: Cgroup) -> bool:
    """Whether the kernel's OOM killer ended a process of this cgroup."""
    try:
        if cg.version == 2 and "unified" in cg.paths:
            text = _read(f"{cg.paths['unified']}/memory.events")
        elif "memory" in cg.paths:
            text = _read(f"{cg.paths['memory']}/memory.oom_control")
        else:
            return False
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value) > 0
    return False


def pids(cg: Cgroup) -> list[int]:
    for path in cg.paths.values():
        with suppress(OSError):
            return [int(p) for p in _read(f"{path}/cgroup.procs").split()]
    return []


def remove(cg: Cgroup, *, timeout: float = 5.0) -> list[str]:
    """Kill what is left in the cgroup and remove its directories; return what stayed."""
    deadline = time.monotonic() + timeout
    left = []
    for path in cg.paths.values():
        while True:
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    left.append(path)
                    break
                _kill_all(path, cg.version)
                time.sleep(0.01)
    return left


def _kill_all(path: str, version: int) -> None:
    if version == 2 and os.path.exists(f"{path}/cgroup.kill"):
        with suppress(OSError):
            _write(f"{path}/cgroup.kill", "1")
            return
    with suppress(OSError):
        for pid in _read(f"{path}/cgroup.procs").split():
            with suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
