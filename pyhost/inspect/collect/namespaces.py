"""Namespaces of a process, compared with the host's (PID 1's) by device and inode."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

NS_TYPES = ("mnt", "uts", "ipc", "pid", "net", "user", "cgroup", "time")


def ns_id(pid: int | str, kind: str, proc: str = "/proc") -> tuple[int, int] | None:
    """(st_dev, st_ino) of one namespace; None where it is unreadable or absent."""
    try:
        st = os.stat(f"{proc}/{pid}/ns/{kind}")
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def ns_inode(pid: int | str, kind: str, proc: str = "/proc") -> int | None:
    """The inode of one namespace, from its link (``net:[4026531840]``): half the cost of
    a stat, for scans that compare many processes (every namespace lives on the one nsfs,
    so the inode alone tells them apart)."""
    try:
        link = os.readlink(f"{proc}/{pid}/ns/{kind}")
        return int(link[link.index("[") + 1 : -1])
    except (OSError, ValueError):
        return None


def ns_ids(pid: int | str, proc: str = "/proc") -> dict[str, tuple[int, int] | None]:
    """(st_dev, st_ino) of each namespace; None where it is unreadable or absent."""
    return {kind: ns_id(pid, kind, proc) for kind in NS_TYPES}


def host_reference(proc: str = "/proc") -> tuple[str, dict[str, tuple[int, int] | None]]:
    """The host's namespaces: PID 1's, or pyhost's own where PID 1's cannot be read.

    PID 1 is the reference (valid only from the host's pid namespace). Some sandboxes and
    hardened kernels hide PID 1's links even from root; pyhost itself then stands for the
    host, which holds as long as pyhost does not run inside a container.
    """
    init = ns_ids(1, proc)
    if any(v is not None for v in init.values()):
        return "pid 1", init
    return "pyhost", ns_ids("self", proc)


def shared_with_host(
    pid: int | str,
    proc: str = "/proc",
    host: dict[str, tuple[int, int] | None] | None = None,
) -> dict[str, bool | None]:
    """For each namespace type: True when the process shares it with the host.

    None means unknown: the link could not be read (not root) or the kernel lacks the type.
    """
    if host is None:
        host = host_reference(proc)[1]
    mine = ns_ids(pid, proc)
    result: dict[str, bool | None] = {}
    for kind in NS_TYPES:
        a, b = mine[kind], host[kind]
        result[kind] = None if a is None or b is None else a == b
    return result


def shared_by_default(kind: str, cg_version: int) -> bool:
    """What Docker does by default: share user and time (no userns-remap), cgroup on v1."""
    if kind == "cgroup":
        return cg_version == 1
    return kind in ("user", "time")


def verdict(shared: bool | None) -> str:
    if shared is None:
        return "unknown"
    return "shared with host" if shared else "isolated"


def describe(
    kind: str,
    mine: tuple[int, int] | None,
    host: tuple[int, int] | None,
    cg_version: int,
    sharers: list[str],
) -> dict[str, Any]:
    """One namespace type: its inode, the verdict, and whether that is Docker's default."""
    shared = None if mine is None or host is None else mine == host
    return {
        "inode": mine[1] if mine else None,
        "device": mine[0] if mine else None,
        "shared_with_host": shared,
        "verdict": verdict(shared),
        "expected": None if shared is None else shared == shared_by_default(kind, cg_version),
        "shared_with": sharers,
    }


def findings(types: dict[str, dict[str, Any]]) -> list[str]:
    """One line for each namespace shared beyond Docker's defaults, and with each container."""
    lines: list[str] = []
    for kind, entry in types.items():
        if entry["shared_with_host"] and entry["expected"] is False:
            lines.append(f"{kind} namespace shared with the host")
        lines += [f"{kind} namespace shared with container {name}" for name in entry["shared_with"]]
    return lines


def section(
    pid: int,
    *,
    reference: str,
    host: dict[str, tuple[int, int] | None],
    cg_version: int,
    sharers: dict[str, list[str]],
    nspid: list[int],
    mine: dict[str, tuple[int, int] | None],
    proc: str = "/proc",
) -> dict[str, Any]:
    """Every namespace type of the process, compared with the host and with other containers
    (``mine``: its namespaces, as ns_ids read them)."""
    if not any(mine.values()) and not os.path.exists(f"{proc}/{pid}"):
        raise FileNotFoundError(f"{proc}/{pid}/ns")
    types = {
        kind: describe(kind, mine[kind], host[kind], cg_version, sharers.get(kind, []))
        for kind in NS_TYPES
    }
    return {
        "reference": reference,
        "nspid": nspid,
        "types": types,
        "findings": findings(types),
    }
