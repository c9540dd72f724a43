"""`pyhost inspect` run the way its fast command line runs it, in a bare interpreter (-S: the
development venv's editable-install finder imports re itself), with what it imported."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# What `pyhost inspect --json` must not import: each of these costs milliseconds of every
# start on a small machine (argparse ~20, json and re ~15, enum ~10, socket, typing...).
HEAVY = frozenset(
    {
        "argparse",
        "json",
        "re",
        "enum",
        "rich",
        "typing",
        "socket",
        "subprocess",
        "threading",
        "dataclasses",
        "pathlib",
        "ipaddress",
        "hashlib",
        "difflib",
        "contextlib",
        "collections",
        "functools",
        "shutil",
        "urllib",
        "datetime",
        "array",
        "ctypes",
        "warnings",
    }
)
# `pyhost inspect ARGV` through pyhost's own entry point (its fast command-line reader, as the
# console script runs it); then the modules imported, on stderr.
PROGRAM = (
    "import sys; from pyhost.cli.main import main; "
    "code = main(['inspect', *sys.argv[1:]]); sys.stdout.flush(); "
    "print(sorted(set(sys.modules)), file=sys.stderr); sys.exit(code)"
)
ROOT = Path(__file__).resolve().parents[2]


def inspect_fast(*argv: str, **env: str) -> tuple[dict[str, Any], set[str]]:
    """`pyhost inspect ARGV --json` through the fast path: its document and its imports."""
    base = {"PYTHONPATH": str(ROOT), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    res = subprocess.run(
        [sys.executable, "-S", "-c", PROGRAM, *argv, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
        check=False,
    )
    assert res.returncode == 0, res.stderr
    modules = set(ast.literal_eval(res.stderr.strip().splitlines()[-1]))
    document: dict[str, Any] = json.loads(res.stdout)
    return document, modules


def argparse_values(words: list[str]) -> dict[str, object]:
    """What argparse makes of a command line: the Namespace as a dict, without the handler."""
    from pyhost.cli.main import build_parser

    values = dict(vars(build_parser(words).parse_args(words)))
    values.pop("execute")
    return values
