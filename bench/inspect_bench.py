"""Time `pyhost inspect <container> --json` and `pyhost ps --json` with 1, 10 and 30 running
containers on this machine's Docker engine.

Prints the median (and min/max) of N runs of each command at each count. The containers
run `sleep` from a local image (the lab's by default), carry the lab's labels so that a
killed run is cleaned up by the next test run, and are removed at the end in any case.
Run as root with the venv's interpreter: `.venv/bin/python bench/inspect_bench.py`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import compile_bytecode

COUNTS = (1, 10, 30)
MAX_CONTAINERS = 100
HERE = Path(__file__).resolve().parent

sys.path.insert(0, str(HERE.parent / "tests"))  # labkit, for the lab's labels


def lab_image(client: Any) -> str:
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith("pyhost-lab/"):
                return str(tag)
    sys.exit("no pyhost-lab image here: run the lab tests once, or pass --image")


def measure(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        res = subprocess.run(argv, capture_output=True, timeout=60, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if res.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed: {res.stderr.decode(errors='replace')}")
    return times


def main() -> None:
    compile_bytecode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--image", help="an image with sleep (default: the lab's)")
    parser.add_argument(
        "--counts", type=int, nargs="+", default=list(COUNTS), help="containers running"
    )
    args = parser.parse_args()

    import docker
    from labkit.hosts import lab_labels

    client = docker.from_env()
    image = args.image or lab_image(client)
    tag = secrets.token_hex(3)
    made: list[Any] = []
    pyhost = [sys.executable, "-m", "pyhost"]
    print(f"{'containers':>10} {'command':32} {'median ms':>10} {'min':>8} {'max':>8}")
    try:
        for count in args.counts:
            while len(made) < min(count, MAX_CONTAINERS):
                made.append(
                    client.containers.run(
                        image,
                        ["sleep", "600"],
                        name=f"bench-inspect-{tag}-{len(made)}",
                        detach=True,
                        labels=lab_labels(f"bench-{tag}"),
                    )
                )
            time.sleep(1)  # let the engine settle after the starts
            cases = {
                f"pyhost inspect {made[0].name[:8]}.. --json": [
                    *pyhost,
                    "inspect",
                    made[0].name,
                    "--json",
                ],
                "pyhost ps --json": [*pyhost, "ps", "--json"],
                f"docker inspect {made[0].name[:8]}..": ["docker", "inspect", made[0].name],
                "docker ps": ["docker", "ps"],
            }
            for name, argv in cases.items():
                measure(argv, 1)  # warm the page cache
                t = measure(argv, args.runs)
                print(
                    f"{len(made):>10} {name:32} {statistics.median(t):10.1f}"
                    f" {min(t):8.1f} {max(t):8.1f}"
                )
    finally:
        for container in made:
            container.remove(force=True)
        client.close()
    print(f"(n={args.runs} each; python {sys.version.split()[0]}; pid {os.getpid()})")


if __name__ == "__main__":
    main()
