"""Reading small kernel files (/proc, /sys) where a missing or unreadable file is normal."""

from __future__ import annotations

import os


def read_text(path: str) -> str | None:
    """The file's text, stripped; None when it does not exist or cannot be read.

    os.read rather than open(): open()'s buffer and text layers cost more than the read of
    a kernel file itself, and an inspection reads a hundred of them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace").strip()


def hostname() -> str:
    """This host's name, as socket.gethostname() (whose module imports enum: ~10 ms)."""
    import _socket

    return str(_socket.gethostname())
