"""What the image subcommands (images, load, pull, rmi) share: the store and formatting.

Standard library only: these commands run on hosts that may have nothing but python3.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from pyhost.runtime.images import ImageStore

STORE_NOTE = (
    "the store is $PYHOST_DATA_ROOT, else /var/lib/pyhost as root, else ~/.local/share/pyhost"
)


def open_store() -> ImageStore:
    from pyhost.runtime.images import ImageStore, default_store_root

    return ImageStore(default_store_root())


def human_size(size: int) -> str:
    """Docker's units: decimal, three significant digits (``4.26MB``)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            text = f"{value:.3g}"
            return f"{text}{unit}"
        value /= 1000
    return f"{size}B"


def _parse_time(created: str) -> float | None:
    import calendar
    import re

    match = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)", created)
    if match is None:
        return None
    fields = tuple(int(g) for g in match.groups())
    return float(calendar.timegm((*fields, 0, 0, 0)))


def human_age(created: str, now: float | None = None) -> str:
    """``3 days ago``, as docker images shows it."""
    then = _parse_time(created)
    if then is None:
        return "N/A"
    seconds = max(0.0, (now if now is not None else time.time()) - then)
    for unit, length in (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("week", 7 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= 2 * length or (unit in ("hour", "minute") and seconds >= length):
            count = int(seconds // length)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "Less than a minute ago" if seconds >= 1 else "Less than a second ago"
