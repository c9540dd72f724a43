"""Platforms (``linux/arm64/v8``) and the choice of one manifest from an index.

Used by the registry client and by OCI layouts alike: an index lists one manifest per
platform, plus ``unknown/unknown`` attestation manifests (BuildKit's provenance and SBOM),
which are never an image to run.
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass
from typing import Any

from pyhost.runtime.images.errors import ImageError

# uname -m → the GOARCH names (and variants) images use
_MACHINES = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", None),
    "arm64": ("arm64", None),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "i386": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
    "mips64": ("mips64", None),
    "loongarch64": ("loong64", None),
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def parse_platform(text: str) -> Platform:
    """``linux/amd64``, ``linux/arm64/v8``, ``linux/arm/v7``; the OS may be left out."""
    parts = text.strip().lower().split("/")
    if len(parts) == 1 and parts[0]:
        parts = ["linux", parts[0]]
    if len(parts) not in (2, 3) or not all(parts):
        raise ImageError(f"{text!r} is not a platform", hint="write OS/ARCH[/VARIANT]")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(parts[1], parts[1])
    return Platform(parts[0], arch, parts[2] if len(parts) == 3 else None)


def default_platform() -> Platform:
    """This machine's: linux and the architecture ``uname -m`` reports."""
    machine = _platform.machine().lower()
    arch, variant = _MACHINES.get(machine, (machine, None))
    return Platform("linux", arch, variant)


def _variants_match(want: Platform, have: str | None) -> bool:
    if want.variant is None:
        return True
    if want.architecture == "arm64":  # v8 is arm64's only variant in practice
        return (have or "v8") == (want.variant or "v8")
    return have == want.variant


def platform_of(descriptor: dict[str, Any]) -> Platform | None:
    plat = descriptor.get("platform")
    if not isinstance(plat, dict):
        return None
    return Platform(
        str(plat.get("os", "")), str(plat.get("architecture", "")), plat.get("variant") or None
    )


def choose_manifest(
    manifests: list[dict[str, Any]], want: Platform, *, what: str
) -> dict[str, Any]:
    """The descriptor for ``want`` from an index's ``manifests``; an error that lists the
    platforms the index has when none fits."""
    offered: list[Platform] = []
    fitting: list[dict[str, Any]] = []
    for desc in manifests:
        plat = platform_of(desc)
        if plat is None:
            if len(manifests) == 1:
                return desc  # an index of one manifest without a platform: that one
            continue
        if plat.os == "unknown" or plat.architecture == "unknown":
            continue  # an attestation manifest, not an image
        offered.append(plat)
        if (
            plat.os == want.os
            and plat.architecture == want.architecture
            and _variants_match(want, plat.variant)
        ):
            fitting.append(desc)
    if not fitting:
        have = ", ".join(str(p) for p in offered) or "nothing runnable"
        raise ImageError(
            f"{what} has no {want} image; it has: {have}", hint="choose one with --platform"
        )
    if want.variant is None and len(fitting) > 1:
        # prefer the entry without a variant, then the first (the index's own order)
        plain = [d for d in fitting if not (platform_of(d) or want).variant]
        if plain:
            return plain[0]
    return fitting[0]
