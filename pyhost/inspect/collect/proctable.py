"""One pass over /proc: every process with its parent and start time; its namespaces and
Docker container id are read when first asked for.

The inspector reads this table once and answers several questions from it: which processes
live in a container's pid namespace, which other containers share a namespace, and where
dockerd, containerd and the shim are. Processes that exit during the scan are skipped.

The pass reads only /proc/PID/stat (one read each, through os.read rather than open()'s
text layers); a process's namespace links and cgroup file are read when a question needs
them, and only then: most processes of a host are never asked about. Kernel threads can be
left out of the table altogether: they live in the host's namespaces and in no container,
so that only an inspection of one of them (its descendants) needs them; kthreadd lists them
as its children in one file.
"""

from __future__ import annotations

import os

from .fs import read_bytes
from .namespaces import NS_TYPES, ns_id, ns_inode

HEX = "0123456789abcdef"


class Proc:
    """One process of the table (a plain class: see inspection.Context).

    ``ns`` and ``container_ids`` may be given; what is not given is read from ``proc`` when
    first asked for (nothing is read where ``proc`` is None).
    """

    __slots__ = ("_ids", "_ns", "comm", "kernel", "pid", "ppid", "proc", "start")

    def __init__(
        self,
        pid: int,
        ppid: int,
        comm: str,
        start: int,  # clock ticks after boot (field 22 of /proc/PID/stat)
        ns: dict[str, tuple[int, int] | None] | None = None,
        container_ids: tuple[str, ...] | None = None,  # from the cgroup path, outermost first
        proc: str | None = None,
        kernel: bool = False,  # a kernel thread (PF_KTHREAD)
    ) -> None:
        self.pid = pid
        self.ppid = ppid
        self.comm = comm
        self.start = start
        self.kernel = kernel
        self._ns: dict[str, tuple[int, int] | None] = ns if ns is not None else {}
        self._ids = container_ids
        self.proc = proc

    def __repr__(self) -> str:
        return f"Proc({self.pid}, {self.ppid}, {self.comm!r})"

    def nsid(self, kind: str) -> tuple[int, int] | None:
        """(st_dev, st_ino) of one namespace; None where it is unreadable or absent."""
        if kind in self._ns or self.proc is None:
            return self._ns.get(kind)
        ident = self._ns[kind] = ns_id(self.pid, kind, self.proc)
        return ident

    def in_namespace(self, kind: str, ident: tuple[int, int]) -> bool:
        """Whether this process is in the namespace ``ident`` (see ``nsid``) of ``kind``;
        read through the link's inode where nothing is known yet (see ns_inode)."""
        if kind in self._ns or self.proc is None:
            return self._ns.get(kind) == ident
        return ns_inode(self.pid, kind, self.proc) == ident[1]

    @property
    def ns(self) -> dict[str, tuple[int, int] | None]:
        """Every namespace type (see ``nsid``)."""
        if self.proc is not None:
            for kind in NS_TYPES:
                self.nsid(kind)
        return self._ns

    @property
    def container_ids(self) -> tuple[str, ...]:
        if self._ids is None:
            self._ids = container_ids(self.pid, self.proc) if self.proc is not None else ()
        return self._ids

    def container(self, known: set[str] | dict[str, str]) -> str | None:
        """The innermost container id of this process that the engine knows, if any."""
        for ident in reversed(self.container_ids):
            if ident in known:
                return ident
        return None


PF_KTHREAD = 0x00200000  # include/linux/sched.h


def _stat(pid: int | str, proc: str) -> tuple[int, str, int, int]:
    """(ppid, comm, start time, flags) from /proc/PID/stat."""
    text = read_bytes(f"{proc}/{pid}/stat").decode(errors="replace")
    head, _, tail = text.rpartition(")")
    comm = head.partition("(")[2]
    fields = tail.split()
    return int(fields[1]), comm, int(fields[19]), int(fields[6])


def read_stat(pid: int | str, proc: str = "/proc") -> tuple[int, str, int]:
    """(ppid, comm, start time) from /proc/PID/stat; comm may hold spaces and parentheses."""
    ppid, comm, start, _ = _stat(pid, proc)
    return ppid, comm, start


def _ids_in(path: str, found: list[str]) -> None:
    """Container ids in one cgroup path: "docker" then "-" or "/" then 64 hex digits (the
    leaf /docker/<id> of the cgroupfs driver, docker-<id>.scope of the systemd driver)."""
    at = path.find("docker")
    while at >= 0:
        begin = at + 7
        ident = path[begin : begin + 64]
        if path[at + 6 : begin] in ("-", "/") and len(ident) == 64 and not ident.strip(HEX):
            if ident not in found:
                found.append(ident)
            at = path.find("docker", begin + 64)
        else:
            at = path.find("docker", at + 1)


def container_ids(pid: int | str, proc: str = "/proc") -> tuple[str, ...]:
    """Docker container ids named in the process's cgroup paths, outermost first."""
    try:
        text = read_bytes(f"{proc}/{pid}/cgroup").decode(errors="replace")
    except OSError:
        return ()
    found: list[str] = []
    if "docker" in text:
        seen = set()  # v1 names the same path in most of its hierarchies
        for line in text.splitlines():
            path = line.split(":", 2)[-1]
            if path not in seen:
                seen.add(path)
                _ids_in(path, found)
    return tuple(found)


def read_proc(pid: int, proc: str = "/proc") -> Proc | None:
    """One process, or None when it is gone (or its stat cannot be read)."""
    try:
        ppid, comm, start, flags = _stat(pid, proc)
    except (OSError, ValueError, IndexError):
        return None
    return Proc(pid, ppid, comm, start, proc=proc, kernel=bool(flags & PF_KTHREAD))


KTHREADD = 2  # the kernel's thread daemon: every other kernel thread is its child


def kernel_threads(proc: str = "/proc") -> set[str]:
    """The pids (as /proc names them) of kthreadd and its children; empty where pid 2 is
    not kthreadd (pyhost in a pid namespace of its own) or its children cannot be read."""
    try:
        ppid, comm, _, flags = _stat(KTHREADD, proc)
        if ppid != 0 or comm != "kthreadd" or not flags & PF_KTHREAD:
            return set()
        children = read_bytes(f"{proc}/{KTHREADD}/task/{KTHREADD}/children").split()
    except (OSError, ValueError, IndexError):
        return set()
    return {str(KTHREADD), *(c.decode() for c in children)}


def scan(proc: str = "/proc", *, kernel: bool = True) -> dict[int, Proc]:
    """Every process visible in ``proc``, by host pid; without the kernel threads where
    ``kernel`` is False (a thread that kthreadd starts during the scan may still be in)."""
    skip = set() if kernel else kernel_threads(proc)
    table: dict[int, Proc] = {}
    for name in os.listdir(proc):
        if name.isdigit() and name not in skip:
            entry = read_proc(int(name), proc)
            if entry is not None:
                table[entry.pid] = entry
    return table


def cmdline(pid: int | str, proc: str = "/proc") -> list[str]:
    """The argument vector; empty for kernel threads and zombies."""
    try:
        raw = read_bytes(f"{proc}/{pid}/cmdline")
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def status_fields(pid: int | str, proc: str = "/proc") -> dict[str, str]:
    """/proc/PID/status as key -> value (whitespace trimmed)."""
    text = read_bytes(f"{proc}/{pid}/status").decode(errors="replace")
    return {
        key: value.strip() for key, _, value in (x.partition(":") for x in text.splitlines()) if key
    }


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
    """Every process in a container's namespace ``ident`` of type ``kind``: not one of the
    host's, where no kernel thread can be (they all live in the initial namespaces), so
    theirs are not read."""
    return [
        entry for entry in table.values() if not entry.kernel and entry.in_namespace(kind, ident)
    ]


SHIM_COMM = "containerd-shim"  # comm (15 characters) of every containerd-shim-* (v1, runc v2)


def container_candidates(table: dict[int, Proc]) -> list[Proc]:
    """The processes that can be in a Docker container: the descendants of a containerd
    shim (a subreaper: orphans inside a container stay below it). Where no shim runs (an
    engine of another kind), every process; only those are read for their cgroup and
    namespaces, so the other processes of the host cost nothing."""
    children: dict[int, list[Proc]] = {}
    shims = []
    for entry in table.values():
        children.setdefault(entry.ppid, []).append(entry)
        if entry.comm == SHIM_COMM:
            shims.append(entry)
    if not shims:
        return list(table.values())
    found: list[Proc] = []
    stack = [c for shim in shims for c in children.get(shim.pid, ())]
    seen: set[int] = set()
    while stack and len(seen) <= len(table):
        entry = stack.pop()
        if entry.pid in seen:
            continue
        seen.add(entry.pid)
        found.append(entry)
        stack.extend(children.get(entry.pid, ()))
    return found


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
    ``known`` is looked up only for processes that share a namespace.
    """
    targets = {k: v for k, v in mine.items() if v is not None and v != host.get(k)}
    kinds = list(targets)
    found: dict[str, set[str]] = {kind: set() for kind in NS_TYPES}
    for entry in container_candidates(table) if kinds else ():
        if entry.kernel:
            continue  # kernel threads live in the initial namespaces: never in ``kinds``
        shared = [kind for kind in kinds if entry.in_namespace(kind, targets[kind])]
        if not shared:
            continue  # the common case: the links alone tell (no cgroup read)
        ids = entry.container_ids
        if not ids or ids == (own,):
            continue  # in no container, or in this one alone
        # which container the process is in, only where it shares something (``known`` may
        # have to ask the engine)
        ident = entry.container(known)
        if ident is None or ident == own:
            continue
        for kind in shared:
            found[kind].add(known[ident])
    return {kind: sorted(names) for kind, names in found.items()}
