"""Reading small kernel files (/proc, /sys) where a missing or unreadable file is normal."""

from __future__ import annotations


def read_text(path: str) -> str | None:
    """The file's text, stripped; None when it does not exist or cannot be read."""
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None
