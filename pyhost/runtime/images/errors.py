"""The image errors: one family under `PyhostError`, each a one-line message, exit status 2.

An image that cannot be read, verified or unpacked safely is bad *input*: nothing was
changed in the store (a refused layer leaves nothing behind), so the status is the usage one.
"""

from __future__ import annotations

from pyhost.errors import ExitStatus, PyhostError


class ImageError(PyhostError):
    """An image or a layer was refused, or the store cannot do what was asked."""

    exit_status = ExitStatus.USAGE


class ImageNotFound(ImageError):
    """No image in the store answers to a reference; the message names the nearest ones."""


class ImageInUse(ImageError):
    """An image a container still uses cannot be deleted."""


class RegistryError(ImageError):
    """A registry refused, failed or answered something that does not verify."""


def short_digest(digest: str) -> str:
    """``sha256:ab12cd34ef56…``: enough to recognise a layer in a one-line error."""
    algo, _, hexpart = digest.partition(":")
    if not hexpart:
        return digest
    return f"{algo}:{hexpart[:12]}…" if len(hexpart) > 12 else digest
