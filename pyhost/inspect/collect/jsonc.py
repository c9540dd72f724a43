"""JSON through CPython's own C accelerator, without importing the json package.

`import json` compiles its regular expressions at import time and so pulls in re and enum:
~15-19 ms on a small machine, more than a whole container set-up of `pyhost run` and most
of the budget `pyhost inspect` has. The scanner and encoder that json itself calls live in
the C module `_json`; this module calls them directly, with json's defaults, so the results
are the same as `json.loads` / `json.dumps`. Anything unusual goes to the json package:
input the fast path does not accept (json then raises its own JSONDecodeError, with its
message), and every Python without `_json`. Indented output (``indent=N``, which json
writes in pure Python anyway) is written here the same way, character for character.
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


def _encoder(sort_keys: bool = False) -> Any:
    """json.dumps's encoder: a fresh one per call, as json makes (circular-reference marks)."""
    return _json.make_encoder(
        {}, _refuse, _json.encode_basestring_ascii, None, ": ", ", ", sort_keys, False, True
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


def dumps(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """`json.dumps(obj, indent=indent, sort_keys=sort_keys)`, with json's other defaults
    (ASCII output; ", " and ": " separators, "," at line ends when indented)."""
    if _encode is None:  # pragma: no cover
        import json

        return json.dumps(obj, indent=indent, sort_keys=sort_keys)
    if indent is not None:
        chunks: list[str] = []
        _Indented(" " * indent, sort_keys, chunks).value(obj, 0)
        return "".join(chunks)
    if isinstance(obj, str):
        return str(_json.encode_basestring_ascii(obj))
    encoder = _encode(sort_keys)
    return "".join(encoder(obj, 0))


def _float(value: float) -> str:
    """json's spelling of a float: repr, and NaN/Infinity/-Infinity (allow_nan)."""
    if value != value:
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return float.__repr__(value)


_INF = float("inf")


class _Indented:
    """json's pure-Python encoder (``_make_iterencode``) for ``indent``: the same text."""

    def __init__(self, unit: str, sort_keys: bool, out: list[str]) -> None:
        self.unit = unit
        self.sort_keys = sort_keys
        self.out = out
        self.markers: set[int] = set()

    def value(self, o: Any, level: int) -> None:
        out = self.out
        if isinstance(o, str):
            out.append(_json.encode_basestring_ascii(o))
        elif o is None:
            out.append("null")
        elif o is True:
            out.append("true")
        elif o is False:
            out.append("false")
        elif isinstance(o, int):
            out.append(int.__repr__(o))
        elif isinstance(o, float):
            out.append(_float(o))
        elif isinstance(o, (list, tuple)):
            self.array(o, level)
        elif isinstance(o, dict):
            self.mapping(o, level)
        else:
            _refuse(o)

    def _enter(self, o: object) -> None:
        if id(o) in self.markers:
            raise ValueError("Circular reference detected")
        self.markers.add(id(o))

    def array(self, items: list[Any] | tuple[Any, ...], level: int) -> None:
        if not items:
            self.out.append("[]")
            return
        self._enter(items)
        inner = "\n" + self.unit * (level + 1)
        first = True
        for item in items:
            self.out.append("[" + inner if first else "," + inner)
            first = False
            self.value(item, level + 1)
        self.out.append("\n" + self.unit * level + "]")
        self.markers.discard(id(items))

    def mapping(self, dct: dict[Any, Any], level: int) -> None:
        if not dct:
            self.out.append("{}")
            return
        self._enter(dct)
        inner = "\n" + self.unit * (level + 1)
        items = sorted(dct.items()) if self.sort_keys else dct.items()
        first = True
        for key, item in items:
            if isinstance(key, str):
                pass
            elif isinstance(key, float):
                key = _float(key)
            elif key is True:
                key = "true"
            elif key is False:
                key = "false"
            elif key is None:
                key = "null"
            elif isinstance(key, int):
                key = int.__repr__(key)
            else:
                raise TypeError(
                    f"keys must be str, int, float, bool or None, not {type(key).__name__}"
                )
            self.out.append("{" + inner if first else "," + inner)
            first = False
            self.out.append(_json.encode_basestring_ascii(key))
            self.out.append(": ")
            self.value(item, level + 1)
        self.out.append("\n" + self.unit * level + "}")
        self.markers.discard(id(dct))


def dump(obj: Any, f: IO[str]) -> None:
    f.write(dumps(obj))
