"""Docker CE version strings: resolve what a user writes to the exact apt version.

Docker's versions look like ``5:27.3.1-1~ubuntu.24.04~noble`` (older:
``5:20.10.18~3-0~ubuntu-jammy``). A user writes ``27.3.1``; it must match that upstream
version exactly, never by prefix (get.docker.com's ``VERSION=24.0`` matched "24.04" and
installed 28.4).
"""

from __future__ import annotations

import difflib
import re

from pyhost.errors import PyhostError


class VersionNotAvailable(PyhostError):
    """The repository does not carry the version asked for."""


def upstream(apt_version: str) -> str:
    """``5:27.3.1-1~ubuntu.24.04~noble`` -> ``27.3.1``; ``5:20.10.18~3-0~...`` -> ``20.10.18``."""
    version = apt_version.split(":", 1)[-1]
    version = version.rsplit("-", 1)[0] if "-" in version else version
    return version.split("~", 1)[0]


def is_full_version(wanted: str) -> bool:
    """True when the user wrote a full apt version (with epoch or revision), not X.Y.Z."""
    return ":" in wanted or "-" in wanted


def resolve(wanted: str, available: list[str], *, package: str = "docker-ce") -> str:
    """The apt version for ``wanted`` among ``available`` (newest first, as apt lists them).

    Raises `VersionNotAvailable` naming the nearest versions the repository carries.
    """
    if is_full_version(wanted):
        if wanted in available:
            return wanted
    else:
        for version in available:
            if upstream(version) == wanted:
                return version
    ups = sorted({upstream(v) for v in available}, key=_numeric_key, reverse=True)
    near = difflib.get_close_matches(wanted, ups, n=5, cutoff=0.0) if ups else []
    near.sort(key=_numeric_key, reverse=True)
    listing = ", ".join(near) if near else "none at all (is the repository configured?)"
    raise VersionNotAvailable(
        f"{package} {wanted} is not in the repository; nearest available: {listing}",
        hint="set pyhost_docker_version to one of them",
    )


def _numeric_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def parse_madison(output: str) -> list[str]:
    """Versions from ``apt-cache madison PKG`` output, in apt's order (newest first)."""
    versions = []
    for line in output.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) >= 3 and parts[1] not in versions:
            versions.append(parts[1])
    return versions
