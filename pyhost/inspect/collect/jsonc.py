"""JSON through CPython's own C accelerator, without importing the json package.

`import json` compiles its regular expressions at import time and so pulls in re and enum:
~15-19 ms on a small machine, more than a whole container set-up of `pyhost run` and most
of the budget `pyhost inspect` has. The scanner and encoder that json itself calls live in
the C module `_json`; this module calls them directly, with json's defaults, so the results
are the same as `json.loads` / `json.dumps`. Anything unusual goes to the json package:
input the fast path does not accept (json then raises its own JSONDecodeError, with its
message), and every Python without `_json`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

_WHITESPACE = " \t\n\r"  # JSON's four whitespace characters (RFC 8259 section 2)

try:
    import _json
except ImportError:  # pragma: no cover - every CPython has it
    _json = None  # type: ignore[assignment]


class _DecoderSettings:
    """The attributes `_json.make_scanner` reads from a json.JSONDecoder, at their defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def _refuse(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _encoder() -> Any:
    """json.dumps's encoder: a fresh one per call, as json makes (circular-reference marks)."""
    return _json.make_encoder(
        {}, _refuse, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )


def _make() -> tuple[Any, Any]:
    if _json is None:  # pragma: no cover
        return None, None
    try:
        _encoder()
        # the scanner reads only these attributes of its argument (a JSONDecoder, in json)
        return _json.make_scanner(_DecoderSettings), _encoder  # type: ignore[arg-type]
    except (AttributeError, TypeError):  # pragma: no cover - a CPython with another _json API
        return None, None


_scan, _encode = _make()


def loads(text: str | bytes) -> Any:
    """`json.loads(text)`; bytes must be UTF-8 (as everything pyhost reads is)."""
    if _scan is not None:
        fast = text
        if isinstance(fast, (bytes, bytearray)):
            try:
                fast = fast.decode("utf-8")
            except UnicodeDecodeError:
                pass
        if isinstance(fast, str):
            start = len(fast) - len(fast.lstrip(_WHITESPACE))
            try:
                value, end = _scan(fast, start)
            except (StopIteration, ValueError):
                pass  # json below raises its own error, with its message
            else:
                if not fast[end:].strip(_WHITESPACE):
                    return value
    import json

    return json.loads(text)


def load(f: IO[str] | IO[bytes]) -> Any:
    return loads(f.read())


def dumps(obj: Any) -> str:
    """`json.dumps(obj)` with its defaults (ASCII output, ", " and ": " separators)."""
    if _encode is None:  # pragma: no cover
        import json

        return json.dumps(obj)
    if isinstance(obj, str):
        return str(_json.encode_basestring_ascii(obj))
    return "".join(_encode()(obj, 0))


def dump(obj: Any, f: IO[str]) -> None:
    f.write(dumps(obj))
