"""Host keys of a YAML inventory: ``name``, ``name:port`` and ranges like ``web[01:03]``."""

from __future__ import annotations

import ipaddress
import re
import string

# An inventory that expands to more hosts than this is a typo (web[1:100000]), not a fleet.
MAX_HOSTS_PER_KEY = 10_000

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_DIGITS = re.compile(r"[0-9]+")
_BRACKETED_IP = re.compile(r"\[([^\[\]]+)\](?::([0-9]+))?")


class HostKeyError(ValueError):
    """A host key that cannot be expanded; ``message`` and ``hint`` are for the user."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_host_key(key: str) -> tuple[list[str], int | None]:
    """The host names a key stands for, and the port written as ``name:port`` if any.

    An IP address (IPv6 included) is one name; ``[2001:db8::1]:2222`` gives a port too.
    """
    text = key.strip()
    if not text:
        raise HostKeyError("the host name is empty")
    if is_ip_address(text):
        return [text], None
    bracketed = _BRACKETED_IP.fullmatch(text)
    if bracketed and is_ip_address(bracketed[1]):
        return [bracketed[1]], int(bracketed[2]) if bracketed[2] else None
    port = None
    base, colon, tail = text.rpartition(":")
    # Only a colon outside brackets separates a port: web[1:3] is a range, not port 3].
    if colon and _BRACKETS.sub("", text).count(":") == 1 and _DIGITS.fullmatch(tail):
        text, port = base, int(tail)
    return expand_host_range(text), port


def expand_host_range(pattern: str) -> list[str]:
    """Expand every ``[start:end]`` or ``[start:end:step]`` range of a host name.

    Numbers keep the zero padding of ``start`` (``[01:10]``, ends then need equal length),
    a missing start is 0, letters run in one case (``[a:f]``); several ranges multiply.
    """
    outside = _BRACKETS.sub("", pattern)
    if "[" in outside or "]" in outside:
        raise HostKeyError(
            "has an unmatched '[' or ']'", hint="write a range as [start:end], e.g. web[01:03]"
        )
    names = [""]
    rest = pattern
    while match := _BRACKETS.search(rest):
        values = _range_values(match[1])
        names = [name + rest[: match.start()] + value for name in names for value in values]
        if len(names) > MAX_HOSTS_PER_KEY:
            raise HostKeyError(
                f"the ranges give more than {MAX_HOSTS_PER_KEY} hosts",
                hint="check the start and end of each range",
            )
        rest = rest[match.end() :]
    return [name + rest for name in names]


def _range_values(inner: str) -> list[str]:
    hint = "write a range as [start:end] or [start:end:step], e.g. web[01:03] or db-[a:c]"
    parts = inner.split(":")
    if len(parts) not in (2, 3):
        raise HostKeyError(f"range [{inner}] is not start:end or start:end:step", hint=hint)
    start, end = parts[0].strip() or "0", parts[1].strip()
    step_text = parts[2].strip() if len(parts) == 3 else "1"
    if not end:
        raise HostKeyError(f"range [{inner}] has no end", hint=hint)
    if not _DIGITS.fullmatch(step_text) or int(step_text) == 0:
        raise HostKeyError(f"range [{inner}] needs a step of 1 or more", hint=hint)
    step = int(step_text)
    if _DIGITS.fullmatch(start) and _DIGITS.fullmatch(end):
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        if width and len(end) != width:
            raise HostKeyError(
                f"range [{inner}] pads with zeros, so start and end need the same length",
                hint="write e.g. [01:10], or [1:10] without padding",
            )
        first, last = int(start), int(end)
        if first > last:
            raise HostKeyError(f"range [{inner}] starts after its end", hint=hint)
        if (last - first) // step >= MAX_HOSTS_PER_KEY:
            raise HostKeyError(
                f"range [{inner}] gives more than {MAX_HOSTS_PER_KEY} hosts",
                hint="check the start and end of the range",
            )
        return [str(number).zfill(width) for number in range(first, last + 1, step)]
    for letters in (string.ascii_lowercase, string.ascii_uppercase):
        if len(start) == 1 and len(end) == 1 and start in letters and end in letters:
            if start > end:
                raise HostKeyError(f"range [{inner}] starts after its end", hint=hint)
            return list(letters[letters.index(start) : letters.index(end) + 1 : step])
    raise HostKeyError(
        f"range [{inner}] must run between two numbers or two letters of the same case",
        hint=hint,
    )
