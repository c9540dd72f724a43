"""`pyhost inspect`'s option table (read by pyhost.cli.fastargs without argparse) declares
what its argparse parser declares, and reads command lines as argparse reads them."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

import pytest
from labkit.fastpath import HEAVY, argparse_values, inspect_fast

from pyhost.cli import cmd_inspect, fastargs
from pyhost.cli.common import positive_int
from pyhost.cli.main import _parse_fast, build_parser

pytestmark = pytest.mark.unit

KINDS = {
    argparse._StoreTrueAction: fastargs.FLAG,
    argparse._StoreAction: fastargs.VALUE,
    argparse._AppendAction: fastargs.APPEND,
}


def _subparser() -> argparse.ArgumentParser:
    parser = build_parser(["inspect"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = sub.choices["inspect"]
    return found


def test_the_table_declares_what_argparse_declares() -> None:
    table = {option.flags: option for option in cmd_inspect.OPTIONS}
    seen = set()
    for action in _subparser()._actions:
        if not action.option_strings:
            positional = cmd_inspect.POSITIONALS[0]
            assert (action.dest, action.nargs) == (positional.dest, "?")
            continue
        if action.dest in ("help", "debug"):
            continue  # argparse's own, and pyhost's global flag (fastargs reads it)
        flags = tuple(action.option_strings)
        assert flags in table, f"{flags} is not in cmd_inspect.OPTIONS"
        option = table[flags]
        seen.add(flags)
        assert (option.dest, option.default) == (action.dest, action.default), flags
        assert option.kind == KINDS[type(action)], flags
        if action.type is positive_int:
            assert option.type is cmd_inspect._forks
        else:
            assert option.type is action.type, flags
    assert seen == set(table)
    assert len(cmd_inspect.POSITIONALS) == 1


@pytest.mark.parametrize("text", ["1", "10", "0", "-3", "x", "2.5", ""])
def test_forks_accepts_what_positive_int_accepts(text: str) -> None:
    try:
        expected: Any = positive_int(text)
    except argparse.ArgumentTypeError:
        expected = ValueError
    try:
        got: Any = cmd_inspect._forks(text)
    except ValueError:
        got = ValueError
    assert got == expected


FAST = [
    "inspect web-1 --json",
    "inspect --json web-1",
    "inspect 3f2a",
    "inspect --pid 4242 --json",
    "inspect --pid=4242",
    "inspect --debug web-1 --json",
    "inspect web --root /mnt/evidence",
    "inspect --root /mnt/evidence",
    "inspect web-1 -H admin@host-1",
    "inspect web-1 -H lab@[::1]:2222 --ssh-key /k -K --json",
    "inspect web-1 -i inventory.yml --limit web -f 3",
    "inspect web-1 -i inv.yml -l web --forks=20 --known-hosts /kh --accept-new-host-keys",
    "inspect -Hhost web",
    "inspect",
]
SLOW = [
    "inspect --help",
    "inspect -h",
    "inspect --pid many",
    "inspect --forks 0 -i inv x",
    "inspect --jso web",
    "inspect a b",
    "inspect -- web",
    "inspect --pid",
]


@pytest.mark.parametrize("line", FAST)
def test_the_table_reads_what_argparse_reads(line: str) -> None:
    words = shlex.split(line)
    fast = _parse_fast(words)
    assert fast is not None, f"{line!r} fell back to argparse"
    values = dict(vars(fast))
    assert values.pop("execute") is not None
    assert values == argparse_values(words)


@pytest.mark.parametrize("line", SLOW)
def test_the_rest_is_left_to_argparse(line: str) -> None:
    assert _parse_fast(shlex.split(line)) is None


def test_inspect_json_of_a_process_imports_nothing_heavy(tmp_path: Path) -> None:
    data, modules = inspect_fast(
        "--pid",
        str(os.getpid()),
        DOCKER_HOST=f"unix://{tmp_path}/none.sock",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    assert data["schema"] == "pyhost.inspect/1" and data["target"]["pid"] == os.getpid()
    assert data["processes"]["available"] and data["namespaces"]["available"]
    assert sorted(HEAVY & modules) == []


def test_the_cache_lives_in_a_home_of_ones_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cmd_inspect.cache_dir() == str(tmp_path / ".cache" / "pyhost")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cmd_inspect.cache_dir() == str(tmp_path / "xdg" / "pyhost")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the spec says
    assert cmd_inspect.cache_dir() == str(tmp_path / ".cache" / "pyhost")
    monkeypatch.setenv("HOME", "/nonexistent-home")
    assert cmd_inspect.cache_dir() is None
    monkeypatch.setenv("HOME", "/")  # root's /, but whose / is it: only root's own
    assert (cmd_inspect.cache_dir() is not None) == (os.geteuid() == 0)
