"""One pass over /proc: every process with its parent, namespaces and Docker container id.

The inspector reads this table once and answers several questions from it: which processes
live in a container's pid namespace, which other containers share a namespace, and where
dockerd, containerd and the shim are. Processes that exit during the scan are skipped.
"""

from __future__ import annotations

import os
import re

from .namespaces import NS_TYPES, ns_ids

# docker's cgroup leaf: /docker/<id> (cgroupfs driver) or docker-<id>.scope (systemd driver)
_CONTAINER_ID = re.compile(r"docker[-/]([0-9a-f]{64})")


class Proc:
    """One process of the table (a plain class: see inspection.Context)."""

    __slots__ = ("comm", "container_ids", "ns", "pid", "ppid", "start")

    def __init__(
        self,
        pid: int,
        ppid: int,
        comm: str,
        start: int,  # clock ticks after boot (field 22 of /proc/PID/stat)
        ns: dict[str, tuple[int, int] | None] | None = None,
        container_ids: tuple[str, ...] = (),  # from the cgroup path, outermost first
    ) -> None:
        self.pid = pid
        self.ppid = ppid
        self.comm = comm
        self.start = start
        self.ns: dict[str, tuple[int, int] | None] = ns if ns is not None else {}
        self.container_ids = container_ids

    def __repr__(self) -> str:
        return f"Proc({self.pid}, {self.ppid}, {self.comm!r})"

    def container(self, known: set[str] | dict[str, str]) -> str | None:
        """The innermost container id of this process that the engine knows, if any."""
        for ident in reversed(self.container_ids):
            if ident in known:
                return ident
        return None


def read_stat(pid: int | str, proc: str = "/proc") -> tuple[int, str, int]:
    """(ppid, comm, start time) from /proc/PID/stat; comm may hold spaces and parentheses."""
    with open(f"{proc}/{pid}/stat") as fh:
        text = fh.read()
    head, _, tail = text.rpartition(")")
    comm = head.partition("(")[2]
    fields = tail.split()
    return int(fields[1]), comm, int(fields[19])


def container_ids(pid: int | str, proc: str = "/proc") -> tuple[str, ...]:
    """Docker container ids named in the process's cgroup paths, outermost first."""
    try:
        with open(f"{proc}/{pid}/cgroup") as fh:
            text = fh.read()
    except OSError:
        return ()
    found: list[str] = []
    for line in text.splitlines():
        for ident in _CONTAINER_ID.findall(line.split(":", 2)[-1]):
            if ident not in found:
                found.append(ident)
    return tuple(found)


def read_proc(pid: int, proc: str = "/proc") -> Proc | None:
    """One process, or None when it is gone (or its stat cannot be read)."""
    try:
        ppid, comm, start = read_stat(pid, proc)
    except (OSError, ValueError, IndexError):
        return None
    return Proc(pid, ppid, comm, start, ns_ids(pid, proc), container_ids(pid, proc))


def scan(proc: str = "/proc") -> dict[int, Proc]:
    """Every process visible in ``proc``, by host pid."""
    table: dict[int, Proc] = {}
    for name in os.listdir(proc):
        if name.isdigit():
            entry = read_proc(int(name), proc)
            if entry is not None:
                table[entry.pid] = entry
    return table


def cmdline(pid: int | str, proc: str = "/proc") -> list[str]:
    """The argument vector; empty for kernel threads and zombies."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def status_fields(pid: int | str, proc: str = "/proc") -> dict[str, str]:
    """/proc/PID/status as key -> value (whitespace trimmed)."""
    with open(f"{proc}/{pid}/status") as fh:
        return {key: value.strip() for key, _, value in (line.partition(":") for line in fh) if key}


def nspid(pid: int | str, proc: str = "/proc") -> list[int]:
    """The pid at each pid-namespace level, outermost (the host's) first."""
    value = status_fields(pid, proc).get("NSpid", str(pid))
    return [int(part) for part in value.split()]


def ancestors(pid: int, table: dict[int, Proc], proc: str = "/proc") -> list[Proc]:
    """The process and its parents up to PID 1 (or the first that cannot be read)."""
    chain: list[Proc] = []
    seen: set[int] = set()
    current: int = pid
    while current > 0 and current not in seen:
        seen.add(current)
        entry = table.get(current) or read_proc(current, proc)
        if entry is None:
            break
        chain.append(entry)
        current = entry.ppid
    return chain


def same_namespace(table: dict[int, Proc], kind: str, ident: tuple[int, int]) -> list[Proc]:
    """Every process in the namespace ``ident`` of type ``kind``."""
    return [entry for entry in table.values() if entry.ns.get(kind) == ident]


def sharing_containers(
    table: dict[int, Proc],
    mine: dict[str, tuple[int, int] | None],
    own: str | None,
    known: dict[str, str],
    host: dict[str, tuple[int, int] | None],
) -> dict[str, list[str]]:
    """For each namespace type, the names of other running containers that are in it.

    ``known`` maps the engine's container ids to their names; ``own`` is excluded. The
    host's own namespaces are left out: every process shares those, containers or not.
    """
    kinds = [k for k in NS_TYPES if mine.get(k) is not None and mine[k] != host.get(k)]
    found: dict[str, set[str]] = {kind: set() for kind in NS_TYPES}
    for entry in table.values():
        ident = entry.container(known)
        if ident is None or ident == own:
            continue
        for kind in kinds:
            if entry.ns.get(kind) == mine[kind]:
                found[kind].add(known[ident])
    return {kind: sorted(names) for kind, names in found.items()}
