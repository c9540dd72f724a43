"""Small helpers the built-in checks share."""

from __future__ import annotations

import re
from typing import Any

from pyhost.audit.facts import HostFacts
from pyhost.audit.model import Evidence


def mode_text(mode: int) -> str:
    return f"{mode:04o}"


def check_file(
    evidence: Evidence,
    found: dict[str, Any] | None,
    *,
    user: str | None = None,
    groups: tuple[str, ...] = (),
    max_mode: int | None = None,
    what: str,
) -> None:
    """Owner and mode of one file; compares permission bits, not numbers (0606 is not
    within 0644 even though 606 < 644)."""
    import pytest

    if found is None:
        pytest.skip(f"{what} does not exist on this host")
    evidence.add(
        found["path"],
        f"{found['user'] or found['uid']}:{found['group'] or found['gid']} "
        f"mode {mode_text(found['mode'])}",
    )
    if user is not None:
        owner_ok = found["user"] == user or (found["user"] is None and found["uid"] == 0)
        group_ok = (
            not groups or found["group"] in groups or ("root" in groups and found["gid"] == 0)
        )
        wanted = f"{user}:{'/'.join(groups)}" if groups else user
        evidence.require(
            owner_ok and group_ok,
            f"{found['path']} is owned by {found['user'] or found['uid']}:"
            f"{found['group'] or found['gid']}, not {wanted}",
        )
    if max_mode is not None:
        extra = found["mode"] & ~max_mode
        evidence.require(
            extra == 0,
            f"{found['path']} has mode {mode_text(found['mode'])}: bits {mode_text(extra)} "
            f"beyond {mode_text(max_mode)}",
        )


def version_tuple(text: str) -> tuple[int, ...]:
    """27.3.1 -> (27, 3, 1); 20.10.24+dfsg1 -> (20, 10, 24); 5:27.3.1-1~debian -> (27, 3, 1)."""
    text = text.split(":", 1)[-1]
    match = re.match(r"[0-9]+(?:\.[0-9]+)*", text)
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def need_engine(facts: HostFacts) -> None:
    import pytest

    if not facts.engine.get("available"):
        pytest.skip(f"no Docker engine answers: {facts.engine.get('error')}")
