"""`pyhost inspect NAME --json` against `docker inspect NAME` and a bare interpreter, and
`pyhost ps --json` against `docker ps`, with 1, 10 and 30 (up to 100) running containers.

Run as root with a dockerd running: `.venv/bin/python bench/inspect_bench.py [--runs N]`.
pyhost is measured as a user installs it (see run_bench.py): a fresh virtual environment
with `pip install .` (the development venv's editable finder adds ~30 ms to every start),
its `pyhost` console script, and `python -c pass` of that same interpreter. The commands
run interleaved, N times each, after one run each that warms the page cache and fills
pyhost's cache (the docker CLI's and the engine's versions, kept under keys that change
with them: pyhost/inspect/collect/cache.py) in a cache directory of the benchmark's own.
"pyhost inspect, no cache" gives every run an empty cache directory, as on a first run.
The containers run `sleep` from a local image (the lab's by default), carry the lab's labels
so that a killed run is cleaned up by the next test run, and are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import installed_venv, timed

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


def measure(
    cases: dict[str, list[str]], runs: int, env: dict[str, str], cold: set[str], work: Path
) -> dict[str, list[float]]:
    """The cases interleaved, ``runs`` times each; those in ``cold`` with an empty cache."""
    for argv in cases.values():  # warm the page cache, fill pyhost's cache
        timed(argv, env)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            run_env = env
            if name in cold:
                empty = work / "cold-cache"
                shutil.rmtree(empty, ignore_errors=True)
                run_env = dict(env, XDG_CACHE_HOME=str(empty))
            times[name].append(timed(argv, run_env))
    return times


def report(count: int, times: dict[str, list[float]]) -> None:
    for name, values in times.items():
        q = statistics.quantiles(values, n=10)
        print(f"{count:>10} {name:34} {statistics.median(values):10.1f} {q[0]:8.1f} {q[-1]:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=25)
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
    work = Path(tempfile.mkdtemp(prefix="pyhost-inspect-bench-"))
    os.chmod(work, 0o755)
    env = dict(os.environ, XDG_CACHE_HOME=str(work / "cache"))
    try:
        python, pyhost = installed_venv(work)
        print(f"{args.runs} runs each, interleaved; python = {python} (pip install ., fresh venv)")
        print(f"{'containers':>10} {'command':34} {'median ms':>10} {'p10':>8} {'p90':>8}")
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
            name = made[0].name
            inspect = {
                "python -c pass": [python, "-c", "pass"],
                "pyhost inspect NAME --json": [pyhost, "inspect", name, "--json"],
                "pyhost inspect NAME --json, no cache": [pyhost, "inspect", name, "--json"],
                "docker inspect NAME": ["docker", "inspect", name],
            }
            times = measure(inspect, args.runs, env, {"pyhost inspect NAME --json, no cache"}, work)
            report(len(made), times)
            ps = {"pyhost ps --json": [pyhost, "ps", "--json"], "docker ps": ["docker", "ps"]}
            report(len(made), measure(ps, max(5, args.runs // 5), env, set(), work))
            mine = statistics.median(times["pyhost inspect NAME --json"])
            docker_ms = statistics.median(times["docker inspect NAME"])
            bare = statistics.median(times["python -c pass"])
            print(
                f"{len(made):>10} pyhost inspect --json: {mine / docker_ms:.2f}x docker inspect "
                f"(target <= 2x), {mine / bare:.2f}x python -c pass"
            )
    finally:
        for container in made:
            container.remove(force=True)
        client.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"(python {sys.version.split()[0]}; pid {os.getpid()})")


if __name__ == "__main__":
    main()
