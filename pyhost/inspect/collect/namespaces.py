"""Namespaces of a process, compared with the host's (PID 1's) by device and inode."""

from __future__ import annotations

import os

NS_TYPES = ("mnt", "uts", "ipc", "pid", "net", "user", "cgroup", "time")


def ns_ids(pid: int | str, proc: str = "/proc") -> dict[str, tuple[int, int] | None]:
    """(st_dev, st_ino) of each namespace; None where it is unreadable or absent."""
    ids: dict[str, tuple[int, int] | None] = {}
    for kind in NS_TYPES:
        try:
            st = os.stat(f"{proc}/{pid}/ns/{kind}")
        except OSError:
            ids[kind] = None
        else:
            ids[kind] = (st.st_dev, st.st_ino)
    return ids


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
