"""Reading small kernel files (/proc, /sys) where a missing or unreadable file is normal."""

from __future__ import annotations

import os

CHUNK = 1 << 16


def read_bytes(path: str, *, records: bool = False) -> bytes:
    """A kernel file's content, through os.read: open()'s buffer and text layers cost more
    than the read of a kernel file itself, and an inspection reads a few hundred of them.

    A read shorter than asked for ends the file, one system call sooner: true of regular
    files, sysfs attributes and the /proc and cgroup files the kernel writes in one go
    (stat, status, cgroup, cmdline, memory.stat...). ``records``: a file written a record
    at a time (mountinfo, /proc/PID/net/*), where a short read may come before the end:
    read until a read returns nothing.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, CHUNK)
        if len(data) < CHUNK and not records:
            return data
        chunks = [data]
        while data:
            data = os.read(fd, CHUNK)
            chunks.append(data)
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_text(path: str, *, records: bool = False) -> str | None:
    """The file's text, stripped; None when it does not exist or cannot be read."""
    try:
        return read_bytes(path, records=records).decode(errors="replace").strip()
    except OSError:
        return None


def hostname() -> str:
    """This host's name, as socket.gethostname() (whose module imports enum: ~10 ms)."""
    import _socket

    return str(_socket.gethostname())


def pyhost_state_dir() -> str:
    """Where `pyhost run` keeps its records (the runtime's state root, read here by path)."""
    root = os.environ.get("PYHOST_STATE_ROOT") or "/run/pyhost"
    return os.path.join(root, "containers")


def read_pid(path: str) -> int | None:
    """The pid in a pidfile; None when absent or not a number."""
    try:
        return int(read_bytes(path))
    except (OSError, ValueError):
        return None


def which(name: str, search_path: str | None = None) -> str | None:
    """The executable ``name`` on ``search_path`` (default: this process's PATH), as
    ``shutil.which`` finds it (whose import costs more than a whole lookup)."""
    if search_path is None:
        search_path = os.environ.get("PATH", os.defpath)
    for directory in search_path.split(os.pathsep):
        path = os.path.join(directory or ".", name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


def flag_values(argv: list[str], *names: str) -> list[str]:
    """The values of a long or short flag in ``--name=value`` and ``--name value`` forms."""
    values = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                values.append(argv[i + 1])
            elif arg.startswith(name + "="):
                values.append(arg[len(name) + 1 :])
    return values
