"""``--limit`` patterns, as Ansible reads them.

A limit is a list of patterns separated by ``,`` or ``:``. Each is a host or group name,
``all`` or ``*``, a shell-style glob (``web*``), or ``~regex`` (matched from the start of
the name). ``&pattern`` keeps only hosts it matches too, ``!pattern`` removes its hosts;
both apply after the plain patterns are added up, whatever their order. A limit holding
only ``&``/``!`` patterns starts from all hosts.

With a ``,`` in the limit, only ``,`` separates (so ``2001:db8::1,web`` works); a limit
that is one IP address is one name; ``:`` inside brackets or parentheses does not separate
(``web[1:3]``, ``~(?:web|db)``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyhost.errors import UsageError

from .hostnames import is_ip_address
from .localhost import LOCALHOST_NAMES, implicit_localhost

if TYPE_CHECKING:
    from .model import Host, Inventory

_GLOB_CHARS = frozenset("*?[")


def split_limit(limit: str) -> list[str]:
    """The patterns of a limit, in order, with their ``&``/``!`` prefixes."""
    text = limit.strip()
    if "," in text:
        parts = text.split(",")
    elif is_ip_address(text.lstrip("!&")):
        parts = [text]
    else:
        parts = _split_on_colons(text)
    patterns = [part.strip() for part in parts if part.strip()]
    if not patterns:
        raise UsageError(
            f"--limit {limit!r} names no host",
            hint="give host or group names separated by ',', or leave --limit out",
        )
    return patterns


def _split_on_colons(text: str) -> list[str]:
    """Split on ':' outside brackets and parentheses (``web[1:3]``, ``~(?:a|b)`` stay whole)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == ":" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        if char in "[(":
            depth += 1
        elif char in "])":
            depth = max(depth - 1, 0)
        current.append(char)
    parts.append("".join(current))
    return parts


def select_hosts(inventory: Inventory, limit: str | None) -> list[Host]:
    """The hosts ``limit`` picks, in inventory order, each once; all hosts for None."""
    if limit is None:
        return list(inventory.hosts)
    patterns = split_limit(limit)
    if any(pattern.startswith("@") for pattern in patterns):
        raise UsageError(
            f"--limit {limit!r}: reading the limit from a file (@FILE) is not supported",
            hint="list the hosts separated by ','",
        )
    added: dict[str, Host] = {}
    kept: list[set[str]] = []
    removed: set[str] = set()
    has_plain = False
    for pattern in patterns:
        operator, body = (pattern[0], pattern[1:].strip()) if pattern[0] in "&!" else ("", pattern)
        if not body:
            raise UsageError(
                f"--limit {limit!r}: {operator!r} must be followed by a host or group name",
                hint=f"write e.g. {operator}web",
            )
        matched = _match(inventory, body, limit)
        if not matched:
            raise _no_match(inventory, limit, pattern, body, len(patterns) > 1)
        if operator == "&":
            kept.append({host.name for host in matched})
        elif operator == "!":
            removed.update(host.name for host in matched)
        else:
            has_plain = True
            for host in matched:
                added.setdefault(host.name, host)
    if not has_plain:
        added = {host.name: host for host in inventory.hosts}
    selected = [
        host
        for name, host in added.items()
        if name not in removed and all(name in names for names in kept)
    ]
    if not selected:
        raise UsageError(
            f"no host matches --limit {limit!r}",
            hint="each pattern matches hosts, but '&' and '!' leave none",
        )
    return sorted(selected, key=inventory.position)


def _match(inventory: Inventory, body: str, limit: str) -> list[Host]:
    """Hosts matched by one pattern (without its operator), in inventory order."""
    test: Callable[[str], bool]
    if body.startswith("~"):
        try:
            regex = re.compile(body[1:])
        except re.error as e:
            raise UsageError(
                f"--limit {limit!r}: {body!r} is not a valid regular expression: {e}",
                hint="after '~' write a Python regular expression, e.g. ~web0[1-3]",
            ) from e

        def test(name: str) -> bool:
            return regex.match(name) is not None

    elif _GLOB_CHARS.intersection(body):

        def test(name: str) -> bool:
            return fnmatch.fnmatchcase(name, body)

    else:

        def test(name: str) -> bool:
            return name == body

    groups = {name for name in inventory.groups if test(name)}
    hosts = [
        host for host in inventory.hosts if test(host.name) or groups.intersection(host.groups)
    ]
    if not hosts and body in LOCALHOST_NAMES:
        # As Ansible: the local machine can be selected by name without being listed.
        all_group = inventory.groups.get("all")
        return [implicit_localhost(body, all_group.vars if all_group else None)]
    return hosts


def _no_match(
    inventory: Inventory, limit: str, pattern: str, body: str, several: bool
) -> UsageError:
    import difflib

    names = list(dict.fromkeys([host.name for host in inventory.hosts] + list(inventory.groups)))
    close = difflib.get_close_matches(body.lstrip("~"), names, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + ", ".join(repr(name) for name in close) + "?"
    else:
        groups = ", ".join(list(inventory.groups)[:10])
        hint = f"names are case-sensitive; the groups are: {groups}"
    if "," not in limit and limit.count(":") > 1:
        hint += " Separate patterns with ',' when one holds ':' (IPv6 addresses, regexes)."
    message = f"no host matches --limit {limit!r}"
    if several:
        message = f"no host matches {pattern!r} in --limit {limit!r}"
    return UsageError(message, hint=hint)
