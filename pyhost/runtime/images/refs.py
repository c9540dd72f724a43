"""Image references: ``busybox``, ``name:tag``, ``registry:5000/ns/name:tag``, ``name@digest``.

Parsed the way Docker's distribution/reference does it: the first path component is a
registry only when it holds a ``.`` or a ``:`` or is ``localhost``; otherwise the image is on
Docker Hub (``docker.io``), where one-component names live under ``library/``. Names are
stored and shown in Docker's short ("familiar") form: ``busybox:latest`` for
``docker.io/library/busybox:latest``, the full form for every other registry.
"""

from __future__ import annotations

import re

from pyhost.runtime.images.errors import ImageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DOMAIN = re.compile(
    r"(?:localhost|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]+)?"
)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class Reference:
    """A parsed image reference. ``tag`` is None only when a digest is given without one.

    A plain class, as the runtime's records are: dataclasses would cost `pyhost run` ~13 ms.
    """

    __slots__ = ("digest", "domain", "path", "tag")

    def __init__(self, *, domain: str, path: str, tag: str | None, digest: str | None) -> None:
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    def __repr__(self) -> str:
        return (
            f"Reference({self.domain!r}, {self.path!r}, tag={self.tag!r}, digest={self.digest!r})"
        )

    @property
    def familiar_name(self) -> str:
        """The repository as Docker shows it: ``busybox``, ``ns/app``, ``host:5000/app``."""
        if self.domain == DOCKER_HUB:
            if self.path.startswith("library/") and self.path.count("/") == 1:
                return self.path[len("library/") :]
            return self.path
        return f"{self.domain}/{self.path}"

    @property
    def name(self) -> str:
        """The name the store records: ``busybox:latest`` (tag defaulted to latest)."""
        return f"{self.familiar_name}:{self.tag or DEFAULT_TAG}"

    @property
    def endpoint(self) -> str:
        """The host (and port) the registry API answers on."""
        return DOCKER_HUB_ENDPOINT if self.domain == DOCKER_HUB else self.domain

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = self.familiar_name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(ref: str) -> Reference:
    """Parse ``ref``; raise ImageError with what is wrong in it."""
    text = ref.strip()
    if not text or any(c.isspace() for c in text):
        raise ImageError(f"{ref!r} is not an image reference")
    name, _, digest = text.partition("@")
    if digest and not DIGEST.fullmatch(digest):
        raise ImageError(f"{ref!r}: {digest!r} is not a sha256 digest (sha256:<64 hex>)")
    tag: str | None = None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ImageError(f"{ref!r}: {tag!r} is not a valid tag")
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
        if not _DOMAIN.fullmatch(domain):
            raise ImageError(f"{ref!r}: {domain!r} is not a registry host")
    else:
        domain, path = DOCKER_HUB, name
    if domain == "index.docker.io":
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not all(_COMPONENT.fullmatch(c) for c in path.split("/")):
        raise ImageError(
            f"{ref!r} is not an image reference",
            hint="names are lowercase letters, digits and . _ - separated by /",
        )
    if tag is None and not digest:
        tag = DEFAULT_TAG
    return Reference(domain=domain, path=path, tag=tag, digest=digest or None)


def normalize_name(ref: str) -> str:
    """The stored form of a name: ``docker.io/library/busybox`` → ``busybox:latest``."""
    return parse_reference(ref).name


def name_from_file(filename: str) -> str:
    """A name for a rootfs tarball loaded without ``--tag``: ``alpine-3.20.tar.gz`` →
    ``alpine-3.20:latest``."""
    base = filename.rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2", ".tar", ".gz"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("._-")
    cleaned = re.sub(r"[._-]{2,}", "-", cleaned)
    if not cleaned:
        raise ImageError(f"cannot make an image name from {filename!r}", hint="give --tag NAME")
    return f"{cleaned}:{DEFAULT_TAG}"
