"""A minimal Docker Engine API client over the unix socket.

Written by hand rather than with the docker SDK (the collector must run where only python3
exists, and importing the SDK costs about half a second) and rather than with http.client,
whose imports (email, ssl...) cost about 70 ms of every `pyhost inspect`: the Engine API
answers a one-shot HTTP/1.0 GET with a plain body and closes the connection, which is all
this client speaks. It uses the C module ``_socket`` (the ``socket`` module imports enum,
~10 ms) and ``jsonc`` (``json`` imports re).

A request can be sent and read later (``Engine.send``): the engine answers it while the
caller reads /proc, with no thread. The engine's /version and /info take ~10 ms each on a
small host, as long as all the rest of a container's inspection.
"""

from __future__ import annotations

import _socket
import os
import sys

from . import jsonc

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SOCKET = "/var/run/docker.sock"


class EngineUnavailable(Exception):
    """No engine answered; ``reason`` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


MAX_RESPONSE = 256 << 20  # bytes: no answer of the Engine API this reads is near it


class _BadResponse(Exception):
    pass


def _connect(socket_path: str, url: str, timeout: float) -> Any:
    """A unix socket to the engine with one GET sent on it (its answer is not read yet)."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(f"GET {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
    except BaseException:
        sock.close()
        raise
    return sock


def _receive(sock: Any) -> tuple[int, bytes]:
    """The answer to the GET sent on ``sock``: (status, body); the socket is closed."""
    try:
        chunks, size = [], 0
        while size <= MAX_RESPONSE:
            data = sock.recv(1 << 16)
            if not data:
                break
            chunks.append(data)
            size += len(data)
    finally:
        sock.close()
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise _BadResponse(lines[0][:80] if lines else "no answer")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return int(parts[1]), body


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "/") -> str:
    """Percent-encoding of a URL part, as ``urllib.parse.quote`` does (UTF-8)."""
    keep = _UNRESERVED | frozenset(safe.encode("ascii"))
    data = text.encode("utf-8")
    if all(byte in keep for byte in data):
        return text
    return "".join(chr(byte) if byte in keep else f"%{byte:02X}" for byte in data)


def urlencode(params: dict[str, str]) -> str:
    """``urllib.parse.urlencode`` of plain string pairs (quote_plus: a space is "+")."""
    return "&".join(
        f"{quote(k, ' ').replace(' ', '+')}={quote(v, ' ').replace(' ', '+')}"
        for k, v in params.items()
    )


def _unchunk(body: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = body.index(b"\r\n", pos)
        length = int(body[pos:end].split(b";")[0], 16)
        if length == 0:
            return bytes(out)
        out += body[end + 2 : end + 2 + length]
        pos = end + 2 + length + 2


def socket_path() -> str:
    """The engine's socket: DOCKER_HOST when it names a unix socket, else the default."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://") :]
    return DEFAULT_SOCKET


class Request:
    """A GET sent to the engine whose answer is read by ``result()`` (the engine works on it
    meanwhile). A failure to connect is kept and raised by ``result()``, as ``get`` would."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._sock: Any = None
        self._error: BaseException | None = None
        try:
            self._sock = _connect(engine.path, url, engine.timeout)
        except (OSError, ValueError) as e:
            self._error = e

    def result(self) -> Any:
        """The decoded JSON answer; EngineUnavailable or KeyError (404) as ``Engine.get``."""
        try:
            if self._error is not None:
                raise self._error
            sock, self._sock = self._sock, None
            if sock is None:
                raise ValueError(f"the answer to GET {self.url} was read already")
            status, body = _receive(sock)
        except (OSError, ValueError, _BadResponse) as e:
            raise self.engine.unavailable(e) from e
        return self.engine.decode(self.url, status, body)

    def peer_pid(self) -> int | None:
        """The pid of the process that listens on the engine's socket (SO_PEERCRED): the
        dockerd, or systemd where the socket is activated; None when not connected."""
        if self._sock is None:
            return None
        try:
            cred = self._sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        except OSError:
            return None
        return int.from_bytes(cred[:4], sys.byteorder) or None

    def close(self) -> None:
        """Drop the answer unread."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


class Engine:
    """GET requests to the Engine API; every failure becomes `EngineUnavailable`."""

    def __init__(self, path: str | None = None, *, timeout: float = 10.0) -> None:
        self.path = path or socket_path()
        self.timeout = timeout

    def unavailable(self, e: BaseException) -> EngineUnavailable:
        """What a failure to reach the engine means, in words a user can act on."""
        if isinstance(e, FileNotFoundError):
            return EngineUnavailable(f"no Docker engine here ({self.path} does not exist)")
        if isinstance(e, PermissionError):
            return EngineUnavailable(
                f"cannot open {self.path}: permission denied "
                "(run as root, or as a member of the docker group)"
            )
        if isinstance(e, ConnectionRefusedError):
            return EngineUnavailable(f"the Docker engine is not running ({self.path})")
        return EngineUnavailable(f"the Docker engine at {self.path} did not answer: {e}")

    def decode(self, url: str, status: int, body: bytes) -> Any:
        if status == 404:
            raise KeyError(url)
        if status >= 400:
            raise EngineUnavailable(
                f"the Docker engine answered {status} to GET {url}: "
                f"{body[:200].decode(errors='replace')}"
            )
        return jsonc.loads(body)

    def send(self, url: str, **params: str) -> Request:
        """Send a GET now; read its answer later with ``result()``."""
        if params:
            url += "?" + urlencode(params)
        return Request(self, url)

    def get(self, url: str, **params: str) -> Any:
        return self.send(url, **params).result()

    def version(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/version")
        return result

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/info")
        return result

    def containers(self, *, include_stopped: bool = False) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get(
            "/containers/json", all="1" if include_stopped else "0"
        )
        return result

    def container(self, ident: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(self.container_url(ident))
        return result

    @staticmethod
    def container_url(ident: str) -> str:
        return f"/containers/{quote(ident)}/json"
