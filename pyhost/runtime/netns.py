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

from pyhost.runtime.stdlite import start_thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_made: list[int] = []  # the descriptor, once the thread has made the namespace
_done: list[Any] = []  # the lock the thread releases when it ends


def prepare() -> None:
    """Start making the namespace (see the module's docstring)."""
    import _thread

    done = _thread.allocate_lock()
    done.acquire()
    _done[:] = [done]
    _made.clear()
    start_thread(_make, done)


def settle(timeout: float = 1.0) -> None:
    """Wait until the thread has ended (at most ``timeout`` seconds): a process forked after
    this sees its namespace, or none."""
    if _done and not _done.pop().acquire(timeout=timeout):
        pass  # stuck in the kernel: take() answers None, the container unshares itself


def take(timeout: float = 1.0) -> int | None:
    """The prepared namespace's descriptor (the caller closes it), or None where none was
    prepared or making it failed: the container then makes its own, as without this."""
    settle(timeout)
    return _made.pop() if _made else None


def _make(done: Any) -> None:
    try:
        from pyhost.runtime import linux

        linux.unshare(linux.CLONE_NEWNET)  # this thread only
        linux.link_up("lo")
        _made.append(os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC))
    except OSError:
        pass
    finally:
        done.release()
