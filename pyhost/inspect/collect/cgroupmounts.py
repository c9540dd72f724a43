"""Where the cgroup hierarchies are mounted, from a mount table: the cgroup version of
/sys/fs/cgroup and each v1 controller's mount. A small leaf: the collector and `pyhost run`
(whose start-up is measured) both read the mount table through it.
"""

from __future__ import annotations

from .fs import read_bytes

ROOT = "/sys/fs/cgroup"

# (mount point, root of the mount, fstype, super options) of each mount that matters here
Entry = tuple[str, str, str, tuple[str, ...]]


def read(mountinfo: str = "/proc/self/mountinfo") -> list[Entry]:
    """The cgroup mounts and the mounts at /sys/fs/cgroup, in mount order; [] unreadable."""
    try:
        text = read_bytes(mountinfo, records=True).decode(errors="replace")
    except OSError:
        return []
    found: list[Entry] = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")  # " - " only separates: paths escape spaces
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        point = fields[4].replace("\\040", " ")
        if point == ROOT or rfields[0] in ("cgroup", "cgroup2"):
            found.append((point, fields[3], rfields[0], tuple(rfields[2].split(","))))
    return found


def version_of(table: list[Entry]) -> int:
    """2 when the mount visible at /sys/fs/cgroup (the last one there) is cgroup2 (unified),
    else 1 (v1 or hybrid)."""
    at_root = [fstype for point, _, fstype, _ in table if point == ROOT]
    return 2 if at_root and at_root[-1] == "cgroup2" else 1


def v1_of(table: list[Entry]) -> dict[str, tuple[str, str]]:
    """v1 controller (or name= hierarchy) -> (mount point, root of the mount): a controller
    may be mounted anywhere (/cgroup/memory), co-mounted (cpu,cpuacct), or show only a
    subtree (a mount whose root is /docker/ID); the first mount of each counts."""
    found: dict[str, tuple[str, str]] = {}
    for point, root, fstype, options in table:
        if fstype == "cgroup":
            for option in options:
                found.setdefault(option.removeprefix("name="), (point, root))
    return found


def version(mountinfo: str = "/proc/self/mountinfo") -> int:
    return version_of(read(mountinfo))


def v1_mounts(mountinfo: str = "/proc/self/mountinfo") -> dict[str, tuple[str, str]]:
    return v1_of(read(mountinfo))
