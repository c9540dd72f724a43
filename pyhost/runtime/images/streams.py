"""Byte streams for layers: digests computed while reading, decompression by magic bytes.

A layer is read once, as a stream: the blob digest (what the manifest names) is taken over
the bytes as delivered, the diff_id (what the config names) over the decompressed tar, both
while the extractor consumes it. Nothing is trusted until both match.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import subprocess
import threading
from typing import IO, Protocol, cast

from pyhost.runtime.images.errors import ImageError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
CHUNK = 1 << 20


class Readable(Protocol):
    """What a layer stream must offer: ``read(n)`` and ``close()``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def as_file(stream: Readable) -> IO[bytes]:
    """For APIs typed with IO[bytes] (tarfile, gzip) that only ever call read()."""
    return cast(IO[bytes], stream)


class StreamTooLarge(Exception):
    """Raised by a capped stream; the caller turns it into a one-line ImageError."""


class Digesting(io.RawIOBase):
    """Read through ``raw`` while hashing (sha256) and counting; refuse past ``limit``."""

    def __init__(self, raw: Readable, *, limit: int | None = None) -> None:
        super().__init__()
        self.raw = raw
        self.hash = hashlib.sha256()
        self.count = 0
        self.limit = limit
        self.tail = b""  # the last 512 bytes read: a complete tar ends in a zero block

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.hash.update(data)
        self.tail = (self.tail + data)[-512:] if n < 512 else data[-512:]
        self.count += n
        if self.limit is not None and self.count > self.limit:
            raise StreamTooLarge(self.count)
        return n

    @property
    def digest(self) -> str:
        return f"sha256:{self.hash.hexdigest()}"

    def drain(self) -> None:
        """Read to the end, so that the digest covers every byte (tar padding included)."""
        while self.read(CHUNK):
            pass


class _Prefixed(io.RawIOBase):
    """``head`` (bytes already read to sniff the format) followed by the rest of ``raw``."""

    def __init__(self, head: bytes, raw: Readable) -> None:
        super().__init__()
        self.head = head
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_head(raw: Readable, size: int = 6) -> bytes:
    """Up to ``size`` bytes (a short read is retried until EOF)."""
    head = b""
    while len(head) < size:
        data = raw.read(size - len(head))
        if not data:
            break
        head += data
    return head


def compression_of(head: bytes) -> str | None:
    """``gzip``, ``zstd``, ``bzip2``, ``xz`` or None (plain) from the first bytes: media
    types lie often enough (docker save writes plain tars under gzip names) that only the
    content decides."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(BZIP2_MAGIC):
        return "bzip2"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return None


class _ZstdCommand(io.RawIOBase):
    """zstd through the ``zstd`` command: Python before 3.14 has no zstd in its standard
    library, and pyhost takes no compiled dependency for it."""

    def __init__(self, raw: Readable, command: str) -> None:
        super().__init__()
        self.proc = subprocess.Popen(
            [command, "-d", "-c", "-q"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.error: BaseException | None = None
        self.feeder = threading.Thread(target=self._feed, args=(raw,), daemon=True)
        self.feeder.start()

    def _feed(self, raw: Readable) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while chunk := raw.read(CHUNK):
                stdin.write(chunk)
        except BrokenPipeError:
            pass
        except BaseException as e:  # handed to the reading thread
            self.error = e
            self.proc.kill()
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        stdout = self.proc.stdout
        assert stdout is not None
        data = stdout.read(len(buffer))
        if data:
            buffer[: len(data)] = data
            return len(data)
        self.feeder.join(timeout=60)
        if self.error is not None:
            raise self.error
        if self.proc.wait(timeout=60) != 0:
            assert self.proc.stderr is not None
            why = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
            raise ImageError(f"zstd could not decompress the layer: {why[-1] if why else '?'}")
        return 0

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        self.feeder.join(timeout=30)
        super().close()


def decompressed(raw: Readable) -> Readable:
    """The tar stream inside ``raw``, whatever compression its magic bytes say."""
    head = read_head(raw)
    stream = io.BufferedReader(_Prefixed(head, raw), CHUNK)
    kind = compression_of(head)
    if kind is None:
        return stream
    if kind == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=stream, mode="rb")
    if kind == "bzip2":
        import bz2

        return bz2.BZ2File(stream)
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(stream)
    try:  # Python 3.14 and newer
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]

        return zstd.ZstdFile(stream)  # type: ignore[no-any-return,unused-ignore]
    except ImportError:
        pass
    command = shutil.which("zstd")
    if command is None:
        raise ImageError(
            "zstd layers need Python 3.14 or newer, or the zstd command",
            hint="apt-get install zstd",
        )
    return io.BufferedReader(_ZstdCommand(stream, command), CHUNK)
