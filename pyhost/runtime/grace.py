"""Pay the wait of the container's cgroup move while pyhost is still starting.

Moving a task between cgroups takes the kernel's cgroup_threadgroup_rwsem for writing; when no
move happened lately that first waits for an RCU grace period (7-12 ms here, measured),
holding cgroup_mutex (so cgroup mkdirs wait too), and further moves stay quick until about one
grace period after the last one. ``start`` therefore has a thread "move" this process into the
cgroup it is already in (a no-op for the process) right away, while the main thread imports
and prepares, and repeat that every few ms until ``used`` says the container has moved (at
most 120 ms): the container's own move then takes ~1 ms instead of ~11, and the cgroup's
mkdirs do not wait either.

This module is the first the runtime loads (``pyhost run`` starts it before anything else), so
it imports nothing of its own but a thread starter: every millisecond before the thread's
first move is a millisecond the supervisor may later wait for.
"""

from __future__ import annotations

import os
import time

from pyhost.runtime.stdlite import start_thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

KEEP_OPEN_S = 0.12  # the keep-alive: a move every few ms for at most this long
KEEP_OPEN_EVERY_S = 0.003
_moved = [False]  # set once the container is in its cgroup: the thread may stop


def start() -> None:
    """Start the thread (root only: where this process cannot write its own cgroup, or it
    cannot be found, nothing happens)."""
    procs = own_procs()
    if procs is None:
        return
    _moved[0] = False
    import _thread

    in_kernel = _thread.allocate_lock()
    in_kernel.acquire()
    start_thread(_keep_moves_quick, procs, in_kernel)
    # The thread needs the GIL to reach its system call; without this wait it would get it
    # only when the imports that follow let go (2 ms and more, measured).
    in_kernel.acquire(timeout=0.005)


def used() -> None:
    """The container is in its cgroup: the thread may stop."""
    _moved[0] = True


def _keep_moves_quick(procs: str, in_kernel: Any) -> None:
    try:
        fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        in_kernel.release()
        return
    pid = str(os.getpid()).encode()
    deadline = time.monotonic() + KEEP_OPEN_S
    try:
        in_kernel.release()
        os.write(fd, pid)  # the wait for the grace period happens here, off the main thread
        while not _moved[0] and time.monotonic() < deadline:
            time.sleep(KEEP_OPEN_EVERY_S)
            os.write(fd, pid)
    except OSError:
        pass
    finally:
        os.close(fd)


def own_procs() -> str | None:
    """The cgroup.procs file of this process's own cgroup: in the pids hierarchy on v1 (or a
    hybrid), in the unified one on v2.

    Looked for first where systemd and Docker mount the hierarchies, and taken only when it
    lists this process (so writing our pid there moves nothing); otherwise found through the
    mount table, which costs the cgroups module's import."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    own: dict[str, str] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path.rstrip("/")
    if "pids" in own:
        guess = f"/sys/fs/cgroup/pids{own['pids']}/cgroup.procs"
    elif "" in own:
        guess = f"/sys/fs/cgroup{own['']}/cgroup.procs"
    else:
        return None
    if _lists_this_process(guess):
        return guess
    return _from_mount_table(own)


def _lists_this_process(procs: str) -> bool:
    try:
        with open(procs, "rb") as f:
            return str(os.getpid()).encode() in f.read().split()
    except OSError:
        return False


def _from_mount_table(own: dict[str, str]) -> str | None:
    from pyhost.runtime import cgroups

    if cgroups.version() == 2:
        root: str | None = cgroups.V2_ROOT
        controller = ""
    else:
        root = cgroups.v1_roots().get("pids")
        controller = "pids"
    if root is None or controller not in own:
        return None
    procs = f"{root}{own[controller]}/cgroup.procs"
    return procs if _lists_this_process(procs) else None
