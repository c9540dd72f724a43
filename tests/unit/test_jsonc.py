"""pyhost's JSON fast path gives json's results and json's errors, without importing re."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pyhost.inspect.collect import jsonc

DOCS = [
    {"a": [1, 2.5, None, True, False, 'é☃\n"\\\t\x00'], "b": {"c": {}}},
    [],
    {},
    "",
    "plain",
    0,
    -17,
    10**30,
    1.0,
    1e300,
    -0.0,
    0.1,
    {"1": 2},
    [[[[[]]]]],
    {"nested": [{"x": "y"}] * 3, "emoji": "\U0001f600"},
]


@pytest.mark.parametrize("doc", DOCS, ids=range(len(DOCS)))
def test_same_text_and_values_as_json(doc: object) -> None:
    text = json.dumps(doc)
    assert jsonc.dumps(doc) == text
    assert repr(jsonc.loads(text)) == repr(json.loads(text))
    assert repr(jsonc.loads(f" \n\t{text}\r\n ")) == repr(json.loads(text))
    assert repr(jsonc.loads(text.encode())) == repr(json.loads(text))


@pytest.mark.parametrize("doc", DOCS, ids=range(len(DOCS)))
@pytest.mark.parametrize(("indent", "sort_keys"), [(2, True), (2, False), (0, True), (None, True)])
def test_indented_and_sorted_text_as_json(doc: object, indent: int | None, sort_keys: bool) -> None:
    expected = json.dumps(doc, indent=indent, sort_keys=sort_keys)
    assert jsonc.dumps(doc, indent=indent, sort_keys=sort_keys) == expected


def test_indented_document_of_every_shape_as_json() -> None:
    doc = {
        "z": [1, [2, [3, {}]], (4, 5), []],
        "a": {"b": {"c": None, "e": float("nan"), "d": [True, False, -0.0, 1e-7]}},
        3: "int key",
        "inf": [float("inf"), float("-inf")],
        "text": "tab\there \u2603 \x7f \U0001f600",
    }
    mixed_keys = {1: "x", 2.5: "y", None: "z", False: "f"}
    for indent in (2, 4):
        assert jsonc.dumps(doc | {"n": mixed_keys}, indent=indent) == json.dumps(
            doc | {"n": mixed_keys}, indent=indent
        )
    sortable = {"b": 1, "a": {"d": [], "c": {}}, "c": [{"y": 1, "x": 2}]}
    assert jsonc.dumps(sortable, indent=2, sort_keys=True) == json.dumps(
        sortable, indent=2, sort_keys=True
    )


def test_indented_errors_as_json() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        jsonc.dumps(loop, indent=2)
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsonc.dumps({"x": {1, 2}}, indent=2)
    with pytest.raises(TypeError, match="keys must be str"):
        jsonc.dumps({(1, 2): 3}, indent=2)
    shared = [1]
    assert jsonc.dumps([shared, shared], indent=2) == json.dumps([shared, shared], indent=2)


def test_non_string_keys_and_constants_as_json() -> None:
    doc = {1: "one", 2.5: None, False: [float("inf"), float("-inf")]}
    assert jsonc.dumps(doc) == json.dumps(doc)
    assert repr(jsonc.loads("[NaN, Infinity, -Infinity]")) == "[nan, inf, -inf]"


@pytest.mark.parametrize(
    "bad", ["", "{", "[1,]", "{} x", "nul", '"\\x"', '{"a" 1}', "[1] [2]", b"\xff\xfe", "\ufeff{}"]
)
def test_bad_input_raises_what_json_raises(bad: str | bytes) -> None:
    with pytest.raises(ValueError) as ours:
        jsonc.loads(bad)
    with pytest.raises(ValueError) as theirs:
        json.loads(bad)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_unserialisable_values_raise_as_json() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsonc.dumps({"x": object()})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        jsonc.dumps(loop)


def test_round_trip_imports_neither_json_nor_re() -> None:
    # -S: the development venv's editable-install finder imports re itself at start-up
    code = (
        "import sys; from pyhost.inspect.collect import jsonc; "
        "assert jsonc.loads(jsonc.dumps({'a': [1, 'b']})) == {'a': [1, 'b']}; "
        "print(sorted({'json', 're', 'enum'} & set(sys.modules)))"
    )
    env = {"PYTHONPATH": str(Path(jsonc.__file__).parents[3]), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
