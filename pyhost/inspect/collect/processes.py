"""The processes inside a container: every host pid in its pid namespace, as a tree."""

from __future__ import annotations

from . import proctable
from .proctable import Proc

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

MAX_PROCESSES = 500


def row(entry: Proc, depth: int, proc: str) -> dict[str, Any]:
    """One process: host pid beside its pid in the namespace (NSpid's last field)."""
    try:
        st = proctable.status_fields(entry.pid, proc)
    except OSError:
        st = {}
    levels = [int(p) for p in st.get("NSpid", str(entry.pid)).split()]
    argv = proctable.cmdline(entry.pid, proc)
    return {
        "pid": entry.pid,
        "container_pid": levels[-1],
        "nspid": levels,
        "ppid": entry.ppid,
        "depth": depth,
        "comm": entry.comm,
        "state": st.get("State", "").split(" ")[0] or None,
        "uid": int(st["Uid"].split()[0]) if st.get("Uid") else None,
        "cmdline": argv or [f"[{entry.comm}]"],
    }


def tree(members: list[Proc], limit: int = MAX_PROCESSES) -> list[tuple[Proc, int]]:
    """(process, depth) depth-first; roots are members whose parent is not a member
    (the container's init, and processes started by `docker exec`)."""
    ids = {p.pid for p in members}
    children: dict[int, list[Proc]] = {}
    for p in members:
        children.setdefault(p.ppid, []).append(p)
    roots = sorted((p for p in members if p.ppid not in ids), key=lambda p: p.pid)
    order: list[tuple[Proc, int]] = []
    stack: list[tuple[Proc, int]] = [(p, 0) for p in reversed(roots)]
    while stack and len(order) < limit:
        p, depth = stack.pop()
        order.append((p, depth))
        kids = sorted(children.get(p.pid, []), key=lambda c: c.pid)
        stack += [(c, depth + 1) for c in reversed(kids)]
    return order


def descendants(pid: int, table: dict[int, Proc]) -> list[Proc]:
    """The process and everything below it."""
    children: dict[int, list[Proc]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p)
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        if current in table:
            out.append(table[current])
        stack += [c.pid for c in children.get(current, [])]
    return out


def section(
    pid: int, table: dict[int, Proc], *, host_pidns: bool, proc: str = "/proc"
) -> dict[str, Any]:
    """Every process in the pid namespace of ``pid`` (or, in the host's, its descendants)."""
    entry = table.get(pid) or proctable.read_proc(pid, proc)
    if entry is None:
        raise ProcessLookupError(pid)
    ident = entry.nsid("pid")
    if host_pidns or ident is None:
        members, scope = descendants(pid, table), "descendants"
    else:
        members = proctable.same_namespace(table, "pid", ident)
        scope = "pid namespace"
    ordered = tree(members)
    return {
        "pid_namespace": ident[1] if ident else None,
        "scope": scope,
        "count": len(members),
        "truncated": len(ordered) < len(members),
        "tree": [row(p, depth, proc) for p, depth in ordered],
        "findings": [],
    }
