"""``--shard K/N``: the part of the inventory one CI matrix job audits.

Hosts are sorted by name and dealt out in turn (host i goes to shard i mod N + 1): every
host lands in exactly one shard, the shards differ in size by one at most, and the split
depends only on the host names (not on the inventory's order or on the machine).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from pyhost.errors import UsageError

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*", text)
    if not match:
        raise UsageError(f"--shard {text!r}: write K/N, e.g. 2/4")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise UsageError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard(items: Sequence[T], k: int, n: int) -> list[T]:
    """The items of shard ``k`` of ``n`` (1-based), in their original order."""
    names = sorted(range(len(items)), key=lambda i: getattr(items[i], "name", str(items[i])))
    chosen = {i for pos, i in enumerate(names) if pos % n == k - 1}
    return [item for i, item in enumerate(items) if i in chosen]
