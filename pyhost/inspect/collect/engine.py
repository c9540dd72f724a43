"""A minimal Docker Engine API client over the unix socket.

Written with http.client rather than the docker SDK: the collector must run where only
python3 exists, and importing the SDK alone costs about half a second.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from typing import Any

DEFAULT_SOCKET = "/var/run/docker.sock"


class EngineUnavailable(Exception):
    """No engine answered; ``reason`` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


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
        conn = _UnixHTTPConnection(self.path, self.timeout)
        try:
            conn.request("GET", url, headers={"Host": "docker"})
            response = conn.getresponse()
            body = response.read()
        except FileNotFoundError:
            raise EngineUnavailable(f"no Docker engine here ({self.path} does not exist)") from None
        except PermissionError:
            raise EngineUnavailable(
                f"cannot open {self.path}: permission denied "
                "(run as root, or as a member of the docker group)"
            ) from None
        except ConnectionRefusedError:
            raise EngineUnavailable(f"the Docker engine is not running ({self.path})") from None
        except (OSError, http.client.HTTPException) as e:
            raise EngineUnavailable(f"the Docker engine at {self.path} did not answer: {e}") from e
        finally:
            conn.close()
        if response.status == 404:
            raise KeyError(url)
        if response.status >= 400:
            raise EngineUnavailable(
                f"the Docker engine answered {response.status} to GET {url}: "
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
