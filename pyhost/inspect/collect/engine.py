"""A minimal Docker Engine API client over the unix socket.

Written by hand rather than with the docker SDK (the collector must run where only python3
exists, and importing the SDK costs about half a second) and rather than with http.client,
whose imports (email, ssl...) cost about 70 ms of every `pyhost inspect`: the Engine API
answers a one-shot HTTP/1.0 GET with a plain body and closes the connection, which is all
this client speaks.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse

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


def _get(socket_path: str, url: str, timeout: float) -> tuple[int, bytes]:
    """One GET over the unix socket: (status, body)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        sock.sendall(f"GET {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
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


class Engine:
    """GET requests to the Engine API; every failure becomes `EngineUnavailable`."""

    def __init__(self, path: str | None = None, *, timeout: float = 10.0) -> None:
        self.path = path or socket_path()
        self.timeout = timeout

    def get(self, url: str, **params: str) -> Any:
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            status, body = _get(self.path, url, self.timeout)
        except FileNotFoundError:
            raise EngineUnavailable(f"no Docker engine here ({self.path} does not exist)") from None
        except PermissionError:
            raise EngineUnavailable(
                f"cannot open {self.path}: permission denied "
                "(run as root, or as a member of the docker group)"
            ) from None
        except ConnectionRefusedError:
            raise EngineUnavailable(f"the Docker engine is not running ({self.path})") from None
        except (OSError, ValueError, _BadResponse) as e:
            raise EngineUnavailable(f"the Docker engine at {self.path} did not answer: {e}") from e
        if status == 404:
            raise KeyError(url)
        if status >= 400:
            raise EngineUnavailable(
                f"the Docker engine answered {status} to GET {url}: "
                f"{body[:200].decode(errors='replace')}"
            )
        return json.loads(body)

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
        result: dict[str, Any] = self.get(f"/containers/{urllib.parse.quote(ident)}/json")
        return result
