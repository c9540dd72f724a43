"""The Engine API client against a real unix socket served by this test: requests sent at
once and read later, HTTP/1.0 answers plain and chunked, and every failure in words."""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyhost.inspect.collect import engine as engine_module
from pyhost.inspect.collect.engine import Engine, EngineUnavailable

pytestmark = pytest.mark.unit


def _answer(body: bytes, status: str = "200 OK", chunked: bool = False) -> bytes:
    if chunked:
        half = len(body) // 2
        parts = [body[:half], body[half:]]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
        head = "Transfer-Encoding: chunked\r\n"
    else:
        head = f"Content-Length: {len(body)}\r\n"
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{head}\r\n".encode() + body


ROUTES = {
    "/version": _answer(b'{"Version": "99.0", "ApiVersion": "1.99"}'),
    "/containers/json?all=1": _answer(b'[{"Id": "abc"}]', chunked=True),
    "/containers/web%20one/json": _answer(b'{"Id": "abc", "Name": "/web one"}'),
    "/broken": _answer(b"oops", status="500 Internal Server Error"),
}


class Server:
    """A unix-socket server that answers each GET from ROUTES (404 otherwise), and keeps
    the paths it was asked for in order of arrival."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.asked: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        break
                    request += data
                path = request.split(b" ")[1].decode() if request else ""
                self.asked.append(path)
                try:
                    conn.sendall(ROUTES.get(path, _answer(b'{"message": "no"}', "404 Not Found")))
                except OSError:
                    pass  # the client dropped its request unread

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Engine, Server]]:
    path = tmp_path / "docker.sock"
    server = Server(path)
    try:
        yield Engine(str(path), timeout=5), server
    finally:
        server.close()


def test_requests_sent_at_once_are_read_later(served: tuple[Engine, Server]) -> None:
    engine, server = served
    version = engine.send("/version")
    listing = engine.send("/containers/json", all="1")
    assert listing.result() == [{"Id": "abc"}]  # chunked
    assert version.result() == {"Version": "99.0", "ApiVersion": "1.99"}
    assert engine.container("web one") == {"Id": "abc", "Name": "/web one"}
    assert sorted(server.asked) == [
        "/containers/json?all=1",
        "/containers/web%20one/json",
        "/version",
    ]


def test_the_socket_peer_is_the_process_that_listens(served: tuple[Engine, Server]) -> None:
    engine, _ = served
    request = engine.send("/version")
    assert request.peer_pid() == os.getpid()
    request.close()  # dropped unread
    assert request.peer_pid() is None
    with pytest.raises(EngineUnavailable, match="read already"):
        request.result()


def test_failures_in_words(served: tuple[Engine, Server], tmp_path: Path) -> None:
    engine, _ = served
    with pytest.raises(KeyError):
        engine.container("nope")
    with pytest.raises(EngineUnavailable, match="answered 500 to GET /broken: oops"):
        engine.get("/broken")
    missing = Engine(str(tmp_path / "none.sock"))
    request = missing.send("/version")  # the failure to connect waits for result()
    with pytest.raises(EngineUnavailable, match="no Docker engine here"):
        request.result()
    stale = tmp_path / "stale.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(stale))
    listener.close()  # the file stays, nobody listens
    with pytest.raises(EngineUnavailable, match="not running"):
        Engine(str(stale)).version()


@pytest.mark.parametrize("text", ["web-1", "a b/c", "é☃", "x?y#z&=+%", "~_.-", ""])
def test_quote_and_urlencode_are_urllibs(text: str) -> None:
    assert engine_module.quote(text) == urllib.parse.quote(text)
    assert engine_module.quote(text, "") == urllib.parse.quote(text, "")
    params = {"all": "1", "a b": text}
    assert engine_module.urlencode(params) == urllib.parse.urlencode(params)


def test_known_containers_ask_the_engine_once_and_only_when_needed(
    served: tuple[Engine, Server],
) -> None:
    from pyhost.inspect.collect.inspection import Known

    engine, server = served
    known = Known({"own": "web"}, engine)
    assert "own" in known and known["own"] == "web"
    assert server.asked == []  # what it was given answers without the engine
    assert "abc" in known and known["abc"] == "abc"  # no Names: the short id, as name_of
    assert "zzz" not in known
    with pytest.raises(KeyError):
        known["zzz"]
    assert server.asked == ["/containers/json?all=1"]
