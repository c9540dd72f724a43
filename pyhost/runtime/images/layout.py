"""Names and limits every part of the image store shares; kept light (no tarfile, no
subprocess), so that `pyhost images` and the launcher import little."""

from __future__ import annotations

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
OVERLAY = "overlay"  # whiteouts as overlayfs reads them
TARFORM = "tar"  # whiteouts as the marker files of the tar format


class Limits:
    """Caps per layer: bytes of file content after decompression, and entries."""

    __slots__ = ("max_bytes", "max_entries")

    def __init__(self, max_bytes: int = 64 * 1024**3, max_entries: int = 1_000_000) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries

    @property
    def max_stream_bytes(self) -> int:
        """The decompressed tar stream may exceed the content by headers and padding only."""
        return self.max_bytes + 1536 * self.max_entries + (1 << 20)
