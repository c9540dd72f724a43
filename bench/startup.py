"""Start-up time of the pyhost command line, against a bare interpreter.

Prints the median and spread of N runs of each command, run with the interpreter that runs
this script (use the venv's: `.venv/bin/python bench/startup.py`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from benchlib import compile_bytecode

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "pyhost --version": [sys.executable, "-m", "pyhost", "--version"],
    "pyhost --help": [sys.executable, "-m", "pyhost", "--help"],
    "pyhost run --help": [sys.executable, "-m", "pyhost", "run", "--help"],
    "import fabric+rich+yaml+jinja2": [
        sys.executable,
        "-c",
        "import fabric, rich.console, yaml, jinja2",
    ],
}


def measure(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    compile_bytecode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"{'command':34} {'median ms':>10} {'min ms':>8} {'max ms':>8}  (n={args.runs})")
    for name, argv in CASES.items():
        t = measure(argv, args.runs)
        print(f"{name:34} {statistics.median(t):10.1f} {min(t):8.1f} {max(t):8.1f}")


if __name__ == "__main__":
    main()
