"""Pieces the benchmark scripts share (run them as `python bench/NAME.py`, which puts this
folder on sys.path)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
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


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Wall time in ms of one run, which must succeed."""
    start = time.perf_counter()
    res = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - start) * 1000
    if res.returncode != 0:
        sys.exit(
            f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.decode(errors='replace')}"
        )
    return elapsed


def installed_venv(work: Path) -> tuple[str, str]:
    """(python, pyhost script) of a fresh non-editable install of this checkout, with its
    bytecode written (as pip does where PYTHONDONTWRITEBYTECODE is not set). The package is
    copied first: setuptools builds in the source tree, where a stale build/ would bring
    modules that are gone."""
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PACKAGE.parent / name, source / name)
    shutil.copytree(PACKAGE, source / "pyhost", ignore=shutil.ignore_patterns("__pycache__"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps"]
    subprocess.run([*pip, str(source)], check=True)
    subprocess.run([python, "-m", "compileall", "-q", str(venv / "lib")], check=True)
    return python, str(venv / "bin" / "pyhost")
