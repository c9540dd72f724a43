"""Light stand-ins for standard-library pieces on `pyhost run`'s start-up path.

`pyhost run` is held to a start-up budget (bench/run_bench.py; the issue's target is 3x a bare
interpreter). On a small machine these imports cost more than a whole container set-up:
contextlib ~6 ms (it imports collections and functools), signal ~10 ms (it builds enums),
shutil ~20 ms (it imports bz2, lzma and fnmatch/re). What the runtime needs of them is small
and written here once.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable
    from types import TracebackType
else:
    import _signal as signal  # the C module behind `signal`: same functions, ints for enums

__all__ = [
    "DIR_FLAGS",
    "Background",
    "remove_entry",
    "remove_tree",
    "signal",
    "start_thread",
    "suppress",
]


class suppress:
    """``contextlib.suppress``: leave the block quietly on one of ``exceptions``."""

    def __init__(self, *exceptions: type[BaseException]) -> None:
        self.exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return kind is not None and issubclass(kind, self.exceptions)


def start_thread(function: Callable[..., object], *args: object) -> None:
    """``function(*args)`` on a new thread (``_thread``: threading costs a few ms to import)
    that no signal can land on: the supervisor holds some signals back while it starts
    (launch.block_forwarded), and one delivered to another thread meanwhile would take its
    default action and end pyhost."""
    import _thread

    held = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        _thread.start_new_thread(function, args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class Background:
    """``function(*args)`` on a thread (see start_thread); `wait` until it has returned.

    For work that is mostly system calls (which let the GIL go): it overlaps with the
    caller's. An exception the function raises is kept in ``error``."""

    def __init__(self, function: Callable[..., object], *args: object) -> None:
        import _thread

        self.error: BaseException | None = None
        self._done = _thread.allocate_lock()
        self._done.acquire()
        start_thread(self._run, function, args)

    def _run(self, function: Callable[..., object], args: tuple[object, ...]) -> None:
        try:
            function(*args)
        except BaseException as e:
            self.error = e
        finally:
            self._done.release()

    def wait(self, timeout: float = -1) -> bool:
        """True once the function has returned (False when ``timeout`` seconds passed)."""
        return self._done.acquire(timeout=timeout)


# A directory opened to be walked through descriptors: never through a symlink.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_DEPTH = 256


def remove_entry(dir_fd: int, name: str, *, unlock: bool = False, _depth: int = 0) -> None:
    """Remove ``name`` under ``dir_fd``, a whole tree for a directory, following nothing: a
    symlink inside is removed, never followed, whatever the tree's owner did to it (as
    shutil's own fd-based rmtree, which costs `pyhost run` ~20 ms to import).

    Errors are raised, except with ``unlock``: directories without permissions (overlayfs
    leaves a mode-0 ``work/work`` behind; layers unpacked read-only) are given the permission
    back, and what cannot be removed (a busy mount point) stays while the rest goes.
    """
    try:
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    if _depth > _MAX_DEPTH:
        raise OSError(f"{name}: directory tree deeper than {_MAX_DEPTH} levels")
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        if not unlock:
            raise
        os.chmod(name, 0o700, dir_fd=dir_fd)
        fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        for child in os.listdir(fd):
            if not unlock:
                remove_entry(fd, child, _depth=_depth + 1)
                continue
            try:
                remove_entry(fd, child, unlock=True, _depth=_depth + 1)
            except PermissionError:
                try:
                    os.fchmod(fd, 0o700)  # a read-only or mode-0 directory of the caller's
                    remove_entry(fd, child, unlock=True, _depth=_depth + 1)
                except OSError:
                    pass
            except OSError:
                pass  # the rmdir below says whether the directory could be emptied
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def remove_tree(path: str) -> None:
    """``path`` and everything below it, through remove_entry with ``unlock``: best effort,
    as the clean-up it serves; a missing ``path`` is not an error."""
    parent, name = os.path.split(os.path.abspath(path))
    try:
        parent_fd = os.open(parent, DIR_FLAGS)
    except FileNotFoundError:
        return
    try:
        remove_entry(parent_fd, name, unlock=True)
    except OSError:
        pass
    finally:
        os.close(parent_fd)
