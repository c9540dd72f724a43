"""Capability names and Docker's default set, for ``--cap-add``/``--cap-drop``."""

from __future__ import annotations

import os

from pyhost.inspect.collect.capnames import CAP_NAMES, DEFAULT_CAPS
from pyhost.runtime.errors import RunUsageError

# The kernel's capability names in bit order and Docker's default 14, from the collector's
# tables (a stdlib-only leaf that the inspector also ships to remote hosts).
BITS: dict[str, int] = {name: bit for bit, name in enumerate(CAP_NAMES)}
DOCKER_DEFAULT = frozenset(DEFAULT_CAPS.values())


def last_cap() -> int:
    """The highest capability this kernel knows (capabilities above it cannot be dropped)."""
    try:
        fd = os.open("/proc/sys/kernel/cap_last_cap", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return int(os.read(fd, 32))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return len(CAP_NAMES) - 1


def normalize(name: str) -> str:
    upper = name.strip().upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def resolve(add: list[str], drop: list[str]) -> frozenset[str]:
    """Docker's rules: start from the default 14, drop, then add; ALL means every capability."""
    for name in [*add, *drop]:
        cap = normalize(name)
        if cap != "ALL" and cap not in BITS:
            import difflib

            near = difflib.get_close_matches(cap, [*BITS, "ALL"], n=1)
            hint = f"did you mean {near[0]}?" if near else "see capabilities(7)"
            raise RunUsageError(f"unknown capability {name!r}", hint=hint)
    dropped = {normalize(n) for n in drop}
    added = {normalize(n) for n in add}
    caps = set() if "ALL" in dropped else set(DOCKER_DEFAULT) - dropped
    caps |= set(BITS) if "ALL" in added else added
    return frozenset(caps)


def mask(caps: frozenset[str], limit: int | None = None) -> int:
    """The bits of ``caps`` this kernel knows (up to ``limit``, by default last_cap())."""
    limit = last_cap() if limit is None else limit
    return sum(1 << BITS[c] for c in caps if BITS[c] <= limit)
