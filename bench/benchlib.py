"""Pieces the benchmark scripts share (run them as `python bench/NAME.py`, which puts this
folder on sys.path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pyhost"


def compile_bytecode() -> None:
    """Measure pyhost as installed: pip writes bytecode at install time, but an editable
    checkout under PYTHONDONTWRITEBYTECODE=1 would recompile every module on every run."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(PACKAGE)], check=True)


def provision_cmd(inv: Path, known_hosts: Path, *extra: str) -> list[str]:
    """`pyhost provision INV` against lab hosts, with the lab's known_hosts."""
    return [
        sys.executable,
        "-m",
        "pyhost",
        "provision",
        str(inv),
        "--known-hosts",
        str(known_hosts),
        *extra,
    ]
