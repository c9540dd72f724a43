"""The collector as a program: one JSON request in, one framed JSON answer out.

This is what runs on a remote host (inside the zipapp pyhost sends there), and locally with
``python3 -m pyhost.inspect.collect REQUEST``. A request names a command:

    {"protocol": "pyhost.collect/1", "command": "ps", "include_stopped": false}
    {"protocol": "pyhost.collect/1", "command": "inspect", "target": "web-1", "pid": null}
    {"protocol": "pyhost.collect/1", "command": "audit"}

The answer is ``MARKER`` (its own line, so that nothing else a shell or sudo may print is
taken for it) followed by one line of JSON, an envelope:

    {"protocol": "pyhost.collect/1", "ok": true, "result": {...}}
    {"protocol": "pyhost.collect/1", "ok": false,
     "error": {"kind": "target" | "engine" | "request", "message": "...", "hint": "..."}}

``result`` is the ``pyhost.ps/1``, ``pyhost.inspect/1`` or ``pyhost.audit-facts/1``
document. Expected failures (no such container, no engine, a bad request) are envelopes;
anything else is a crash: a traceback on stderr and exit status 1, which the caller
reports with its last line.
Standard library only, and compatible with the oldest python3 the zipapp accepts.
"""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = "pyhost.collect/1"
MARKER = "\x1e" + PROTOCOL + "\n"  # ASCII record separator: never in the JSON, rare elsewhere
COMMANDS = ("ps", "inspect", "audit")


class RequestError(ValueError):
    """The request cannot be served as written (a caller's bug, not the host's)."""


def make_request(command: str, **fields: Any) -> dict[str, Any]:
    """A request for ``command`` (checked as the collector will check it)."""
    request: dict[str, Any] = {"protocol": PROTOCOL, "command": command, **fields}
    check_request(request)
    return request


def check_request(request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise RequestError("a request is a JSON object")
    if request.get("protocol") != PROTOCOL:
        raise RequestError(f"unknown protocol {request.get('protocol')!r}, not {PROTOCOL!r}")
    command = request.get("command")
    if command not in COMMANDS:
        raise RequestError(f"unknown command {command!r} (one of: {', '.join(COMMANDS)})")
    if command == "ps":
        if not isinstance(request.get("include_stopped", False), bool):
            raise RequestError("include_stopped must be true or false")
    elif command == "inspect":
        target, pid = request.get("target"), request.get("pid")
        if (target is None) == (pid is None):
            raise RequestError("inspect needs exactly one of target and pid")
        if target is not None and not isinstance(target, str):
            raise RequestError("target must be a string")
        if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool)):
            raise RequestError("pid must be a whole number")
    return request


def _error(kind: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {
        "protocol": PROTOCOL,
        "ok": False,
        "error": {"kind": kind, "message": message, "hint": hint},
    }


def serve(request: Any) -> dict[str, Any]:
    """The envelope answering ``request``; unexpected exceptions propagate (a crash)."""
    from .engine import EngineUnavailable

    try:
        check_request(request)
    except RequestError as e:
        return _error("request", str(e))
    try:
        if request["command"] == "ps":
            from .containers import collect

            result = collect(include_stopped=request.get("include_stopped", False))
        elif request["command"] == "audit":
            from . import hostfacts

            result = hostfacts.collect()
        else:
            from .inspection import TargetError, inspect_container, inspect_pid

            try:
                if request.get("pid") is not None:
                    result = inspect_pid(request["pid"])
                else:
                    result = inspect_container(request["target"])
            except TargetError as e:
                return _error("target", e.message, e.hint)
    except EngineUnavailable as e:
        return _error("engine", e.reason)
    return {"protocol": PROTOCOL, "ok": True, "result": result}


def encode_response(envelope: dict[str, Any]) -> str:
    # ensure_ascii: the answer reads the same whatever the remote locale is
    return MARKER + json.dumps(envelope, separators=(",", ":"), ensure_ascii=True) + "\n"


def decode_response(stdout: str) -> dict[str, Any] | None:
    """The envelope in a collector's stdout; None when there is none (it never answered).

    Raises ValueError when the answer is there but cut short or not an envelope.
    """
    start = stdout.rfind(MARKER)
    if start < 0:
        return None
    body = stdout[start + len(MARKER) :].strip()
    envelope = json.loads(body)  # json.JSONDecodeError is a ValueError
    if not isinstance(envelope, dict) or envelope.get("protocol") != PROTOCOL:
        raise ValueError(f"not a {PROTOCOL} answer")
    if envelope.get("ok") is True and isinstance(envelope.get("result"), dict):
        return envelope
    if envelope.get("ok") is False and isinstance(envelope.get("error"), dict):
        return envelope
    raise ValueError(f"a {PROTOCOL} answer without a result or an error")


def main(argv: list[str] | None = None) -> int:
    """Read the request from the first argument (or stdin), print the framed answer."""
    argv = sys.argv[1:] if argv is None else argv
    text = argv[0] if argv else sys.stdin.read()
    try:
        request = json.loads(text)
    except ValueError as e:
        envelope = _error("request", f"the request is not JSON: {e}")
    else:
        envelope = serve(request)
    sys.stdout.write(encode_response(envelope))
    sys.stdout.flush()
    return 0
