"""The container's network namespace, made on a thread while `pyhost run` starts.

Making a network namespace costs ~1 ms here (every per-namespace network subsystem sets
itself up) and bringing its loopback up ~0.5 ms more, all of it in system calls that let the
GIL go. ``prepare`` has a thread do both while the supervisor imports and prepares:
unshare(CLONE_NEWNET) moves the calling thread alone, so the supervisor stays in the host's
namespace. The thread keeps a descriptor of the new namespace; the container's first process
joins it with setns(2) instead of making its own (launch._setup).

The namespace is the one the container would have made itself: new, empty but for a loopback
that is up, owned by the initial user namespace. Only root does this: a rootless container
makes its own inside its user namespace. Nothing outlives pyhost: the namespace lives as long
as the descriptor or a process in it.
"""

from __future__ import annotations

import os

from pyhost.runtime.stdlite import Background

_made: list[int] = []  # the descriptor, once the thread has made the namespace
_job: list[Background] = []  # the thread making it


def prepare() -> None:
    """Start making the namespace (see the module's docstring)."""
    _made.clear()
    _job[:] = [Background(_make)]


def settle(timeout: float = 1.0) -> None:
    """Wait until the thread has ended (at most ``timeout`` seconds): a process forked after
    this sees its namespace, or none. A thread stuck in the kernel is left: take() answers
    None and the container unshares itself."""
    if _job:
        _job.pop().wait(timeout)


def take(timeout: float = 1.0) -> int | None:
    """The prepared namespace's descriptor (the caller closes it), or None where none was
    prepared or making it failed: the container then makes its own, as without this."""
    settle(timeout)
    return _made.pop() if _made else None


def _make() -> None:
    from pyhost.runtime import linux

    try:
        linux.unshare(linux.CLONE_NEWNET)  # this thread only
        linux.link_up("lo")
    except OSError:
        return
    _made.append(os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC))
